"""the server's callers: personal access tokens (stored hashed), and on every
event how its caller was authenticated (``case_events.auth``)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable ADD COLUMN: no copy of case_events on SQLite, and older events
    # keep hashing as they did (auth is covered only when set).
    op.add_column("case_events", sa.Column("auth", sa.String(length=100), nullable=True))
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"],
                                name="fk_access_tokens_person_id_people"),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_access_tokens_secret_hash"),
    )
    op.create_index("ix_access_tokens_person_id", "access_tokens", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_access_tokens_person_id", table_name="access_tokens")
    op.drop_table("access_tokens")
    op.drop_column("case_events", "auth")
