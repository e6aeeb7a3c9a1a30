"""Engines for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

READ_ONLY = "credit_read_only"  # execution option of units of work that never write
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_all() -> None:
    """Close every engine's connections (a command ending without the interpreter's teardown:
    PostgreSQL then sees each session end, not a dropped connection)."""
    for engine in list(_ENGINES):
        engine.dispose()


# Dataclasses, dates and subclasses of str or int are left to json.dumps, which writes them or
# refuses them as it always did (orjson would write them).
_STRICT = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_dumps(value: Any) -> str:
    """A JSON column's text: the value json.dumps writes, made by orjson (several times faster;
    an assessment's snapshot is tens of kilobytes). Compact and in UTF-8 where json.dumps puts
    spaces and escapes: the same JSON value, read back by json.loads as before. What orjson will
    not take as json.dumps would (a key that is not a string, an integer over 64 bits, a str or
    int subclass) goes through json.dumps itself. A float NaN, which json.dumps writes as
    ``NaN`` (not JSON: PostgreSQL refuses it), is written as ``null``; the product stores no
    floats in JSON (amounts and scores are decimal strings)."""
    if type(value) is dict or type(value) is list:
        try:
            return orjson.dumps(value, option=_STRICT).decode()
        except TypeError:
            pass
    return json.dumps(value)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", json_dumps)
    engine = _make_engine(url, **kwargs)
    _ENGINES.add(engine)
    return engine


def _make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, enforced foreign keys and
    ``BEGIN IMMEDIATE`` transactions.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock when a transaction starts (waiting up to the busy
    timeout for it). A deferred transaction that reads first and writes later cannot wait: if
    another process committed in between, its write fails at once with "database is locked".
    Readers still read the WAL snapshot without waiting for anyone outside a transaction."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
            dbapi_conn.isolation_level = None  # the driver's own BEGIN off: ours below

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # A unit of work that only reads (``App.uow(read_only=True)``) reads its snapshot
            # without the write lock, so a long read (a report, `audit verify`) blocks no writer.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def refresh_statistics(engine: Engine) -> None:
    """SQLite: sample every table and index into the query planner's statistics (``ANALYZE``,
    at most ``analysis_limit`` rows an index: about 0.3 s on a database of 100,000 customers).

    Without statistics SQLite takes any index a query names, the one on a status with five
    values as readily as the one on the customer: the research of 2,000 customers then read every
    complete assessment to find their earlier ratings (0.2 s at 10,000 customers, 1.2 s at
    100,000, growing with the table). With them it takes the selective index. The large daily
    runs call this first, so the statistics follow the tables as they grow. PostgreSQL keeps
    its own (autovacuum's ANALYZE): nothing to do."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
