"""Shared fixtures: a fresh SQLite file per test, the shipped policy, the sample ledger."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from credit.app import App
from credit.config import load_directory, load_policy_file
from credit.resources import resource_dir, sample_payments_until
from credit.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SAMPLE = resource_dir("sample_data")
# The company customer notices print (required settings): visibly fictitious, with a valid IBAN.
TEST_COMPANY = {
    "CREDIT_COMPANY_NAME": "Testfirma Nord GmbH (fictitious)",
    "CREDIT_COMPANY_ADDRESS": "Testfirma Nord GmbH (fictitious) | Teststrasse 9 | 99999 Testdorf",
    "CREDIT_COMPANY_CONTACT": "credit@testfirma.invalid | +49 000 0000000",
    "CREDIT_COMPANY_PAYMENT_DETAILS": "IBAN DE02 1203 0000 0000 2020 51 | BIC BYLADEM1001",
}


@pytest.fixture(scope="session")
def policy():
    return load_policy_file(resource_dir("config") / "policy.yaml")


@pytest.fixture(scope="session")
def directory():
    return load_directory(resource_dir("config") / "approvers.yaml")


@pytest.fixture
def credit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CREDIT_* settings pointing at a fresh SQLite file and outbox under tmp_path, with the test
    company (customer notices need one)."""
    for key in list(os.environ):
        if key.startswith("CREDIT_") and key != "CREDIT_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("CREDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'credit.db'}")
    monkeypatch.setenv("CREDIT_OUTBOX_DIR", str(tmp_path / "outbox"))
    for key, value in TEST_COMPANY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy_database(source: Path, target: Path) -> None:
    """A copy of a SQLite database, with what its write-ahead log holds."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture(scope="session")
def migrated_schema(tmp_path_factory) -> Path:
    """An empty SQLite database with the schema at the head revision, migrated once per test
    process: the ``app`` fixture starts from a copy instead of running every migration again (the
    migrations themselves: tests/integration/test_database.py and every `credit init` of the CLI
    tests)."""
    from credit.db import migrate
    from credit.db.engine import make_engine

    path = tmp_path_factory.mktemp("schema") / "credit.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def app(credit_env: Path, migrated_schema: Path) -> Iterator[App]:
    """A migrated database with the shipped policy published as version 1."""
    from credit import services

    database = credit_env / "credit.db"
    if os.environ["CREDIT_DATABASE_URL"] == f"sqlite:///{database}" and not database.exists():
        copy_database(migrated_schema, database)
    a = App(Settings.load())
    services.init_database(a, actor="test")
    yield a
    a.engine.dispose()


def import_sample(
    a: App,
    kinds: tuple[str, ...] = ("customers", "financials", "invoices", "payments"),
    payments_until: date | None = None,
) -> None:
    """Import the sample files; with ``payments_until``, only the payments made by that day."""
    from credit.importers import import_file

    for kind in kinds:
        path = SAMPLE / f"{kind}.csv"
        if kind == "payments" and payments_until is not None:
            path = sample_payments_until(payments_until, Path(tempfile.mkdtemp()))
        with a.uow() as uow:
            import_file(uow.session, kind=kind, path=path, actor="test", dry_run=False)
            uow.commit()


@pytest.fixture
def ledger(app: App) -> App:
    import_sample(app)
    return app


STORY_STARTS = date(2026, 10, 1)  # the first collections run of the sample story


@pytest.fixture
def story(app: App) -> App:
    """The sample ledger as it stood on 1 October 2026, when the sample's collections story
    starts: the payments made later come day by day (``import_sample(app, ("payments",),
    payments_until=day)``), since a live run refuses a ledger that holds later payments."""
    import_sample(app, payments_until=STORY_STARTS)
    return app


def postgres_url() -> str:
    url = os.environ.get("CREDIT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "PostgreSQL tests need CREDIT_TEST_POSTGRES_URL, e.g. "
            "CREDIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres make test "
            "(.ci/run sets it)"
        )
    return url


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory) -> Iterator[str]:
    """One Prefect test server for the whole session (flow tests and CLI subprocesses share it)."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())


@contextmanager
def scratch_postgres(monkeypatch: pytest.MonkeyPatch | None = None) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (dropped afterwards); its URL, also set as
    CREDIT_DATABASE_URL when ``monkeypatch`` is given. Skips without CREDIT_TEST_POSTGRES_URL."""
    import uuid

    from sqlalchemy import text

    from credit.db.engine import make_engine

    base = make_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"credit_test_{uuid.uuid4().hex[:10]}"
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.url.set(database=name).render_as_string(hide_password=False)
    if monkeypatch is not None:
        monkeypatch.setenv("CREDIT_DATABASE_URL", url)
    try:
        yield url
    finally:
        with base.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        base.dispose()


# The longest test files start first: `make test` hands whole files to its two processes in
# collection order, and one of these coming last would run alone at the end. The order is the
# files' time in a `make test --durations` run (7 December 2026), longest first.
LONGEST_FIRST = (
    "tests/e2e/test_readme.py",
    "tests/e2e/test_collections_cli.py",
    "tests/faults/test_crash.py",
    "tests/faults/test_delivery_workers.py",
    "tests/e2e/test_cli.py",
    "tests/e2e/test_every_command.py",
    "tests/e2e/test_scale_out.py",
    "tests/faults/test_crash_parallel.py",
    "tests/web/test_journey.py",
    "tests/e2e/test_payments_cli.py",
    "tests/faults/test_bad_input.py",
    "tests/e2e/test_first_steps.py",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_groups_cli.py",
    "tests/faults/test_flaky_smtp.py",
    "tests/e2e/test_serve.py",
    "tests/web/test_security.py",
    "tests/e2e/test_team_cli.py",
    "tests/faults/test_downtime.py",
    "tests/integration/test_partitions.py",
    "tests/e2e/test_contacts_cli.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist (3.7 and later) hands out files by their number of tests, most first, unless
    # told not to: the order above would be lost and the longest files, one test each, come last.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
