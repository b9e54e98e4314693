"""Delivery channels behind one small interface: file, smtp, webhook (and a stub for tests).

``CHANNEL_TYPES`` is the one registry: each channel class builds itself from the
settings (``from_settings``) and knows a person's address on it (``address_of``),
so a fourth channel is its own module plus one line here. The registry names
modules instead of importing them, so the CLI can offer the channel names
without loading smtplib and http.client on every command.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

from torchflow.errors import ConfigError

if TYPE_CHECKING:
    from torchflow.channels.base import Channel, Message
    from torchflow.channels.file import FileChannel
    from torchflow.channels.smtp import SmtpChannel
    from torchflow.channels.stub import StubChannel
    from torchflow.channels.webhook import WebhookChannel, verify_signature
    from torchflow.config import Settings

CHANNEL_TYPES: dict[str, str] = {
    "file": "torchflow.channels.file:FileChannel",
    "smtp": "torchflow.channels.smtp:SmtpChannel",
    "webhook": "torchflow.channels.webhook:WebhookChannel",
}


class ChannelType(Protocol):
    """What the registry holds: a channel class."""

    name: str

    def from_settings(self, settings: Settings) -> Channel: ...

    def address_of(self, person: Any) -> str: ...


def channel_type(name: str) -> ChannelType:
    if name not in CHANNEL_TYPES:
        raise ConfigError(
            f"unknown channel {name!r}; use one of {', '.join(CHANNEL_TYPES)}")
    module, _, cls = CHANNEL_TYPES[name].partition(":")
    found: ChannelType = getattr(import_module(module), cls)
    return found


def build_channel(settings: Settings, name: str) -> Channel:
    return channel_type(name).from_settings(settings)


def shown_address(address: str) -> str:
    """An address as it may be shown: URLs with their tokens masked, e-mail as is."""
    if "://" not in address:
        return address
    from torchflow.channels.webhook import shown_url

    return shown_url(address)


_EXPORTS = {
    "Channel": "base", "Message": "base", "FileChannel": "file", "SmtpChannel": "smtp",
    "StubChannel": "stub", "WebhookChannel": "webhook", "verify_signature": "webhook",
}


def __getattr__(name: str) -> Any:
    # The classes load on first use (PEP 562), not with the package.
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"torchflow.channels.{_EXPORTS[name]}"), name)


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
