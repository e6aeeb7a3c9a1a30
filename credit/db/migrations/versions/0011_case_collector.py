"""collection_case: the collector a case is assigned to

A case on the collections worklist is worked by one collector; a credit manager assigns it (the
web workspace's worklist). Existing cases are unassigned.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no table copy): a nullable column needs nothing else
    op.add_column("collection_case", sa.Column("collector", sa.String(length=60), nullable=True))
    op.create_index("ix_collection_case_collector", "collection_case", ["collector"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_collection_case_collector", table_name="collection_case")
    op.drop_column("collection_case", "collector")  # SQLite 3.35+ drops a column in place
