"""The channel interface and the message value every channel sends.

A channel delivers one message or raises DeliveryError with a one-line reason.
Delivery is at-least-once: a message may be sent again after a crash, always
with the same idempotency key, so receivers can drop duplicates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from torchflow.errors import DeliveryError


@dataclass(frozen=True)
class Message:
    """One notice, ready to deliver."""

    idempotency_key: str
    kind: str  # upcoming | due | overdue | escalation | digest
    recipient: str  # person handle
    address: str  # e-mail for smtp, URL for webhook ("" = channel default), ignored by file
    subject: str
    body: str  # plain text
    payload: dict[str, Any]  # JSON-able details (case key, task id, due date...)


@runtime_checkable
class Channel(Protocol):
    """A delivery channel: "file" | "smtp" | "webhook" | "stub"."""

    name: str

    def send(self, message: Message) -> None:
        """Return on success; raise DeliveryError(one-line reason) on failure."""
        ...

    def close(self) -> None:
        """Release connections or handles; the channel may be used again after."""
        ...


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
