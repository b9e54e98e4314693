"""The tables of torchflow (see docs/architecture.md), as SQLAlchemy Core.

Core, not the ORM: every use case is a handful of explicit statements, and
leaving sqlalchemy.orm unimported keeps the CLI's start-up close to the floor.
Times are stored in UTC through ``UTCDateTime``, which refuses naive values:
SQLite's DateTime(timezone=True) would otherwise drop an offset without converting.
Days are ``Day`` (a Date). On SQLite both bind through one remembered function
with the dialect's own text, as bulk writes bind them a dozen times per row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OPEN = "open"
# SQLite's DATETIME storage format, the one UTCDateTime.bind_processor reproduces.
_SQLITE_DATETIME = ("%(year)04d-%(month)02d-%(day)02d "
                    "%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d")


@lru_cache(maxsize=4096)
def _sqlite_text(value: datetime) -> str:
    """An aware UTC datetime in SQLite's DATETIME format: isoformat's text, minus
    the "+00:00" it appends. Remembered: a bulk write binds the same few instants
    (now, the entry days) thousands of times. Keys are UTC only, where equal means
    the same instant (a local time's fold would not be told apart)."""
    return value.isoformat(" ", "microseconds")[:-6]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are a bug."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, ``process_bind_param`` and the dialect's DATETIME formatting
        in one function with the same text: a bulk write binds a dozen times per
        case, and the stock chain (a wrapper, a conversion, a ``%`` format of a
        seven-key dict) was a tenth of an import. Elsewhere the stock chain."""
        # self.impl_instance is the dialect's own type here: SQLite's DATETIME.
        if getattr(self.impl_instance, "_storage_format", None) != _SQLITE_DATETIME:
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not UTC:
                if value.tzinfo is None:
                    raise ValueError(f"naive datetime {value!r} given to a UTC column")
                value = value.astimezone(UTC)
            return _sqlite_text(value)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SQLITE_DATE = "%(year)04d-%(month)02d-%(day)02d"


@lru_cache(maxsize=4096)
def _sqlite_day(value: date) -> str:
    return value.isoformat()


class Day(TypeDecorator[date]):
    """A calendar day (Date). On SQLite its text is bound by one remembered
    ``isoformat`` instead of the dialect's ``%`` format of a three-key dict,
    with the same text: an import binds four days per task, the same few
    hundred days all along. Elsewhere, and for anything but a plain date (a
    datetime given is cut to its day by the dialect), the dialect's own."""

    impl = Date
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[date | None], Any] | None:
        stock = self.impl_instance.bind_processor(dialect)
        # self.impl_instance is the dialect's own type here: SQLite's DATE.
        if stock is None or getattr(self.impl_instance, "_storage_format", None) != _SQLITE_DATE:
            return stock

        def process(value: date | None) -> Any:
            if type(value) is date:
                return _sqlite_day(value)
            return stock(value)

        return process


