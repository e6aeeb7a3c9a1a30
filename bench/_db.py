"""Fresh copies of a generated benchmark database, one per side (and dropped afterwards)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


def copy_database(url: str, workdir: Path) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from credit.db.engine import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = workdir / f"copy-{uuid.uuid4().hex[:6]}.db"
        shutil.copyfile(parsed.database, target)  # type: ignore[arg-type]
        return f"sqlite:///{target}"
    base = make_engine(url, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    base.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_copy(url: str, source: str) -> None:
    """Drop a PostgreSQL copy (a SQLite copy goes with its temporary folder)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from credit.db.engine import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    base = make_engine(source, isolation_level="AUTOCOMMIT")
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
    base.dispose()
