"""Engines for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import logging
import weakref
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

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
    int subclass) goes through json.dumps itself; a plain Enum or a UUID, which json.dumps
    refuses, is written as its value. A float NaN, which json.dumps writes as
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


def refresh_statistics(engine: Engine) -> list[str]:
    """Bring the query planner's statistics up to date where they are missing or stale; the
    tables analyzed (on SQLite, every table: ``["*"]``).

    Without statistics a planner takes any index a query names, the one on a status with five
    values as readily as the one on the customer: the research of 2,000 customers then read every
    complete assessment to find their earlier ratings (SQLite: 0.2 s at 10,000 customers, 1.2 s
    at 100,000, growing with the table; PostgreSQL the same). The large daily runs call this
    first, so the statistics follow the tables as they grow.

    - SQLite: ``ANALYZE`` with ``analysis_limit`` (a sample of each index: about 0.3 s on a
      database of 100,000 customers).
    - PostgreSQL: autovacuum does this, when it runs (a server may have it off, as the servers
      here do): each table never analyzed, or changed since its last ``ANALYZE`` by more rows
      than autovacuum's default threshold (50 and a tenth of the table), is analyzed now. A table
      whose statistics are current costs one catalog query; tables the user does not own are
      left to their owner."""
    log = logging.getLogger(__name__)
    if engine.dialect.name == "sqlite":
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        except DBAPIError:  # locked past the busy timeout: the run goes on with the old ones
            log.warning("planner statistics not refreshed", exc_info=True)
            return []
        return ["*"]
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        stale = [
            name
            for (name,) in conn.exec_driver_sql(
                "SELECT c.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                "WHERE s.schemaname = current_schema() AND (c.reltuples < 0 "
                "OR s.n_mod_since_analyze > 50 + 0.1 * c.reltuples) "
                # only the tables this user may analyze (PostgreSQL skips the others with a
                # warning, not an error: they would be tried again every run)
                "AND pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname"
            )
        ]
        conn.rollback()
    done = []
    for name in stale:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ANALYZE {engine.dialect.identifier_preparer.quote(name)}")
            done.append(name)
        except DBAPIError:
            log.warning("planner statistics of %s not refreshed", name, exc_info=True)
    return done
