"""SmtpChannel: e-mail over SMTP with one connection reused across sends.

smtplib and the e-mail policy are imported when the first mail is built or
sent, not with the module: the configuration reads this module's settings on
every command, and the CLI's start-up should not pay for them.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from torchflow.channels.base import Message, read_plain
from torchflow.channels.ids import EMAIL
from torchflow.clock import utcnow
from torchflow.config import Rule, Section, Settings
from torchflow.domain.ics import CALENDAR_KINDS, task_event_document
from torchflow.errors import ConfigError, DeliveryError
from torchflow.i18n import Text, _

if TYPE_CHECKING:
    import smtplib

SECURITY_MODES = ("none", "starttls", "ssl")
IDEMPOTENCY_HEADER = "X-Torchflow-Idempotency-Key"


class SmtpSettings(Struct, frozen=True):
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password_env: str = "TORCHFLOW_SMTP_PASSWORD"
    sender: str = "torchflow@localhost"
    # The name mail is from (张三 <addr> style); empty: the office's [office] name.
    sender_name: str = ""
    timeout_seconds: float = 10.0


SMTP_RULES: dict[str, Rule] = {
    "host": ("text", 1, 255), "port": ("count", 1, 65_535), "security": ("text", 1, 20),
    "username": ("text", 0, 255), "password_env": ("text", 1, 255),
    "sender": ("text", 1, 320), "sender_name": ("text", 0, 100),
    "timeout_seconds": ("seconds", 0.1, 3600),
}


def _policy() -> Any:
    # 7bit transfer encoding (base64 for non-ASCII text): any server takes it,
    # 8BITMIME or not. The SMTP policy puts text in canonical CRLF form before
    # encoding (RFC 2045). Imported here: see the module's docstring.
    from email.policy import SMTP

    return SMTP.clone(cte_type="7bit")


def message_id(idempotency_key: str) -> str:
    """A Message-ID fixed by the key, so a resend is recognisable as the same mail."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@torchflow>"


def from_header(sender: str, name: str = "") -> str:
    """The From header: ``sender`` with the display ``name`` (encoded as RFC 2047
    wants when it is Chinese), or ``sender`` as written when it names itself."""
    from email.utils import formataddr  # see the module's docstring

    if not name or "<" in sender:
        return sender
    return formataddr((" ".join(name.split()), sender), charset="utf-8")


def build_email(message: Message, sender: str, sender_name: str = "") -> EmailMessage:
    mail = EmailMessage(policy=_policy())
    mail["From"] = from_header(sender, sender_name)
    mail["To"] = message.address
    # Header values may not span lines; a title typed with a newline must not break sending.
    mail["Subject"] = " ".join(message.subject.split())
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = message_id(message.idempotency_key)
    mail[IDEMPOTENCY_HEADER] = message.idempotency_key
    mail.set_content(message.body, charset="utf-8")
    event = calendar_attachment(message)
    if event is not None:
        # As text with its charset: a parser applying the MIME default (US-ASCII)
        # would garble the Chinese of an attachment without one.
        mail.add_attachment(event.decode("utf-8"), subtype="calendar", charset="utf-8",
                            filename=f"{message.payload.get('case', 'task')}.ics",
                            params={"method": "PUBLISH"})
    if isinstance(message.payload.get("html"), str):  # the monthly report, attached
        mail.add_attachment(message.payload["html"], subtype="html", charset="utf-8",
                            filename=str(message.payload.get("filename", "report.html")))
    return mail


def calendar_attachment(message: Message) -> bytes | None:
    """A visit's or deadline's notice carries its event (all-day on the due day, the
    task's UID, as in the calendar feeds): one click puts it in the calendar."""
    p = message.payload
    if p.get("task_kind") not in CALENDAR_KINDS or not p.get("due_on") or p.get("task") is None:
        return None
    try:
        due_on = date.fromisoformat(str(p["due_on"]))
    except ValueError:
        return None
    summary = " ".join(message.subject.split())  # in the office's language, as the mail's
    return task_event_document(task_id=int(p["task"]), due_on=due_on, summary=summary,
                               description=message.body, now=utcnow())


