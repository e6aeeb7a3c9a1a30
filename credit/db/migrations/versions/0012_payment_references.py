"""payment_reference: the RF creditor references letters carry, and what each stands for

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_reference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rf", sa.String(length=25), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_ids", sa.JSON(), nullable=False),
        sa.Column("amount", credit.db.types.Money(precision=19, scale=4), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("notice_key", sa.String(length=200), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_key"),
    )
    with op.batch_alter_table("payment_reference", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_reference_rf"), ["rf"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_payment_reference_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("payment_reference")
