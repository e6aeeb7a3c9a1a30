"""Core tables of the SQLModel table models, for set-based queries."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, func, insert, literal
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from credit.db.bulk import COPY_FROM, insert_rows


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, for set-based queries (SQLModel sets ``__table__`` on table
    models without declaring it)."""
    table = sa_inspect(model).local_table
    assert isinstance(table, Table)
    return table


def among(
    session: Session | Connection, column: Any, values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values`` for a batch's ids or codes: on PostgreSQL ``column = ANY(array)``, one
    parameter. A list of 200 ids is otherwise 200 parameters, which the driver parses in Python
    on every call (its cache of parsed statements stops at 50; about 1.4 ms of CPU a query) and
    the server parses again (3 ms a query in all, against 1.4 ms with the array)."""
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    if dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(values)


def insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (without ids) and return their new ids, in order.

    On PostgreSQL the ids are taken from the table's sequence first (one query), and the rows go
    in with ``COPY`` (:func:`credit.db.bulk.insert_rows`): a multi-row ``INSERT ... RETURNING``
    of 200 assessments is a statement of 6,000 parameters that the driver parses in Python each
    time (about 5 ms) before the server parses it again. SQLite cannot say which
    returned id belongs to which row of a multi-row insert, so SQLAlchemy would send one
    statement per row; there the ids are given here instead, the next ones after the largest
    (what SQLite itself gives a plain integer primary key), and the rows go in with one
    ``executemany``. Safe because a SQLite write transaction holds the database's only write
    lock (``BEGIN IMMEDIATE``): nobody else can insert meanwhile."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "sqlite":
        ids = _next_ids(session, table, len(rows))
        if ids is None:  # few rows, or an id without a sequence
            new = session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            ).scalars()
            return list(new)
        insert_rows(session, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids
    last = session.execute(sa_select(func.max(table.c.id))).scalar() or 0
    ids = list(range(last + 1, last + 1 + len(rows)))
    session.execute(insert(table), [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def _next_ids(session: Session, table: Table, n: int) -> list[int] | None:
    """``n`` new ids from the sequence of ``table``'s id (PostgreSQL), ascending; None when the
    id has no sequence."""
    if n < COPY_FROM:
        return None
    seq = session.execute(sa_select(func.pg_get_serial_sequence(table.name, "id"))).scalar()
    if seq is None:
        return None
    return sorted(
        session.execute(
            sa_select(func.nextval(seq)).select_from(func.generate_series(1, n))
        ).scalars()
    )
