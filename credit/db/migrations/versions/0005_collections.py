"""collections: disputes, promises, worklist, orders, charges, channels

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.String(length=60), nullable=True),
        sa.Column("closed_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "currency", "episode", "reason", "level"),
    )
    with op.batch_alter_table("collection_case", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_case_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_collection_case_status"), ["status"], unique=False)

    op.create_table(
        "collection_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("logged_by", sa.String(length=60), nullable=False),
        sa.Column("logged_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("collection_note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_note_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "payment_promise",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", credit.db.types.Money(precision=19, scale=4), nullable=False),
        sa.Column("promised_for", sa.Date(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=60), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("paid", credit.db.types.Money(precision=19, scale=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_promise", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_promise_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_promise_status"), ["status"], unique=False)

    op.create_table(
        "sales_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("amount", credit.db.types.Money(precision=19, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_order_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sales_order_number"), ["number"], unique=True)

    op.create_table(
        "dispute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=60), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("resolved_by", sa.String(length=60), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_invoice_id"), ["invoice_id"], unique=False)

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))

    with op.batch_alter_table("dunning_action", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), nullable=False, server_default="email")
        )
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))

    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="invoice")
        )
        batch_op.add_column(sa.Column("applies_to_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_invoice_applies_to", "invoice", ["applies_to_id"], ["id"])

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), nullable=False, server_default="email")
        )

    op.create_table(
        "customer_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=60), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_feedback_customer_id"), ["customer_id"], unique=False
        )
    op.create_table(
        "service_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("done_by", sa.String(length=60), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("service_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_task_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_task_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("service_task")
    op.drop_table("customer_feedback")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("channel")

    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_constraint("fk_invoice_applies_to", type_="foreignkey")
        batch_op.drop_column("applies_to_id")
        batch_op.drop_column("kind")

    with op.batch_alter_table("dunning_action", schema=None) as batch_op:
        batch_op.drop_column("details")
        batch_op.drop_column("channel")

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("postal_address")

    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_dispute_customer_id"))

    op.drop_table("dispute")
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_order_number"))
        batch_op.drop_index(batch_op.f("ix_sales_order_customer_id"))

    op.drop_table("sales_order")
    with op.batch_alter_table("payment_promise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_promise_status"))
        batch_op.drop_index(batch_op.f("ix_payment_promise_customer_id"))

    op.drop_table("payment_promise")
    with op.batch_alter_table("collection_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_note_customer_id"))

    op.drop_table("collection_note")
    with op.batch_alter_table("collection_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_case_status"))
        batch_op.drop_index(batch_op.f("ix_collection_case_customer_id"))

    op.drop_table("collection_case")
