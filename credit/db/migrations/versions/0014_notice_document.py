"""notice.document: what a customer letter's PDF is made of

A dunning notice or terms letter carries its letter as a PDF: the context it was rendered from
and its body are stored with the notice when it is queued, and delivery makes the PDF from them.
Other notices have none (NULL).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no table copy): a nullable column needs nothing else
    op.add_column("notice", sa.Column("document", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("notice", "document")  # SQLite 3.35+ drops a column in place
