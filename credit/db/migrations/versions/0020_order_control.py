"""order_release, order_exemption: order releases and order-check exemptions

A held order may be released once (an approval decision, subject ``order_release``); a customer
may be exempted from the order check until a date. Both start empty.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, credit.db.types.Money(precision=19, scale=4), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "order_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=80), nullable=False),
        _money("amount", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("base_amount", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("hold_reasons", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("used_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_release", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_release_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_release_order_ref"), ["order_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_release_status"), ["status"], unique=False)
    op.create_table(
        "order_exemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(length=60), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoked_by", sa.String(length=60), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_exemption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_exemption_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_exemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_exemption_customer_id"))
    op.drop_table("order_exemption")
    with op.batch_alter_table("order_release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_release_status"))
        batch_op.drop_index(batch_op.f("ix_order_release_order_ref"))
        batch_op.drop_index(batch_op.f("ix_order_release_customer_id"))
    op.drop_table("order_release")
