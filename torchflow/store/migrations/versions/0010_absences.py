"""absences with substitutes and how each person is told: the absences table,
people's notify mode, quiet hours and fallback channel, and the notice ledger's
reason, for_person and folded_into

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PEOPLE: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("notify", sa.String(length=8)), ("quiet_start", sa.String(length=5)),
    ("quiet_end", sa.String(length=5)), ("fallback_channel", sa.String(length=16)),
    ("fallback_address", sa.String(length=500)), ("fallback_after", sa.Integer()),
]
_NOTICES: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("reason", sa.String(length=300)), ("for_person", sa.String(length=64)),
    ("folded_into", sa.String(length=300)),
]


def upgrade() -> None:
    # Nullable ADD COLUMNs only: no copy of tables others refer to on SQLite.
    for name, type_ in _PEOPLE:
        op.add_column("people", sa.Column(name, type_, nullable=True))
    for name, type_ in _NOTICES:
        op.add_column("notices", sa.Column(name, type_, nullable=True))
    op.create_index("ix_notices_recipient_status", "notices", ["recipient", "status"])
    op.create_index("ix_notices_for_person", "notices", ["for_person"])
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("substitute_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"],
                                name="fk_absences_person_id_people"),
        sa.ForeignKeyConstraint(["substitute_id"], ["people.id"],
                                name="fk_absences_substitute_id_people"),
        sa.PrimaryKeyConstraint("id", name="pk_absences"),
    )
    op.create_index("ix_absences_person_id_ends", "absences", ["person_id", "ends"])
    op.create_index("ix_absences_ends", "absences", ["ends"])


def downgrade() -> None:
    op.drop_index("ix_absences_ends", table_name="absences")
    op.drop_index("ix_absences_person_id_ends", table_name="absences")
    op.drop_table("absences")
    op.drop_index("ix_notices_for_person", table_name="notices")
    op.drop_index("ix_notices_recipient_status", table_name="notices")
    for name, _ in reversed(_NOTICES):
        op.drop_column("notices", name)
    for name, _ in reversed(_PEOPLE):
        op.drop_column("people", name)
