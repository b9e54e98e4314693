"""the office's own data in the audit: people (with their logins, notice
settings and feed token), absences, personal access tokens and stored workflow
versions change only with an event in the office chain; the chain starts with
a snapshot of every row already there, so an upgraded office verifies

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from torchflow.service.audit import office

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "office_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("db_role", sa.String(length=64), nullable=True),
        sa.Column("auth", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                 "postgresql"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_office_events"),
        sa.UniqueConstraint("seq", name="uq_office_events_seq"),
    )
    op.create_index("ix_office_events_person_id", "office_events", ["person_id"])
    op.create_index("ix_office_events_subject", "office_events", ["subject", "subject_id"])
    head = op.create_table(
        "office_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("keyed_since", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_office_head"),
    )
    op.bulk_insert(head, [{"id": office.HEAD_ID, "seq": 0, "hash": "", "keyed_since": None,
                           "key_id": "", "mac": ""}])
    # The genesis: the rows as this upgrade found them, by the office writer itself
    # (keyed when TORCHFLOW_AUDIT_KEY is set for the upgrade, as the server's is).
    office.seed(op.get_bind(), datetime.now(UTC))


def downgrade() -> None:
    op.drop_table("office_head")
    op.drop_index("ix_office_events_subject", table_name="office_events")
    op.drop_index("ix_office_events_person_id", table_name="office_events")
    op.drop_table("office_events")
