"""financial_statement: the statement's own currency

A statement was taken to be in its customer's currency; a group's accounts are often in another
(a Swiss customer invoiced in EUR reports in CHF). Existing statements get their customer's
currency, which is what research assumed for them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("financial_statement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    op.execute(
        "UPDATE financial_statement SET currency = (SELECT customer.currency FROM customer "
        "WHERE customer.id = financial_statement.customer_id)"
    )
    with op.batch_alter_table("financial_statement", schema=None) as batch_op:
        batch_op.alter_column("currency", existing_type=sa.String(length=3), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("financial_statement", schema=None) as batch_op:
        batch_op.drop_column("currency")
