"""research: qualitative step, fx rates, risk signals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "fx_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate_to_base", credit.db.types.Rate(precision=24, scale=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("currency", "rate_date"),
    )
    with op.batch_alter_table("fx_rate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fx_rate_currency"), ["currency"], unique=False)

    op.create_table(
        "risk_signal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_in", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_in"],
            ["credit_assessment.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    with op.batch_alter_table("risk_signal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_signal_customer_id"), ["customer_id"], unique=False
        )

    with op.batch_alter_table("credit_assessment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=30), nullable=False, server_default="complete")
        )
        batch_op.add_column(sa.Column("analyst", sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column(
                "requested_limit", credit.db.types.Money(precision=19, scale=4), nullable=True
            )
        )
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("cleaning_report", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column(
                "quantitative_score", credit.db.types.Money(precision=19, scale=4), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("qualitative", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column(
                "qualitative_score", credit.db.types.Money(precision=19, scale=4), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("qualitative_due_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("total_score", existing_type=credit.db.types.Money(), nullable=True)
        batch_op.alter_column("rating", existing_type=sa.VARCHAR(length=3), nullable=True)
        batch_op.alter_column(
            "recommended_limit", existing_type=credit.db.types.Money(), nullable=True
        )
        batch_op.alter_column("terms_days", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("review_months", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("limit_basis", existing_type=sa.VARCHAR(length=200), nullable=True)
        batch_op.create_index(batch_op.f("ix_credit_assessment_status"), ["status"], unique=False)

    with op.batch_alter_table("credit_policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("based_on_version", sa.Integer(), nullable=True))

    with op.batch_alter_table("credit_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("base_amount", credit.db.types.Money(precision=19, scale=4), nullable=True)
        )

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_flagged_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("review_flag_reason", sa.String(length=300), nullable=True))

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="received")
        )


def downgrade() -> None:

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("status")

    with op.batch_alter_table("credit_request", schema=None) as batch_op:
        batch_op.drop_column("base_amount")

    with op.batch_alter_table("credit_policy", schema=None) as batch_op:
        batch_op.drop_column("based_on_version")

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("review_flag_reason")
        batch_op.drop_column("review_flagged_on")

    with op.batch_alter_table("credit_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_assessment_status"))
        batch_op.alter_column("limit_basis", existing_type=sa.VARCHAR(length=200), nullable=False)
        batch_op.alter_column("review_months", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("terms_days", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column(
            "recommended_limit", existing_type=credit.db.types.Money(), nullable=False
        )
        batch_op.alter_column("rating", existing_type=sa.VARCHAR(length=3), nullable=False)
        batch_op.alter_column("total_score", existing_type=credit.db.types.Money(), nullable=False)
        batch_op.drop_column("completed_at")
        batch_op.drop_column("qualitative_due_at")
        batch_op.drop_column("qualitative_score")
        batch_op.drop_column("qualitative")
        batch_op.drop_column("quantitative_score")
        batch_op.drop_column("cleaning_report")
        batch_op.drop_column("override_reason")
        batch_op.drop_column("requested_limit")
        batch_op.drop_column("analyst")
        batch_op.drop_column("status")

    with op.batch_alter_table("risk_signal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_signal_customer_id"))

    op.drop_table("risk_signal")
    with op.batch_alter_table("fx_rate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fx_rate_currency"))

    op.drop_table("fx_rate")
