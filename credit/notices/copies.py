"""The CC list of a notice (``notice_copy``): fixed when the notice is queued, read when it is
sent. Keyed by the notice's idempotency key, so a bulk insert of notices can write it too."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, select

from credit.db.models_contacts import NoticeCopy
from credit.db.tables import table_of
from credit.notices.base import NoticeError


def checked_cc(key: str, cc: Iterable[str], recipients: Iterable[str]) -> list[str]:
    """The CC list as stored: sorted, without repeats or the notice's own recipients; an
    address without an ``@`` is refused like a recipient would be."""
    addresses = sorted(set(cc) - set(recipients))
    bad = [a for a in addresses if "@" not in a]
    if bad:
        raise NoticeError(f"notice {key!r} has an invalid CC address: {bad!r}")
    return addresses


def add_copies(session: Session, copies: dict[str, list[str]]) -> None:
    """Store the CC lists of notices just queued (key -> addresses), in the caller's
    transaction; a notice that has its list already keeps it (queued by an earlier run)."""
    rows = [{"notice_key": k, "cc": cc} for k, cc in copies.items() if cc]
    if not rows:
        return
    table = table_of(NoticeCopy)
    statement: Insert
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing(index_elements=["notice_key"])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["notice_key"])
    for i in range(0, len(rows), 1000):
        session.execute(statement, rows[i : i + 1000])


def copies_of(session: Session, keys: Iterable[str]) -> dict[str, list[str]]:
    """The CC lists of these notices (by idempotency key); a notice without copies is absent."""
    wanted = sorted(set(keys))
    found: dict[str, list[str]] = {}
    for i in range(0, len(wanted), 1000):
        chunk = wanted[i : i + 1000]
        for key, cc in session.exec(
            select(NoticeCopy.notice_key, NoticeCopy.cc).where(
                col(NoticeCopy.notice_key).in_(chunk)
            )
        ):
            found[key] = list(cc)
    return found
