"""audit trail: hash chain; approval evidence

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _hash(row: sa.Row, prev: str | None) -> str:
    """The chain's hash as defined when this migration was written (see credit/audit.py)."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    content = {
        "id": row.id,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row.actor,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "before": row.before,
        "after": row.after,
        "reason": row.reason,
        "policy_version": row.policy_version,
        "prev_hash": prev,
    }
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _triggers(create: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if create:
        if sqlite:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
                )
        else:
            op.execute(
                "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
            )
    elif sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _triggers(create=False)  # batch mode on SQLite rebuilds the table; the triggers come back below
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("hash", sa.String(length=64), nullable=False, server_default="")
        )
    bind = op.get_bind()
    events = sa.table(
        "audit_event",
        sa.column("id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("entity_type", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("before", sa.JSON),
        sa.column("after", sa.JSON),
        sa.column("reason", sa.Text),
        sa.column("policy_version", sa.Integer),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    prev, last_id = None, 0
    for row in bind.execute(sa.select(events).order_by(events.c.id)).fetchall():
        digest = _hash(row, prev)
        bind.execute(
            events.update().where(events.c.id == row.id).values(prev_hash=prev, hash=digest)
        )
        prev, last_id = digest, row.id
    bind.execute(
        sa.text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, :i, :h)"),
        {"i": last_id, "h": prev},
    )
    _triggers(create=True)
    with op.batch_alter_table("approval_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("evidence_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_step", schema=None) as batch_op:
        batch_op.drop_column("evidence_hash")
        batch_op.drop_column("evidence")
    _triggers(create=False)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    _triggers(create=True)
    op.drop_table("audit_head")
