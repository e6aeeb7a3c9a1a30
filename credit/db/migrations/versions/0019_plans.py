"""instalment plans and write-offs

promise_instalment: the dated amounts of an instalment plan (a promise to pay with several
dates), each judged on its date. write_off and write_off_item: a write-off proposed by a
collector, decided through the approval engine, booked as credit notes.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, credit.db.types.Money(precision=19, scale=4), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "promise_instalment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        _money("amount", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        _money("paid", nullable=True),
        sa.ForeignKeyConstraint(["promise_id"], ["payment_promise.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("promise_id", "seq"),
    )
    with op.batch_alter_table("promise_instalment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promise_instalment_promise_id"), ["promise_id"], unique=False
        )
    op.create_table(
        "write_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("amount", nullable=False),
        _money("base_amount", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(length=60), nullable=False),
        sa.Column("proposed_on", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        _money("booked", nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("write_off", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_write_off_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_write_off_status"), ["status"])
    op.create_table(
        "write_off_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("write_off_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        _money("amount", nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["write_off_id"], ["write_off.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["credit_note_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("write_off_id", "invoice_id"),
    )
    with op.batch_alter_table("write_off_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_write_off_item_write_off_id"), ["write_off_id"])
        batch_op.create_index(batch_op.f("ix_write_off_item_invoice_id"), ["invoice_id"])


def downgrade() -> None:
    op.drop_table("write_off_item")
    op.drop_table("write_off")
    op.drop_table("promise_instalment")
