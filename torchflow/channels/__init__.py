"""Delivery channels behind one small interface: file, smtp, webhook (and a stub for tests).

``CHANNEL_TYPES`` is the one registry: each channel class builds itself from the
settings (``from_settings``) and knows a person's address on it (``address_of``),
so a fourth channel is its own module plus one line here.
"""

from __future__ import annotations

from typing import Any, Protocol

from torchflow.channels.base import Channel, Message
from torchflow.channels.file import FileChannel
from torchflow.channels.smtp import SmtpChannel
from torchflow.channels.stub import StubChannel
from torchflow.channels.webhook import WebhookChannel, shown_url, verify_signature
from torchflow.config import Settings
from torchflow.errors import ConfigError


class ChannelType(Protocol):
    name: str

    def from_settings(self, settings: Settings) -> Channel: ...

    def address_of(self, person: Any) -> str: ...


CHANNEL_TYPES: dict[str, ChannelType] = {
    cls.name: cls for cls in (FileChannel, SmtpChannel, WebhookChannel)  # type: ignore[misc]
}


def channel_type(name: str) -> ChannelType:
    try:
        return CHANNEL_TYPES[name]
    except KeyError:
        raise ConfigError(
            f"unknown channel {name!r}; use one of {', '.join(CHANNEL_TYPES)}") from None


def build_channel(settings: Settings, name: str) -> Channel:
    return channel_type(name).from_settings(settings)


def shown_address(address: str) -> str:
    """An address as it may be shown: URLs with their tokens masked, e-mail as is."""
    return shown_url(address) if "://" in address else address


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelType",
    "FileChannel",
    "Message",
    "SmtpChannel",
    "StubChannel",
    "WebhookChannel",
    "build_channel",
    "channel_type",
    "shown_address",
    "verify_signature",
]