class Document(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL. The dialect is imported only when a
    PostgreSQL engine asks, so SQLite users never load it."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


METADATA = MetaData(naming_convention=NAMING)

WORKFLOW_VERSIONS = Table(
    "workflow_versions", METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("registered_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name", "version"),
)

PEOPLE = Table(
    "people", METADATA,
    Column("id", Integer, primary_key=True),
    Column("handle", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("roles", Document(), nullable=False, default=list),
    Column("channel", String(16), nullable=True),
    Column("address", String(500), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # Migration 0008: the secret in the name of the person's calendar feed file.
    Column("feed_token", String(64), nullable=True),
    # Migration 0010: how the person is told (docs/people.md). notify: 'each' (or
    # NULL) or 'digest'; quiet hours as local 'HH:MM'; the channel notices go by
    # after ``fallback_after`` permanent SMTP failures (5xx) of one notice.
    Column("notify", String(8), nullable=True),
    Column("quiet_start", String(5), nullable=True),
    Column("quiet_end", String(5), nullable=True),
    Column("fallback_channel", String(16), nullable=True),
    Column("fallback_address", String(500), nullable=True),
    Column("fallback_after", Integer, nullable=True),
    # Migration 0013: the person's ids on the platforms ({"wecom": user id,
    # "mobile": for DingTalk's and WeCom's @, "feishu": open_id}).
    Column("platform_ids", Document(), nullable=True),
)

# Migration 0010: a person away from ``starts`` to ``ends`` (dates, inclusive),
# their notices and new work going to ``substitute_id``; ``person back`` sets
# ``ended_at`` (the days from the local day of ``ended_at`` on are no longer away).
ABSENCES = Table(
    "absences", METADATA,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("starts", Date, nullable=False),
    Column("ends", Date, nullable=False),
    Column("substitute_id", ForeignKey("people.id"), nullable=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Index("ix_absences_person_id_ends", "person_id", "ends"),
    Index("ix_absences_ends", "ends"),
)

# Migration 0009: the operating-system logins a person acts from (several allowed;
# a login belongs to one person). Who acts is read from the process's real uid.
PERSON_LOGINS = Table(
    "person_logins", METADATA,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("login", String(64), nullable=False),
    UniqueConstraint("login"),
)

# Last number handed out per key prefix and year (PI-2026-0001...).
KEY_SEQUENCES = Table(
    "key_sequences", METADATA,
    Column("prefix", String(8), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

CASES = Table(
    "cases", METADATA,
    Column("id", Integer, primary_key=True),
    Column("key", String(32), nullable=False, unique=True),
    Column("workflow", String(64), nullable=False),
    Column("workflow_version_id", ForeignKey("workflow_versions.id"), nullable=False),
    Column("state", String(64), nullable=False),
    Column("previous_state", String(64), nullable=True),
    Column("title", String(300), nullable=False),
    Column("owner_id", ForeignKey("people.id"), nullable=True),
    Column("fields", Document(), nullable=False, default=dict),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("state_entered_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    # Optimistic lock: every write to a case (and every event) bumps it.
    Column("version", Integer, nullable=False, default=1),
    # Head of the hash chain, so appending an event needs no read of the last one.
    Column("last_seq", Integer, nullable=False, default=0),
    Column("head_hash", String(64), nullable=False, default=""),
    # When its newest event happened: a write earlier than this is refused, so a
    # history stays in time order (checked from the row already read, no extra query).
    Column("last_event_at", UTCDateTime(), nullable=True),
    # Migration 0008: the reference of the spreadsheet row the case was imported
    # from; importing the same row again updates the case instead of doubling it.
    Column("external_ref", String(200), nullable=True),
    Index("ix_cases_workflow_state", "workflow", "state"),
    Index("ix_cases_workflow_external_ref", "workflow", "external_ref", unique=True),
    Index("ix_cases_owner_id", "owner_id"),
)

# Migration 0012: personal access tokens for the server's API. Only a SHA-256 of
# the secret is kept (the secret is shown once); ``last_used_at`` is refreshed at
# most once a minute.
ACCESS_TOKENS = Table(
    "access_tokens", METADATA,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("label", String(64), nullable=False, default=""),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(64), nullable=True),
    Index("ix_access_tokens_person_id", "person_id"),
)

# Migration 0015: one file per enterprise (一企一档, docs/enterprises.md). The name
# and the unified social credit code each name one enterprise; the code may be
# unknown yet. ``tags`` is a list of the office's words (高新技术企业, 专精特新).
ENTERPRISES = Table(
    "enterprises", METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("credit_code", String(18), nullable=True, unique=True),
    Column("district", String(100), nullable=False, default=""),
    Column("industry", String(100), nullable=False, default=""),
    Column("tags", Document(), nullable=False, default=list),
    Column("coordinator_id", ForeignKey("people.id"), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Migration 0015: the people at an enterprise the office calls.
ENTERPRISE_CONTACTS = Table(
    "enterprise_contacts", METADATA,
    Column("id", Integer, primary_key=True),
    Column("enterprise_id", ForeignKey("enterprises.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", String(100), nullable=False, default=""),
    Column("phone", String(30), nullable=False),
    UniqueConstraint("enterprise_id", "name"),
)

# Migration 0015: which enterprise a case's field names: set with an `enterprise`
# field, or by `enterprise link` for a text field typed before enterprises were
# records. The case's own history is untouched by a link.
CASE_ENTERPRISES = Table(
    "case_enterprises", METADATA,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("enterprise_id", ForeignKey("enterprises.id"), nullable=False),
    Column("linked_by", String(64), nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    Index("ix_case_enterprises_enterprise_id", "enterprise_id"),
)

# Append-only history, hash-chained per case.
EVENTS = Table(
    "case_events", METADATA,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("from_state", String(64), nullable=True),
    Column("to_state", String(64), nullable=True),
    Column("data", Document(), nullable=False, default=dict),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The event's place among all events of the database (1, 2, 3... with no gap):
    # a deleted event or a deleted case leaves a hole. See AUDIT_HEAD.
    Column("gseq", Integer, nullable=False),
    # How ``hash`` was made (domain/history.py): sha256, sha256-g or hmac-sha256-g.
    Column("scheme", String(16), nullable=False),
    # Migration 0009: the real person when an admin acted as ``actor`` (else NULL),
    # and the database role that wrote the row (PostgreSQL's current_user; NULL on
    # SQLite). Both are in the hash only when set, so older chains verify unchanged.
    Column("entered_by", String(64), nullable=True),
    Column("db_role", String(64), nullable=True),
    # Migration 0012: how the caller was authenticated (``os:LOGIN`` embedded,
    # ``peer:LOGIN`` on the server's socket, ``token:ID``, ``proxy:USER``); in the
    # hash only when set, as entered_by and db_role.
    Column("auth", String(100), nullable=True),
    UniqueConstraint("case_id", "seq"),
    UniqueConstraint("gseq"),
)

# One row (id 1): the database-wide head of the history. Every append bumps
# ``gseq`` in its own transaction, so the newest events cannot be removed
# without the count showing it; with the audit key the head is signed (``mac``)
# and ``key_id`` names the key, so a process with another key is refused.
AUDIT_HEAD = Table(
    "audit_head", METADATA,
    Column("id", Integer, primary_key=True),
    Column("gseq", Integer, nullable=False),
    Column("keyed_since", Integer, nullable=True),
    Column("key_id", String(16), nullable=False, default=""),
    Column("mac", String(64), nullable=False, default=""),
)

# Migration 0014: the office's own data in the audit. Every change of a person
# (with their logins, notice settings and feed token), an absence, a personal
# access token or a stored workflow version appends one event to one office
# chain (``seq`` 1..N), carrying the subject's whole audited row as it is after
# the change (``data``): `audit verify` replays the events into the rows they
# must leave behind and compares (service/audit/office.py, its one writer).
OFFICE_EVENTS = Table(
    "office_events", METADATA,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", String(16), nullable=False),
    Column("subject_id", Integer, nullable=False),
    Column("person_id", Integer, nullable=True),  # whose history it is (person show)
    Column("actor", String(64), nullable=False),
    Column("entered_by", String(64), nullable=True),
    Column("db_role", String(64), nullable=True),
    Column("auth", String(100), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("data", Document(), nullable=False, default=dict),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("scheme", String(16), nullable=False),
    UniqueConstraint("seq"),
    Index("ix_office_events_person_id", "person_id"),
    Index("ix_office_events_subject", "subject", "subject_id"),
)

# One row (id 1): the head of the office chain, as ``audit_head`` is the cases':
# its count and last hash, signed with the audit key from ``keyed_since`` on.
OFFICE_HEAD = Table(
    "office_head", METADATA,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False, default=""),
    Column("keyed_since", Integer, nullable=True),
    Column("key_id", String(16), nullable=False, default=""),
    Column("mac", String(64), nullable=False, default=""),
)

# The next occurrence of one follow-up rule of a case (rolling: one open per rule).
TASKS = Table(
    "tasks", METADATA,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("rule", String(140), nullable=False),
    Column("occurrence", Integer, nullable=False),
    Column("state", String(64), nullable=False),
    Column("due_on", Day(), nullable=False),
    Column("window_start", Day(), nullable=True),
    Column("window_end", Day(), nullable=True),
    Column("seed", String(64), nullable=True),
    Column("remind", Integer, nullable=False, default=0),
    Column("escalate_to", String(64), nullable=True),
    Column("assignee_id", ForeignKey("people.id"), nullable=True),
    Column("status", String(16), nullable=False, default=OPEN),
    Column("stage_done", Integer, nullable=False, default=0),
    Column("next_notice_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("outcome", Text, nullable=False, default=""),
    # Migration 0004: the day the task was counted from and the digest of the
    # calendar data it was planned with (torchflow replan).
    Column("planned_from", Day(), nullable=True),
    Column("calendar_digest", String(16), nullable=True),
    # How it ended, for compliance reports: on_time, late (by late_by working
    # days) or missed; none while open or when cancelled.
    Column("outcome_kind", String(16), nullable=True),
    Column("late_by", Integer, nullable=True),
    # A deadline cancelled on leaving its state: the working days of its budget
    # left then, which resuming the state (@previous) plans again.
    Column("budget_left", Integer, nullable=True),
    UniqueConstraint("case_id", "rule", "occurrence"),
    Index("ix_tasks_case_status", "case_id", "status"),
    Index("ix_tasks_assignee_status_due", "assignee_id", "status", "due_on"),
    # The sweep reads only what is due: a partial index over tasks with a notice
    # ahead keeps its cost independent of how many tasks exist. Migration 0001
    # makes it partial on PostgreSQL too; naming postgresql_where here would load
    # the whole PostgreSQL dialect on every SQLite start-up.
    Index(
        "ix_tasks_next_notice_at", "next_notice_at",
        sqlite_where=text("next_notice_at IS NOT NULL"),
    ),
)

# The notice ledger: one row per (task, occurrence, kind, recipient, channel).
NOTICES = Table(
    "notices", METADATA,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("task_id", ForeignKey("tasks.id"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("address", String(500), nullable=False, default=""),
    Column("subject", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", Document(), nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UTCDateTime(), nullable=False),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    # What a move or withdrawal asked of this notice while a sender held its lease:
    # "withdraw" or "move:<handle>", applied when the lease ends unsent.
    Column("deferred", String(80), nullable=True),
    # Wall clock: after a failed send, not before this instant (backoff measures
    # real time, like leases, so it runs on under a fixed TORCHFLOW_NOW).
    Column("retry_at", UTCDateTime(), nullable=True),
    # Migration 0010: why the notice went where and when it did (for X away,
    # folded, held until, re-routed from); whose notice it is when a substitute
    # receives it; for a folded one, the key of the digest it went into.
    Column("reason", String(300), nullable=True),
    Column("for_person", String(64), nullable=True),
    Column("folded_into", String(300), nullable=True),
    # Migration 0013: why the notice is held (its channel cannot be used as
    # configured; sent once that is mended); when a send to a platform that drops
    # no resend began (a crash in it is not repeated blindly); the parts of a
    # split notice already sent.
    Column("held", String(300), nullable=True),
    Column("send_started", UTCDateTime(), nullable=True),
    Column("parts_done", Integer, nullable=True),
    Index("ix_notices_status_not_before", "status", "not_before"),
    Index("ix_notices_task_id", "task_id"),
    Index("ix_notices_deferred", "deferred"),
    Index("ix_notices_recipient_status", "recipient", "status"),
    Index("ix_notices_for_person", "for_person"),
)

# Migration 0013: the rate budget of one robot or app member, shared by every
# scheduler node: a token bucket (tokens at updated_at, wall clock) changed only
# under its row lock; paused_until when the platform said it is throttling.
BUDGETS = Table(
    "channel_budgets", METADATA,
    Column("key", String(200), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("paused_until", UTCDateTime(), nullable=True),
)

# Marks the service keeps: when the last daily digests were made.
MARKS = Table(
    "scheduler_marks", METADATA,
    Column("name", String(64), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
)
