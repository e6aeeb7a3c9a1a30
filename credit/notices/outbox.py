"""The outbox: a rendered notice is committed under its idempotency key, in the caller's
transaction, before anything is sent."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, select

from credit.db.bulk import COPY_FROM, insert_rows
from credit.db.models import Notice, NoticeStatus, utcnow
from credit.db.tables import among, table_of
from credit.notices.base import Channel, NoticeError
from credit.notices.copies import add_copies, checked_cc
from credit.notices.document import stored
from credit.notices.rendering import NoticeRenderer


def exists(session: Session, key: str) -> bool:
    """Whether a notice with this idempotency key is already in the outbox."""
    return session.exec(select(Notice.id).where(Notice.idempotency_key == key)).first() is not None


class OutboxEntry(TypedDict):
    """What :func:`enqueue` puts in the outbox: the key, kind, language, recipients and context
    of a notice, and optionally its customer and channel (``email`` unless said)."""

    key: str
    kind: str
    locale: str
    recipients: list[str]
    context: dict[str, Any]
    customer_id: NotRequired[int | None]
    channel: NotRequired[str]
    # A customer letter: its content (context and body) is stored with it, and delivery sends
    # it as a PDF (attached to the e-mail, or written beside the printable letter).
    letter: NotRequired[bool]
    # Addresses that get a copy (``Cc:``), fixed now: a later change of contacts leaves it.
    cc: NotRequired[list[str]]


def enqueue(
    session: Session, renderer: NoticeRenderer, **entry: Unpack[OutboxEntry]
) -> tuple[Notice | None, bool]:
    """Put a notice in the outbox within the caller's transaction; (notice, created).

    If a notice with ``key`` exists, it is returned untouched and nothing is rendered again.
    Inside :func:`batched` the notice joins the block's bulk insert (a key already in the outbox
    is then left untouched by the insert instead).
    """
    buffer = session.info.get(BATCH_BUFFER)
    if buffer is not None:  # a plain row for the block's bulk insert (no Notice object)
        return _enqueue_batched(buffer, renderer, entry)
    key = entry["key"]
    existing = session.exec(select(Notice).where(Notice.idempotency_key == key)).first()
    if existing is not None:
        return existing, False
    cc = checked_cc(key, entry.get("cc", ()), entry["recipients"])
    notice = Notice(**_rendered_row(renderer, entry))
    try:
        with session.begin_nested():
            session.add(notice)
            session.flush()
            add_copies(session, {key: cc})
    except IntegrityError:
        # Another run committed the same key between our check and our insert.
        existing = session.exec(select(Notice).where(Notice.idempotency_key == key)).one()
        return existing, False
    return notice, True


def _rendered_row(renderer: NoticeRenderer, entry: OutboxEntry) -> dict[str, Any]:
    """The outbox row's values for ``entry``, rendered (the recipients checked first)."""
    key, recipients = entry["key"], entry["recipients"]
    if not recipients or any("@" not in r for r in recipients):
        raise NoticeError(f"notice {key!r} has no valid recipient: {recipients!r}")
    rendered = renderer.render(entry["kind"], entry["locale"], entry["context"])
    document = None
    if entry.get("letter"):
        body = renderer.render_letter_body(entry["kind"], entry["locale"], entry["context"])
        document = stored(entry["context"], body)
    return {
        "idempotency_key": key,
        "kind": entry["kind"],
        "channel": entry.get("channel", Channel.EMAIL),
        "locale": entry["locale"],
        "customer_id": entry.get("customer_id"),
        "recipients": sorted(dict.fromkeys(recipients)),
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "document": document,
    }


def _enqueue_batched(
    buffer: dict[str, dict[str, Any]], renderer: NoticeRenderer, entry: OutboxEntry
) -> tuple[None, bool]:
    if entry["key"] in buffer:
        return None, False
    buffer[entry["key"]] = {
        **_rendered_row(renderer, entry),
        "status": NoticeStatus.PENDING,
        "attempts": 0,
        "created_at": utcnow(),
        COPIES: checked_cc(entry["key"], entry.get("cc", ()), entry["recipients"]),
    }
    return None, True


def _stored_keys(session: Session, keys: Any) -> list[str]:
    wanted = sorted(keys)
    return [
        k
        for i in range(0, len(wanted), 1000)
        for k in session.exec(
            select(Notice.idempotency_key).where(
                among(session, col(Notice.idempotency_key), wanted[i : i + 1000])
            )
        )
    ]


# The session.info key of the rows a batched() block collects.
BATCH_BUFFER = "credit.notices.batch"
# A buffered row's CC list (not a column: written to notice_copy after the notices).
COPIES = "cc"


@contextmanager
def batched(session: Session) -> Generator[None]:
    """Collect the notices enqueued in the block and write them to the outbox when it ends, with
    one multi-row insert per thousand (in the caller's transaction). A key that is already in the
    outbox keeps its row: the insert skips it, as :func:`enqueue` would."""
    if session.info.get(BATCH_BUFFER) is not None:
        yield
        return
    buffer: dict[str, dict[str, Any]] = {}
    session.info[BATCH_BUFFER] = buffer
    try:
        yield
    finally:
        session.info.pop(BATCH_BUFFER, None)
    if not buffer:
        return
    table = table_of(Notice)
    copies = {key: cc for key, row in buffer.items() if (cc := row.pop(COPIES))}
    # A notice already in the outbox keeps the CC list it was queued with.
    for key in _stored_keys(session, copies):
        del copies[key]
    rows = list(buffer.values())
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and len(rows) >= COPY_FROM:
        # Those not in the outbox yet, by COPY. The customers are locked, so no other run
        # queues their keys meanwhile; if one did, the unique key fails the batch, which is
        # then redone customer by customer (as a taken step key does).
        stored = set(_stored_keys(session, buffer))
        insert_rows(session, table, [r for k, r in buffer.items() if k not in stored])
        add_copies(session, copies)
        return
    statement: Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for i in range(0, len(rows), 1000):
        session.execute(statement, rows[i : i + 1000])
    add_copies(session, copies)
