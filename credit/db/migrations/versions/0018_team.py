"""dispute_terms: a dispute's reason code, owner and due date

Collector rules and case priority weights are policy (no table); the case's collector is
collection_case.collector (0011).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispute_terms",
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=60), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["dispute.id"]),
        sa.PrimaryKeyConstraint("dispute_id"),
    )
    with op.batch_alter_table("dispute_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_terms_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_terms_due_on"), ["due_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dispute_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_terms_due_on"))
        batch_op.drop_index(batch_op.f("ix_dispute_terms_owner"))
    op.drop_table("dispute_terms")
