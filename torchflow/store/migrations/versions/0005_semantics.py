"""follow-up semantics: how each task ended (on time, late by n working days,
missed) and the stage budget a deadline had left when its state was put on hold;
open contacts whose notices were all out come back to the sweep, which rolls them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("late_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("budget_left", sa.Integer(), nullable=True))
    # Before this revision an open contact left the sweep once its overdue notice
    # was out, and sat open over every later slot. Due again now, the sweep sees
    # each one, records the slots it missed and plans the current one.
    op.execute(
        "UPDATE tasks SET next_notice_at = created_at "
        "WHERE status = 'open' AND kind = 'contact' AND next_notice_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("budget_left")
        batch_op.drop_column("late_by")
        batch_op.drop_column("outcome_kind")
