"""work partitions: several workers share one collections run

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_partition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=120), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("customer_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_key", "part"),
    )
    with op.batch_alter_table("work_partition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_partition_run_key"), ["run_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_partition_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("work_partition")
