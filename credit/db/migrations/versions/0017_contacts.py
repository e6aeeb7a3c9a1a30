"""customer contacts: dunning contact and CC addresses

customer_contact: the people at a customer (name, role, e-mail, phone), at most one of them the
dunning contact (a partial unique index), any number on CC. notice_copy: the CC list of a
notice, fixed when it was queued, keyed by the notice's idempotency key.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DUNNING_SQL = sa.text("dunning = true")


def upgrade() -> None:
    op.create_table(
        "customer_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("dunning", sa.Boolean(), nullable=False),
        sa.Column("cc", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "email", name="uq_customer_contact_email"),
    )
    with op.batch_alter_table("customer_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_contact_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_customer_contact_dunning",
            ["customer_id"],
            unique=True,
            sqlite_where=DUNNING_SQL,
            postgresql_where=DUNNING_SQL,
        )
    op.create_table(
        "notice_copy",
        sa.Column("notice_key", sa.String(length=200), nullable=False),
        sa.Column("cc", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["notice_key"], ["notice.idempotency_key"]),
        sa.PrimaryKeyConstraint("notice_key"),
    )


def downgrade() -> None:
    op.drop_table("notice_copy")
    with op.batch_alter_table("customer_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_contact_dunning")
        batch_op.drop_index(batch_op.f("ix_customer_contact_customer_id"))
    op.drop_table("customer_contact")
