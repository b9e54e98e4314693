"""audit: a database-wide sequence and head, hash schemes, the time of a case's last event

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Existing events get ``gseq`` in the order they were written (their id) and the
``sha256`` scheme they were hashed with; each case gets the time of its newest
event; the head row counts them all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EVENTS = sa.table("case_events", sa.column("id", sa.Integer), sa.column("gseq", sa.Integer))


def upgrade() -> None:
    op.add_column("cases", sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("case_events", sa.Column("gseq", sa.Integer(), nullable=True))
    # The scheme every event before this revision was hashed with.
    op.add_column("case_events", sa.Column("scheme", sa.String(length=16), nullable=False,
                                           server_default="sha256"))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gseq", sa.Integer(), nullable=False),
        sa.Column("keyed_since", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    count = _number_events()
    op.execute(
        "UPDATE cases SET last_event_at = "
        "(SELECT MAX(e.at) FROM case_events e WHERE e.case_id = cases.id)"
    )
    op.execute(sa.text(
        "INSERT INTO audit_head (id, gseq, keyed_since, key_id, mac) VALUES (1, :n, NULL, '', '')"
    ).bindparams(n=count))
    with op.batch_alter_table("case_events") as batch:
        batch.alter_column("gseq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("scheme", existing_type=sa.String(length=16), server_default=None)
        batch.create_unique_constraint(op.f("uq_case_events_gseq"), ["gseq"])


def _number_events() -> int:
    """gseq = 1..N in the order the events were written; returns N."""
    conn = op.get_bind()
    ids = list(conn.execute(sa.select(EVENTS.c.id).order_by(EVENTS.c.id)).scalars())
    if ids:
        conn.execute(
            EVENTS.update().where(EVENTS.c.id == sa.bindparam("event_id"))
            .values(gseq=sa.bindparam("number")),
            [{"event_id": i, "number": n} for n, i in enumerate(ids, start=1)],
        )
    return len(ids)


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("case_events") as batch:
        batch.drop_constraint(op.f("uq_case_events_gseq"), type_="unique")
        batch.drop_column("scheme")
        batch.drop_column("gseq")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("last_event_at")
