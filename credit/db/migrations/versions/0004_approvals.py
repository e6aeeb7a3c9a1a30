"""approvals: delegation, escalation, voiding rounds, signed links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("delegated_from", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("escalated_role", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "approval_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=60), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["credit_request.id"]),
        sa.ForeignKeyConstraint(["step_id"], ["approval_step.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    with op.batch_alter_table("approval_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approval_link_step_id"), ["step_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approval_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_link_step_id"))
    op.drop_table("approval_link")
    with op.batch_alter_table("approval_step", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("escalated_role")
        batch_op.drop_column("delegated_from")
        batch_op.drop_column("round")
