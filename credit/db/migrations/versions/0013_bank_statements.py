"""bank_statement, bank_entry, customer_bank_account; payment.bank_entry_id: cash application

Bank statements (camt.053, MT940) imported once per statement, their entries (one per payment:
a batch booking's remittances each), how each was matched, and the IBANs customers pay from. A
payment a matched entry wrote points at it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, credit.db.types.Money(precision=19, scale=4), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "bank_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_key", sa.String(length=120), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("statement_id", sa.String(length=80), nullable=False),
        sa.Column("account_iban", sa.String(length=34), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=60), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("statement_key"),
    )
    with op.batch_alter_table("bank_statement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_statement_account_iban"), ["account_iban"], unique=False
        )
    op.create_table(
        "bank_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=255), nullable=False),
        sa.Column("entry_ref", sa.String(length=120), nullable=False),
        sa.Column("part", sa.Integer(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("value_on", sa.Date(), nullable=True),
        _money("amount", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payer_name", sa.String(length=140), nullable=True),
        sa.Column("payer_iban", sa.String(length=34), nullable=True),
        sa.Column("structured_ref", sa.String(length=140), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("end_to_end", sa.String(length=140), nullable=True),
        sa.Column("bank_code", sa.String(length=60), nullable=False),
        sa.Column("original_ref", sa.String(length=140), nullable=True),
        _money("instructed_amount", nullable=True),
        sa.Column("instructed_currency", sa.String(length=3), nullable=True),
        sa.Column("rate", credit.db.types.Rate(precision=24, scale=10), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("matched_rule", sa.String(length=20), nullable=True),
        sa.Column("matched_by", sa.String(length=60), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        _money("fx_difference", nullable=True),
        sa.Column("fx_currency", sa.String(length=3), nullable=True),
        sa.Column("returns_id", sa.Integer(), nullable=True),
        sa.Column("returns_payment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["statement_id"], ["bank_statement.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["returns_id"], ["bank_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_key"),
    )
    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        for column in ("statement_id", "booked_on", "payer_iban", "end_to_end", "status"):
            batch_op.create_index(batch_op.f(f"ix_bank_entry_{column}"), [column], unique=False)
        batch_op.create_index(batch_op.f("ix_bank_entry_customer_id"), ["customer_id"])
    op.create_table(
        "customer_bank_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("learned_from_id", sa.Integer(), nullable=True),
        sa.Column("learned_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["learned_from_id"], ["bank_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("iban"),
    )
    with op.batch_alter_table("customer_bank_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_bank_account_customer_id"), ["customer_id"], unique=False
        )
    # SQLite adds a constrained column by copying the table (batch mode); PostgreSQL alters it.
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bank_entry_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_payment_bank_entry_id"), ["bank_entry_id"])
        batch_op.create_foreign_key(
            "fk_payment_bank_entry_id", "bank_entry", ["bank_entry_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_constraint("fk_payment_bank_entry_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_payment_bank_entry_id"))
        batch_op.drop_column("bank_entry_id")
    op.drop_table("customer_bank_account")
    op.drop_table("bank_entry")
    op.drop_table("bank_statement")
