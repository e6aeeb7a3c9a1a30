"""Core tables of the SQLModel table models, for set-based queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, for set-based queries (SQLModel sets ``__table__`` on table
    models without declaring it)."""
    table = sa_inspect(model).local_table
    assert isinstance(table, Table)
    return table


def insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (without ids) and return their new ids, in order.

    On PostgreSQL one multi-row ``INSERT ... RETURNING`` per batch. SQLite cannot say which
    returned id belongs to which row of a multi-row insert, so SQLAlchemy would send one
    statement per row; there the ids are given here instead, the next ones after the largest
    (what SQLite itself gives a plain integer primary key), and the rows go in with one
    ``executemany``. Safe because a SQLite write transaction holds the database's only write
    lock (``BEGIN IMMEDIATE``): nobody else can insert meanwhile."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "sqlite":
        new = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).scalars()
        return list(new)
    last = session.execute(sa_select(func.max(table.c.id))).scalar() or 0
    ids = list(range(last + 1, last + 1 + len(rows)))
    session.execute(insert(table), [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids
