"""The problems of one workflow file, collected rather than raised so that all of
them are reported at once, each as ``<path>: <key>: <message>``; and the typed
readers of TOML values that record a problem and fall back to a harmless
default, so that later checks still run and report their own problems."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

IDENT = re.compile(r"[a-z][a-z0-9_]*\Z")

# What a missing required key looks like when written, for the "missing" message.
EXAMPLES = {
    "name": 'name = "project_introduction"',
    "title": 'title = "项目引进"',
    "version": "version = 1",
    "key_prefix": 'key_prefix = "PI"',
    "states": "a [states.<name>] table",
    "type": 'type = "text"',
    "value": 'value = "new energy"',
    "trigger": 'trigger = "sign"',
    "source": 'source = "negotiation"',
    "dest": 'dest = "signed"',
    "every": 'every = "5 workdays"',
    "remind": 'remind = "1 workday"',
    "min_gap": 'min_gap = "2 weeks"',
    "max_gap": 'max_gap = "6 weeks"',
    "within": 'within = "20 workdays"',
    "escalate_to": 'escalate_to = "director"',
    "after": 'after = "3 years"',
    "on": 'on = "05-31"',
}


def suggest(word: str, options: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the closest of ``options``, or ""."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def type_name(value: object) -> str:
    """The TOML name of a value's type, for "wants X, got Y"."""
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


class Report:
    """Collects problems as "<path>: <key>: <message>" so all are reported at once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")

    def check_keys(
        self,
        key: str,
        table: Mapping[str, Any],
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
    ) -> None:
        """Unknown keys (a typo guard) and missing required ones of ``table``."""
        prefix = f"{key}." if key else ""
        for name in table:
            if name not in allowed:
                self.add(
                    f"{prefix}{name}",
                    f"unknown key '{name}'{suggest(name, allowed)}; "
                    f"expected one of: {', '.join(allowed)}",
                )
        for name in required:
            if name not in table:
                self.add(f"{prefix}{name}", f"missing; required, e.g. {EXAMPLES[name]}")

    # -- typed readers: each records a problem and returns a default when wrong --------

    def string(self, table: Mapping[str, Any], name: str, key: str, default: str = "") -> str:
        value = table.get(name, default)
        if not isinstance(value, str):
            self.add(key, f"wants a string, got {type_name(value)}")
            return default
        return value

    def title(self, table: Mapping[str, Any], key: str, default: str = "") -> str:
        value = self.string(table, "title", key, default)
        if "title" in table and isinstance(table["title"], str) and not value.strip():
            self.add(key, "must not be empty")
        return value

    def boolean(self, table: Mapping[str, Any], name: str, key: str) -> bool:
        value = table.get(name, False)
        if not isinstance(value, bool):
            self.add(key, f"wants true or false, got {type_name(value)}")
            return False
        return value

    def ident(self, table: Mapping[str, Any], name: str, key: str, what: str) -> str:
        value = self.string(table, name, key)
        if isinstance(table.get(name), str) and not IDENT.match(value):
            self.add(
                key,
                f"bad {what} {value!r}; use lowercase letters, digits and '_', "
                "starting with a letter",
            )
        return value

    def names(
        self, table: Mapping[str, Any], name: str, key: str, scalar_ok: bool = False
    ) -> tuple[str, ...]:
        """A list of unique non-empty strings (or one string when scalar_ok)."""
        value = table.get(name, [])
        if scalar_ok and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            wanted = "an array of non-empty strings"
            wanted = f"a string or {wanted}" if scalar_ok else wanted
            self.add(key, f"wants {wanted}, got {value!r}")
            return ()
        for dup in sorted({v for v in value if value.count(v) > 1}):
            self.add(key, f"'{dup}' is listed twice")
        return tuple(dict.fromkeys(value))

    def aliases(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        """``aliases = ["在谈", "洽谈中"]``: other words the office types for a thing."""
        if "aliases" not in table:
            return ()
        words = self.names(table, "aliases", key)
        for word in words:
            if word != word.strip() or any(ord(c) < 32 for c in word):
                self.add(key, f"alias {word!r} has spaces at its ends or control characters")
        return words

    def tables(self, doc: Mapping[str, Any], name: str) -> dict[str, Any]:
        """The ``[name.<key>]`` tables of the document, {} when absent or wrong."""
        value = doc.get(name, {})
        if not isinstance(value, dict):
            got = type_name(value)
            self.add(name, f"wants a table of [{name}.<name>] tables, got {got}")
            return {}
        return value
