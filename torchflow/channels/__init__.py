"""Delivery channels behind one small interface: file, smtp, webhook (and a stub for tests)."""

from torchflow.channels.base import Channel, Message
from torchflow.channels.file import FileChannel
from torchflow.channels.smtp import SmtpChannel
from torchflow.channels.stub import StubChannel
from torchflow.channels.webhook import WebhookChannel, verify_signature

__all__ = [
    "Channel",
    "FileChannel",
    "Message",
    "SmtpChannel",
    "StubChannel",
    "WebhookChannel",
    "verify_signature",
]
