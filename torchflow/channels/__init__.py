"""Delivery channels behind one small interface (``base.Channel``), one module each.

``CHANNEL_TYPES`` is the one registry: each channel class owns its settings (its
``[notify.NAME]`` table), its address check, its body format and its success
test, so a new channel is its own module plus one line here. The registry names
modules instead of importing them, so the CLI can offer the channel names
without loading them; each module keeps its heavy imports (http.client,
smtplib) to the moment it sends.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from torchflow.channels.masking import shown_address
from torchflow.errors import ConfigError
from torchflow.i18n import Listing, _

if TYPE_CHECKING:
    from torchflow.channels.base import Channel, ChannelType, Message
    from torchflow.channels.file import FileChannel
    from torchflow.channels.smtp import SmtpChannel
    from torchflow.channels.stub import StubChannel
    from torchflow.channels.webhook import WebhookChannel, verify_signature
    from torchflow.config import Settings
    from torchflow.i18n import Text

CHANNEL_TYPES: dict[str, str] = {
    "file": "torchflow.channels.file:FileChannel",
    "smtp": "torchflow.channels.smtp:SmtpChannel",
    "webhook": "torchflow.channels.webhook:WebhookChannel",
    "wecom_robot": "torchflow.channels.wecom_robot:WecomRobot",
    "wecom_app": "torchflow.channels.wecom_app:WecomApp",
    "dingtalk_robot": "torchflow.channels.dingtalk_robot:DingtalkRobot",
    "feishu_robot": "torchflow.channels.feishu_robot:FeishuRobot",
}


def channel_type(name: str) -> ChannelType:
    if name not in CHANNEL_TYPES:
        raise ConfigError(
            _("unknown channel {name!r}; use one of {choices}",
              name=name, choices=Listing(CHANNEL_TYPES)))
    module, _colon, cls = CHANNEL_TYPES[name].partition(":")
    found: ChannelType = getattr(import_module(module), cls)
    return found


def build_channel(settings: Settings, name: str) -> Channel:
    return channel_type(name).from_settings(settings)


def unusable(settings: Settings, name: str, address: str) -> Text | str | None:
    """Why a notice by channel ``name`` to ``address`` cannot be sent with this
    configuration and environment (asked when a person's channel is set), or None."""
    kind = channel_type(name)
    problem = kind.address_problem(settings, address) if address else None
    if problem is not None:
        return problem
    try:
        channel = kind.from_settings(settings)
    except ConfigError as exc:
        return exc.text
    try:
        return channel.problem(address)
    finally:
        channel.close()


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
    "unusable",
    "verify_signature",
]
