"""channels: the rate budgets every scheduler node shares (a token bucket per
robot and per app member), people's ids on the platforms, and on the notice
ledger why a notice is held (its channel cannot be used as configured), when a
send to a platform without duplicate check began, and how many parts of a
split notice were sent

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NOTICES: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("held", sa.String(length=300)), ("send_started", sa.DateTime(timezone=True)),
    ("parts_done", sa.Integer()),
]


def upgrade() -> None:
    # Nullable ADD COLUMNs only: no copy of tables others refer to on SQLite.
    for name, type_ in _NOTICES:
        op.add_column("notices", sa.Column(name, type_, nullable=True))
    op.add_column("people", sa.Column(
        "platform_ids",
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=True))
    op.create_table(
        "channel_budgets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_channel_budgets"),
    )


def downgrade() -> None:
    op.drop_table("channel_budgets")
    op.drop_column("people", "platform_ids")
    for name, _ in reversed(_NOTICES):
        op.drop_column("notices", name)
