"""Fresh copies of a generated benchmark database, one per side (and dropped afterwards)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# The company customer notices print (required settings): a visibly fictitious one, valid IBAN.
BENCH_COMPANY = {
    "CREDIT_COMPANY_NAME": "Benchmark Trading GmbH (fictitious)",
    "CREDIT_COMPANY_ADDRESS": "Benchmark Trading GmbH (fictitious) | Messweg 1 | 99999 Testdorf",
    "CREDIT_COMPANY_CONTACT": "credit@benchmark.invalid",
    "CREDIT_COMPANY_PAYMENT_DETAILS": "IBAN DE02 1203 0000 0000 2020 51 (bench, do not pay)",
}


def copy_database(url: str, workdir: Path) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from credit.db.engine import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).is_file():
            raise SystemExit(
                f"{url}: no such database file; write one first with python -m bench.portfolio"
            )
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


def run_sides(
    module: str, source: str, sides: list[str], args: Callable[[str, Path], list[str]]
) -> dict[str, dict]:
    """Run ``python -m module --database-url COPY --side SIDE *args(side, tmp)`` for each side,
    each on its own fresh copy of ``source`` (dropped afterwards), with its own Prefect home
    (its database made before the first side runs);
    the JSON line each side prints last."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ}
        env.setdefault("PREFECT_HOME", str(Path(tmp) / "prefect"))  # not the user's Prefect
        # A busy machine can take longer than Prefect's 20 s to start its local server.
        env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        # Prefect's database created before the sides run, as on any machine after the product's
        # first run: a side's figures then hold what each daily run pays, not the one-time
        # migrations of a new Prefect home (about 6 s).
        subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                       capture_output=True, check=True, env=env)  # fmt: skip
        for side in sides:
            url = copy_database(source, Path(tmp))
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", module, "--database-url", url, "--side", side,
                     *args(side, Path(tmp))],
                    capture_output=True, text=True, check=False, env=env,
                )  # fmt: skip
            finally:
                drop_copy(url, source)
            if proc.returncode != 0:
                raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
            results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """An empty database of its own on the PostgreSQL server at ``server_url``, dropped after."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from credit.db.engine import make_engine

    name = f"bench_{uuid.uuid4().hex[:8]}"
    base = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with base.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        base.dispose()
