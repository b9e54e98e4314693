"""The database-wide audit head, shared by every chain's writer (the cases',
the office's): the key they are hashed with, taking the head first (the lock
order every writer keeps), and who the caller is as the connection says. Light
on purpose: the read side (people.lookup) takes the head without loading any
writer."""

from __future__ import annotations

import os

from sqlalchemy import Connection

from torchflow.errors import ConfigError
from torchflow.i18n import _
from torchflow.store.db import AUTH_INFO

ENV_AUDIT_KEY = "TORCHFLOW_AUDIT_KEY"
MIN_KEY_LENGTH = 16
HEAD_ID = 1


def audit_key() -> bytes | None:
    """TORCHFLOW_AUDIT_KEY, read from the environment only (it is a secret: never
    in config.toml, never stored). None when unset."""
    text = os.environ.get(ENV_AUDIT_KEY, "")
    if not text:
        return None
    if len(text) < MIN_KEY_LENGTH:
        raise ConfigError(
            _("{env_audit_key} is too short ({length} characters); use at least {min_key_length} "
              "random ones, e.g. from `openssl rand -hex 32`",
              env_audit_key=ENV_AUDIT_KEY, length=len(text), min_key_length=MIN_KEY_LENGTH)
        )
    return text.encode("utf-8")


def lock_head(session: Connection) -> None:
    """Take the database-wide audit head first, as ``append_event`` does, for a
    writer that must lock case or task rows before it appends (the sweep): every
    writer then takes the head before any other row, so none waits in a cycle.
    SQLite's BEGIN IMMEDIATE holds the whole database already."""
    if session.dialect.name == "postgresql":
        session.exec_driver_sql(f"SELECT gseq FROM audit_head WHERE id = {HEAD_ID} FOR UPDATE")


def caller_auth(session: Connection) -> str | None:
    """How the caller of this transaction was authenticated, as its edge stamped
    it on the connection (``Database.stamped``); None for the scheduler and tests."""
    return session.info.get(AUTH_INFO)


def db_role(session: Connection) -> str | None:
    """PostgreSQL's ``current_user`` (who the database says is writing), read once
    per pooled connection; None on SQLite, which has no logins."""
    if session.dialect.name != "postgresql":
        return None
    info = session.info
    if "db_role" not in info:
        info["db_role"] = session.exec_driver_sql("SELECT current_user").scalar_one()
    return str(info["db_role"])
