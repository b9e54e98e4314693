"""enterprises: one file per enterprise (一企一档), its contacts, and which
enterprise a case's field names

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("industry", sa.String(length=100), nullable=False),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                 "postgresql"), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["coordinator_id"], ["people.id"],
                                name="fk_enterprises_coordinator_id_people"),
        sa.PrimaryKeyConstraint("id", name="pk_enterprises"),
        sa.UniqueConstraint("name", name="uq_enterprises_name"),
        sa.UniqueConstraint("credit_code", name="uq_enterprises_credit_code"),
    )
    op.create_table(
        "enterprise_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_enterprise_contacts_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_enterprise_contacts"),
        sa.UniqueConstraint("enterprise_id", "name",
                            name="uq_enterprise_contacts_enterprise_id_name"),
    )
    op.create_table(
        "case_enterprises",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name="fk_case_enterprises_case_id_cases"),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_case_enterprises_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("case_id", "field", name="pk_case_enterprises"),
    )
    op.create_index("ix_case_enterprises_enterprise_id", "case_enterprises", ["enterprise_id"])


def downgrade() -> None:
    op.drop_index("ix_case_enterprises_enterprise_id", table_name="case_enterprises")
    op.drop_table("case_enterprises")
    op.drop_table("enterprise_contacts")
    op.drop_table("enterprises")
