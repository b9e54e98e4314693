"""tasks remember the calendar data they were planned with

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: tasks planned before this revision have neither; `torchflow
    # replan` derives the day counted from and records both.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("calendar_digest", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("calendar_digest")
        batch_op.drop_column("planned_from")
