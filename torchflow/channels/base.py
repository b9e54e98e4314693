"""The channel interface and the message value every channel sends.

A channel delivers one message or raises DeliveryError with a one-line reason.
Delivery is at-least-once: a message may be sent again after a crash, always
with the same idempotency key, so receivers can drop duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from msgspec import Struct

from torchflow.errors import DeliveryError

if TYPE_CHECKING:
    from torchflow.config import Section, Settings
    from torchflow.i18n import Text


class Message(Struct, frozen=True):
    """One notice, ready to deliver."""

    idempotency_key: str
    kind: str  # upcoming | due | overdue | escalation | digest
    recipient: str  # person handle
    address: str  # e-mail for smtp, URL for webhook ("" = channel default), ignored by file
    subject: str
    body: str  # plain text
    payload: dict[str, Any]  # JSON-able details (case key, task id, due date...)
    # The ids on the platforms ({"wecom": ..., "mobile": ..., "feishu": ...}) of
    # whom a group robot @-mentions: the recipient, or everyone a folded
    # message is for. Read at send time, so an id set since is used.
    mentions: tuple[Mapping[str, str], ...] = ()

    def ids(self, kind: str) -> list[str]:
        """The ``kind`` ids of the people mentioned (those who have one)."""
        return [found for m in self.mentions if (found := m.get(kind, ""))]


@runtime_checkable
class Channel(Protocol):
    """A delivery channel, built from the settings by its ``ChannelType``."""

    name: str

    def send(self, message: Message) -> None:
        """Return on success; raise DeliveryError(one-line reason) on failure."""
        ...

    def close(self) -> None:
        """Release connections or handles; the channel may be used again after."""
        ...

    def problem(self, address: str) -> Text | None:
        """Why this channel, as configured, cannot send to ``address`` (no URL, no
        user id, no robot of that name), or None: such notices are held."""
        ...


class ChannelType(Protocol):
    """What the registry names: a channel class that owns its settings (the
    ``[notify.NAME]`` table), its address check, its body format and its success
    test. A new channel is one module with one of these and a registry line."""

    name: str
    # Whether a resend of one notice reaches the person once all the same: the
    # receiver drops it by key (webhook, SMTP Message-ID) or the platform does
    # (WeCom app's duplicate check). Robots have neither: a send cut short by a
    # crash is not repeated blindly (service/delivery/gate.py).
    dedup: bool

    def read_settings(self, section: Section, base: Path) -> Any:
        """The channel's settings from its [notify.NAME] table (its defaults when absent)."""
        ...

    def from_settings(self, settings: Settings) -> Channel:
        """The channel as configured; ConfigError when it cannot work at all."""
        ...

    def address_of(self, person: Any) -> str:
        """A person's address on this channel ("" = the channel's default)."""
        ...

    def address_problem(self, settings: Settings, address: str) -> Text | None:
        """Why ``address`` can never be used (checked when it is typed), or None."""
        ...


def read_plain(section: Section, kind: type[Any], rules: Mapping[str, Any]) -> Any:
    """A channel's settings record from a table of plain keys (``rules``)."""
    section.only(list(rules))
    return kind(**section.read(dict(rules)))


def message_record(message: Message) -> dict[str, Any]:
    """The JSON shape shared by the outbox file and the webhook body.

    The address is left out: it is routing, not content, and for webhooks it is
    the URL the receiver already knows.
    """
    return {
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "payload": message.payload,
    }


def message_json(message: Message) -> str:
    """Serialize deterministically (sorted keys, no timestamp) so a resend is byte-identical."""
    try:
        return json.dumps(
            message_record(message), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
    except (TypeError, ValueError) as exc:
        raise DeliveryError(
            f"notice {message.idempotency_key}: payload is not JSON-serializable ({exc})"
        ) from None

