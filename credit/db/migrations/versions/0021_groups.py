"""customer_group, customer_group_member, temporary_limit: group exposure and temporary limits

A group (a parent company) has a limit of its own that the order check compares every member's
exposure against; a customer is in one group at most. A temporary limit is a raise asked for with
a review that falls back to the limit before it once its end date has passed.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import credit.db.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, credit.db.types.Money(precision=19, scale=4), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customer_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("limit", nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer_group", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_group_code"), ["code"], unique=True)
    op.create_table(
        "customer_group_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=60), nullable=False),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["customer_group.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id"),
    )
    with op.batch_alter_table("customer_group_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_group_member_group_id"), ["group_id"], unique=False
        )
    op.create_table(
        "temporary_limit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("review_key", sa.String(length=120), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _money("limit", nullable=True),
        _money("previous_limit", nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["credit_request.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_key"),
    )
    with op.batch_alter_table("temporary_limit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_temporary_limit_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_temporary_limit_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("temporary_limit")
    op.drop_table("customer_group_member")
    op.drop_table("customer_group")
