"""notice: an index of the unsent notices only, in id order (what a delivery claim reads)

Claims take the oldest unsent notice. With an index on ``status`` alone, PostgreSQL walked the
primary key past every notice already sent and SQLite sorted every pending one, on each claim:
the outbox got slower to drain the more it had ever sent. The partial index holds only the
notices waiting to go; with a second one of the failed notices (what an operator lists), it
replaces the index on ``status``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNSENT = sa.text("status IN ('pending', 'sending')")
FAILED = sa.text("status = 'failed'")


def upgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_status")
    op.create_index(
        "ix_notice_unsent", "notice", ["id"], sqlite_where=UNSENT, postgresql_where=UNSENT
    )
    op.create_index(
        "ix_notice_failed", "notice", ["id"], sqlite_where=FAILED, postgresql_where=FAILED
    )


def downgrade() -> None:
    op.drop_index("ix_notice_failed", table_name="notice")
    op.drop_index("ix_notice_unsent", table_name="notice")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index("ix_notice_status", ["status"], unique=False)
