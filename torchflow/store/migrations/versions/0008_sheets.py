"""spreadsheets and calendar feeds: a case's external reference (the row of the
office's spreadsheet it came from, unique per workflow) and a person's secret
calendar-feed token

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index: a batch (copy) of cases on SQLite would
    # drop a table the events and tasks refer to.
    op.add_column("cases", sa.Column("external_ref", sa.String(length=200), nullable=True))
    op.create_index("ix_cases_workflow_external_ref", "cases", ["workflow", "external_ref"],
                    unique=True)
    op.add_column("people", sa.Column("feed_token", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no copy of tables others refer to.
    op.drop_column("people", "feed_token")
    op.drop_index("ix_cases_workflow_external_ref", table_name="cases")
    op.drop_column("cases", "external_ref")
