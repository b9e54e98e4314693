"""Addresses as they may be shown: webhook URLs often carry a token (in the
query, ``user:password@`` or a long path segment), and what is shown is stored
in errors and printed by `person list`."""

from __future__ import annotations

from urllib.parse import urlsplit


def shown_address(address: str) -> str:
    """An address as it may be shown: URLs with their tokens masked, others as they are."""
    return shown_url(address) if "://" in address else address


def shown_url(url: str) -> str:
    """``url`` with what may be a secret masked: userinfo, the query, the fragment
    and long path segments (webhook URLs often carry a token in one of them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    host = parts.netloc.rpartition("@")[2]
    userinfo = "***@" if "@" in parts.netloc else ""
    path = "/".join(_segment(seg) for seg in parts.path.split("/"))
    query = "?***" if parts.query else ""
    fragment = "#***" if parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{host}{path}{query}{fragment}"


TOKEN_LENGTH = 16  # a path segment this long is treated as a token


def _segment(segment: str) -> str:
    return segment if len(segment) < TOKEN_LENGTH else segment[:3] + "***"
