"""dunning profiles, courtesy reminders, minimum amounts per level

customer_dunning_profile: a customer's assigned dunning profile and segment (a side table of
customer); courtesy_reminder: the invoices a courtesy reminder went out for (once each). The
profiles themselves and the minimum amounts per level are in the policy document.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_dunning_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=40), nullable=True),
        sa.Column("segment", sa.String(length=40), nullable=True),
        sa.Column("set_by", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id"),
    )
    op.create_table(
        "courtesy_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_number", sa.String(length=60), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("profile", sa.String(length=40), nullable=False),
        sa.Column("notice_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "invoice_number", "due_date"),
    )
    with op.batch_alter_table("courtesy_reminder", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_courtesy_reminder_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("courtesy_reminder")
    op.drop_table("customer_dunning_profile")
