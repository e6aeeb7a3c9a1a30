"""Many rows into one table in the caller's transaction: on PostgreSQL with ``COPY`` (one round
trip, no SQL to build per row), elsewhere with one multi-row insert."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import Enum
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes

COPY_FROM = 50  # fewer rows than this: an insert costs no more


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys) into ``table``. Columns a row leaves out get
    their column default, as an insert would give them; a unique key already taken raises, as an
    insert would."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql" or len(rows) < COPY_FROM:
        session.execute(insert(table), list(rows))
        return
    _copy(session, table, rows)


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect
    given = list(rows[0])
    defaults = {
        c.key: c.default
        for c in table.columns
        if c.key not in given and c.default is not None and not c.primary_key
    }
    columns = [table.c[k] for k in given] + [table.c[k] for k in defaults]
    processors = [_processor(c.type, dialect) for c in columns]
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN")
        as copy,
    ):  # fmt: skip
        for row in rows:
            values = [row[k] for k in given] + [_default(d) for d in defaults.values()]
            copy.write_row(
                [
                    _plain(p(v) if p is not None and v is not None else v)
                    for p, v in zip(processors, values, strict=True)
                ]
            )


def _processor(kind: Any, dialect: Any) -> Any:
    """How a value becomes what the database is given (JSON as its text: the driver is not
    asked to adapt a dict in ``COPY``)."""
    if isinstance(kind, sqltypes.JSON):
        dumps = getattr(dialect, "_json_serializer", None) or json.dumps
        return lambda v: dumps(v)
    # what the dialect's statements apply (its own numeric type keeps a Decimal exact)
    return kind._cached_bind_processor(dialect)


def _default(default: Any) -> Any:
    arg = default.arg
    return arg(None) if default.is_callable else arg


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
