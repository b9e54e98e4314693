"""StubChannel: an in-memory channel for unit tests of dispatch."""

from __future__ import annotations

import threading

from torchflow.channels.base import Message
from torchflow.errors import DeliveryError
from torchflow.i18n import Text


class StubChannel:
    """Records what it sends; fails the first ``fail_times`` sends on purpose."""

    def __init__(self, fail_times: int = 0, name: str = "stub") -> None:
        self.name = name
        self.fail_times = fail_times
        self.sent: list[Message] = []
        self.attempts = 0  # every call to send, failed or not
        self.closed = False
        self._lock = threading.Lock()  # dispatch tests may send from several threads

    @staticmethod
    def address_of(person: object) -> str:
        return ""

    def send(self, message: Message) -> None:
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.fail_times:
                raise DeliveryError(
                    f"stub failure {self.attempts} of {self.fail_times} "
                    f"for {message.idempotency_key}"
                )
            self.sent.append(message)

    def problem(self, address: str) -> Text | None:
        return None

    def close(self) -> None:
        self.closed = True
