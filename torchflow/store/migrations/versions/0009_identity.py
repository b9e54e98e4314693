"""identity: the operating-system logins that map to a person, and on each event
who really entered it (``entered_by``, when an admin acted as someone else) and
the database role of the connection that wrote it (PostgreSQL only)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_logins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("login"),
    )
    op.create_index("ix_person_logins_person_id", "person_logins", ["person_id"])
    # Plain ADD COLUMN: a batch copy of case_events on SQLite is not needed for
    # nullable columns, and old events keep NULL (their hashes do not cover them).
    op.add_column("case_events", sa.Column("entered_by", sa.String(length=64), nullable=True))
    op.add_column("case_events", sa.Column("db_role", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("case_events", "db_role")
    op.drop_column("case_events", "entered_by")
    op.drop_index("ix_person_logins_person_id", table_name="person_logins")
    op.drop_table("person_logins")
