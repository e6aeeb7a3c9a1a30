"""The append-only, hash-chained audit trail: who, when, why, before and after."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from credit.acting import acting as acting
from credit.acting import current as _via
from credit.db.bulk import insert_rows
from credit.db.models import AuditEvent, AuditHead, utcnow
from credit.db.tables import table_of


def jsonable(value: Any) -> Any:
    """Decimals and dates as strings so JSON columns keep them exact; a dataclass as a dict of
    its fields."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value  # the common case first (an enum is not a plain str)
    # exact types next (a scorecard's factors and metrics: dataclasses of Decimals)
    if kind is Decimal:
        return str(value)
    if kind is dict:
        return {str(k): jsonable(v) for k, v in value.items()}
    if kind is list:
        return [jsonable(v) for v in value]
    names = _dataclass_fields.get(kind)
    if names is not None:
        return {name: jsonable(getattr(value, name)) for name in names}
    return _jsonable_other(kind, value)


def _jsonable_other(kind: type, value: Any) -> Any:
    """:func:`jsonable` of what is not a plain str, int, Decimal, dict, list or known dataclass."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    fields = getattr(kind, "__dataclass_fields__", None)
    if fields is not None:
        _dataclass_fields[kind] = tuple(fields)
        return {name: jsonable(getattr(value, name)) for name in fields}
    return value


# A dataclass's field names by class, once seen (what ``__dataclass_fields__`` lists).
_dataclass_fields: dict[type, tuple[str, ...]] = {}


_HASHED = (
    "id",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
    "policy_version",
    "prev_hash",
)


def event_hash(event: AuditEvent | dict[str, Any]) -> str:
    """SHA-256 over the event's content, its id and the previous event's hash. ``via`` (how the
    actor acted) is hashed where it is set: events written before it existed keep their hash."""
    fields = (
        event
        if isinstance(event, dict)
        else {k: getattr(event, k) for k in (*_HASHED, "at", "via")}
    )
    at = fields["at"] if fields["at"].tzinfo else fields["at"].replace(tzinfo=UTC)
    content = {k: fields[k] for k in _HASHED}
    if fields.get("via") is not None:
        content["via"] = fields["via"]
    content["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_head(session: Session) -> tuple[int, str | None]:
    """Take the chain's write lock and read its end (the last event actually in this transaction)."""
    session.execute(
        update(AuditHead).where(col(AuditHead.id) == 1).values(last_id=AuditHead.last_id)
    )
    last = session.execute(
        sa_select(col(AuditEvent.id), col(AuditEvent.hash))
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    ).first()
    return (last[0], last[1]) if last else (0, None)


def record(  # noqa: PLR0913  # the audit event's own fields, all keyword-only
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
    policy_version: int | None = None,
) -> AuditEvent | None:
    """Append an event to the chain in the caller's transaction (committed with the change it
    describes; rolled back with it). Inside :func:`batched` the event joins the block's batch."""
    buffer = session.info.get(_BUFFER)
    if buffer is not None:  # a plain row: the batch gives it its id and hash
        buffer.append(
            {
                "at": utcnow(),
                "actor": actor,
                "action": action,
                "entity_type": entity_type,
                "entity_id": str(entity_id),
                "before": jsonable(before) if before is not None else None,
                "after": jsonable(after) if after is not None else None,
                "reason": reason,
                "policy_version": policy_version,
                "via": _via(),
            }
        )
        return None
    last_id, last_hash = _lock_head(session)
    event = AuditEvent(
        id=last_id + 1,
        at=utcnow(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        reason=reason,
        policy_version=policy_version,
        via=_via(),
        prev_hash=last_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    session.execute(
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(last_id=event.id, last_hash=event.hash)
    )
    return event


_BUFFER = "credit.audit.batch"


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Collect the events recorded in the block and append them to the chain when it ends, in the
    order they were recorded: one head lock and one bulk insert instead of three statements per
    event. The events still commit (or roll back) with the caller's transaction."""
    if session.info.get(_BUFFER) is not None:  # already batching: the outer block appends
        yield
        return
    buffer: list[dict[str, Any]] = []
    session.info[_BUFFER] = buffer
    try:
        yield
    finally:
        session.info.pop(_BUFFER, None)
    if buffer:
        _append(session, buffer)


def _append(session: Session, rows: list[dict[str, Any]]) -> None:
    last_id, last_hash = _lock_head(session)
    for row in rows:
        last_id += 1
        row["id"], row["prev_hash"] = last_id, last_hash
        row["hash"] = last_hash = event_hash(row)
    insert_rows(session, table_of(AuditEvent), rows)
    session.execute(
        update(AuditHead).where(col(AuditHead.id) == 1).values(last_id=last_id, last_hash=last_hash)
    )


@dataclass(frozen=True)
class Verification:
    events: int
    broken_at: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session) -> Verification:
    """Walk the chain in id order; name the first event whose link or content does not hold."""
    expected_prev: str | None = None
    expected_id = 1
    count = 0
    for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))):
        count += 1
        if event.id != expected_id:
            return Verification(
                count, event.id, f"event {expected_id} is missing (the chain jumps to {event.id})"
            )
        if event.prev_hash != expected_prev:
            return Verification(
                count,
                event.id,
                "its link to the previous event does not match: an event "
                "before it was deleted, inserted or reordered",
            )
        if event_hash(event) != event.hash:
            return Verification(
                count, event.id, "its content does not match its hash: it was edited"
            )
        expected_prev, expected_id = event.hash, expected_id + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id, head.last_hash) != (expected_id - 1, expected_prev):
        return Verification(
            count,
            expected_id,
            f"event {expected_id} and later are missing: the chain "
            f"should end at event {head.last_id}",
        )
    return Verification(count, None, "intact")