class SmtpChannel:
    """Send each message as one e-mail to ``message.address``."""

    name = "smtp"
    dedup = True  # the Message-ID is fixed by the key: a resend is recognisable

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "none",
        username: str = "",
        password: str = "",
        sender: str = "torchflow@localhost",
        timeout: float = 10.0,
        sender_name: str = "",
    ) -> None:
        if security not in SECURITY_MODES:
            raise ConfigError(
                f"[notify.smtp] security = {security!r} is not allowed; "
                f"use one of: {', '.join(SECURITY_MODES)}"
            )
        if not host:
            raise ConfigError("[notify.smtp] host is empty; set the SMTP server's host name")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.sender, self.timeout, self.sender_name = sender, timeout, sender_name
        self._conn: smtplib.SMTP | None = None

    @staticmethod
    def read_settings(section: Section, base: Path) -> SmtpSettings:
        smtp: SmtpSettings = read_plain(section, SmtpSettings, SMTP_RULES)
        if smtp.security not in SECURITY_MODES:
            raise section.fail("security", "one of " + ", ".join(SECURITY_MODES))
        return smtp

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpChannel:
        smtp = settings.notify.of(cls.name, SmtpSettings)
        return cls(smtp.host, smtp.port, security=smtp.security, username=smtp.username,
                   password=os.environ.get(smtp.password_env, ""), sender=smtp.sender,
                   timeout=smtp.timeout_seconds,
                   sender_name=smtp.sender_name or settings.office.name)

    @staticmethod
    def address_of(person: Any) -> str:
        return str(person.email or "")

    @staticmethod
    def address_problem(settings: Settings, address: str) -> Text | None:
        if EMAIL.fullmatch(address):
            return None
        return _("{address} is not an e-mail address; e.g. wang.li@example.gov.cn",
                 address=repr(address))

    def problem(self, address: str) -> Text | None:
        if not address:
            return _("the smtp channel needs an e-mail address; add --email "
                     "(e.g. wang.li@example.gov.cn) or pick another --channel")
        return None

    def send(self, message: Message) -> None:
        import smtplib  # see the module's docstring

        if not message.address:
            raise DeliveryError(f"no e-mail address for {message.recipient!r}")
        try:
            mail = build_email(message, self.sender, self.sender_name)
        except ValueError as exc:  # e.g. a line break inside the address
            raise DeliveryError(f"cannot build e-mail to {message.address!r}: {exc}") from None
        reused = self._conn is not None
        try:
            self._deliver(mail)
        except smtplib.SMTPException as exc:
            if not (reused and _is_dropped(exc)):
                raise self._failure(exc, message) from None
            # The server closed an idle connection: open a fresh one, once.
            self._drop()
            try:
                self._deliver(mail)
            except OSError as again:  # SMTPException is an OSError too
                raise self._failure(again, message) from None
        except OSError as exc:
            raise self._failure(exc, message) from None

    def close(self) -> None:
        import smtplib  # see the module's docstring

        if self._conn is None:
            return
        try:
            self._conn.quit()
        except (smtplib.SMTPException, OSError):
            pass  # closing anyway; a failed QUIT loses nothing
        finally:
            self._drop()

    def _deliver(self, mail: EmailMessage) -> None:
        if self._conn is None:
            self._conn = self._connect()
        self._conn.send_message(mail)

    def _connect(self) -> smtplib.SMTP:
        import smtplib  # see the module's docstring
        import ssl

        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
            if self.username:
                conn.login(self.username, self.password)
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def _failure(self, exc: BaseException, message: Message) -> DeliveryError:
        import smtplib  # see the module's docstring

        # SMTPRecipientsRefused leaves the session usable; anything else may not.
        if not isinstance(exc, smtplib.SMTPRecipientsRefused):
            self._drop()
        return DeliveryError(f"smtp {self.host}:{self.port}: {_reason(exc, message)}",
                             permanent=bounced(exc))


def bounced(exc: BaseException) -> bool:
    """True when the server refused the recipient or the mail for good (5xx):
    trying the same address again will not help. A login or sender refusal is
    the office's configuration, not the person's address, and does not count."""
    import smtplib  # see the module's docstring

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _is_dropped(exc: smtplib.SMTPException) -> bool:
    """True when the error means the server closed the connection (421 or EOF)."""
    import smtplib  # see the module's docstring

    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return False


def _reason(exc: BaseException, message: Message) -> str:
    import smtplib  # see the module's docstring

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return f"recipient {message.address} refused: {code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"login refused ({exc.smtp_code} {_text(exc.smtp_error)}); "
            "check the SMTP username and password"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())  # one line, whatever the server sent
