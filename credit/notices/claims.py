"""Claims: due notices are taken with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and
each sender's outcome is marked only while the claim is still its own."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, not_, or_, update
from sqlmodel import Session, col, select

from credit.db.models import UNSENT, Notice, NoticeStatus, utcnow
from credit.db.tables import table_of
from credit.notices.base import INTERNAL_KEY_SUFFIX
from credit.notices.copies import copies_of

LEASE = timedelta(minutes=5)

INTERRUPTED = "an earlier send stopped after claiming it (its lease ended): it may repeat that one"


def held_back(kinds: frozenset[str]) -> Any:
    """The condition of the notices to customers among ``kinds`` (not their internal copies)."""
    return and_(
        col(Notice.kind).in_(sorted(kinds)),
        not_(col(Notice.idempotency_key).endswith(INTERNAL_KEY_SUFFIX)),
    )


def due_notices(
    dialect: str,
    now: datetime,
    limit: int,
    *,
    notice_ids: list[int] | None = None,
    after_id: int | None = None,
    held: Any = None,
) -> Any:
    """The ids of the oldest notices due for sending: unsent, not held by a live lease (nor by
    the ``held`` condition). The partial index of unsent notices serves it, however many have
    been sent before."""
    due = (
        select(Notice.id)
        .where(UNSENT)  # literal values: the partial index of unsent notices serves it
        .where(or_(col(Notice.claimed_until).is_(None), col(Notice.claimed_until) < now))
        .order_by(col(Notice.id))
        .limit(limit)
    )
    if notice_ids is not None:
        due = due.where(col(Notice.id).in_(notice_ids))
    if after_id is not None:  # only what was queued since (an index range, not a scan)
        due = due.where(col(Notice.id) > after_id)
    if held is not None:
        due = due.where(not_(held))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return due


def claim(
    session: Session,
    now: datetime,
    limit: int,
    notice_ids: list[int] | None,
    *,
    after_id: int | None = None,
    lease: timedelta = LEASE,
    held: Any = None,
) -> list[tuple[Outgoing, bool]]:
    """Take up to ``limit`` due notices for sending, with a lease, in one statement: (what sending
    needs of it, whether a sender that stopped had claimed it before) for each notice taken.

    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``: several senders (workers on
    several machines) take different rows without waiting for each other. On SQLite the statement
    takes the database's write lock, so claims are serialised. A sender that dies leaves its rows
    to the next one when the lease ends."""
    due = due_notices(
        session.get_bind().dialect.name,
        now,
        limit,
        notice_ids=notice_ids,
        after_id=after_id,
        held=held,
    )
    taken = session.execute(
        update(Notice)
        .where(col(Notice.id).in_(due.scalar_subquery()))
        .values(
            status=NoticeStatus.SENDING,
            claimed_until=max(now, utcnow()) + lease,
            attempts=Notice.attempts + 1,
            # still "sending" with its lease over: the sender holding it stopped, maybe after
            # the server had accepted it
            last_error=case(
                (col(Notice.status) == NoticeStatus.SENDING, literal(INTERRUPTED)),
                else_=Notice.last_error,
            ),
        )
        .returning(*_READ, col(Notice.last_error))
    ).all()
    copies = copies_of(session, [row.idempotency_key for row in taken]) if taken else {}
    session.commit()
    return sorted(
        (
            (
                Outgoing(
                    **dict(zip(_READ_FIELDS, row, strict=False)),
                    claim=row.attempts,
                    cc=copies.get(row.idempotency_key, []),
                ),
                row.last_error == INTERRUPTED,
            )
            for row in taken
        ),
        key=lambda pair: pair[0].id,
    )


@dataclass
class Outgoing:
    """A claimed notice on its way out: the values sending reads and the outcome it records
    (plain values: a chunk of 200 is read in one query and marked in one executemany)."""

    id: int
    idempotency_key: str
    kind: str
    channel: str
    recipients: list[str]
    subject: str
    text: str
    html: str
    attempts: int
    message_id: str | None
    created_at: datetime
    locale: str
    document: dict[str, Any] | None  # a customer letter's content, for its PDF
    claim: int = 0  # ``attempts`` right after this sender's claim: its token
    status: str = NoticeStatus.SENDING
    last_error: str | None = None
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    delivered_to: str | None = None
    cc: list[str] = field(default_factory=list)  # the copies (notice_copy), fixed when queued


_OUTBOX = table_of(Notice)
_READ_FIELDS = [f.name for f in fields(Outgoing)[:13]]
_READ = [_OUTBOX.c[name] for name in _READ_FIELDS]
_MARK = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("b_id"),
        # still ours: a sender that outlived its lease does not overwrite the next one's outcome
        _OUTBOX.c.status == NoticeStatus.SENDING,
        _OUTBOX.c.attempts == bindparam("b_claim"),
    )
    .values(
        attempts=bindparam("b_attempts"),
        status=bindparam("b_status"),
        last_error=bindparam("b_last_error"),
        claimed_until=bindparam("b_claimed_until"),
        sent_at=bindparam("b_sent_at"),
        delivered_to=bindparam("b_delivered_to"),
        message_id=bindparam("b_message_id"),
    )
)


def mark(session: Session, sent: list[Outgoing]) -> None:
    """Record the outcome of each notice (one executemany), in the caller's transaction; a
    notice another sender took over meanwhile (its lease ended) keeps that sender's outcome."""
    if sent:
        session.connection().execute(
            _MARK,
            [
                {
                    "b_id": o.id,
                    "b_claim": o.claim,
                    "b_attempts": o.attempts,
                    "b_status": o.status,
                    "b_last_error": o.last_error,
                    "b_claimed_until": o.claimed_until,
                    "b_sent_at": o.sent_at,
                    "b_delivered_to": o.delivered_to,
                    "b_message_id": o.message_id,
                }
                for o in sent
            ],
        )


def waiting_condition(now: datetime, held: Any) -> Any:
    """Unsent notices waiting out a retry delay (pending, not due before ``now``)."""
    condition = and_(
        UNSENT,
        col(Notice.status) == NoticeStatus.PENDING,
        col(Notice.claimed_until) > now,
    )
    return condition if held is None else and_(condition, not_(held))


def waiting(
    session: Session, now: datetime, held: Any = None, notice_ids: list[int] | None = None
) -> tuple[int, datetime | None]:
    """How many notices wait out a retry delay, and when the first of them is due (UTC)."""
    query = select(func.count(), func.min(Notice.claimed_until)).where(waiting_condition(now, held))
    if notice_ids is not None:
        query = query.where(col(Notice.id).in_(notice_ids))
    count, first = session.exec(query).one()
    if first is not None and first.tzinfo is None:
        first = first.replace(tzinfo=UTC)  # SQLite gives it back naive
    return count, first


def release_waiting(
    session: Session, now: datetime, hold: frozenset[str] = frozenset()
) -> list[int]:
    """Make the notices that wait out a retry delay due now (in the caller's transaction); their
    ids. What a customer notice held for the company's details waits for stays held."""
    held = held_back(hold) if hold else None
    return list(
        session.execute(
            update(Notice)
            .where(waiting_condition(now, held))
            .values(claimed_until=None)
            .returning(col(Notice.id))
        ).scalars()
    )
