"""The same services on PostgreSQL: the production database, the same code, other settings."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import text

from credit import services
from credit.app import App
from credit.db.engine import make_engine
from credit.settings import Settings
from tests.conftest import STORY_STARTS, import_sample, postgres_url
from tests.integration import test_lifecycle_services as scenarios


@pytest.fixture
def pg_ledger(credit_env, monkeypatch):
    base = make_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"credit_test_{uuid.uuid4().hex[:10]}"
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    monkeypatch.setenv(
        "CREDIT_DATABASE_URL", base.url.set(database=name).render_as_string(hide_password=False)
    )
    app = App(Settings.load())
    services.init_database(app, actor="test")
    import_sample(app, payments_until=STORY_STARTS)  # later payments come in day by day
    yield app
    app.engine.dispose()
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    base.dispose()


def test_collections_hold_and_release_on_postgresql(pg_ledger):
    assert pg_ledger.engine.dialect.name == "postgresql"
    scenarios.test_collections_escalate_one_level_per_run_hold_the_line_and_release_it_when_paid(
        pg_ledger
    )


def test_two_level_chain_and_publish_on_postgresql(pg_ledger):
    scenarios.test_two_level_chain_then_publish_activates_the_line(pg_ledger)


def test_rerun_sends_nothing_new_on_postgresql(pg_ledger):
    scenarios.test_rerunning_the_same_date_sends_nothing_new(pg_ledger)
    assert services.customer_overview(pg_ledger, code="C-1007", as_of=date(2026, 10, 1))[
        "dunning_level"
    ] == {"EUR": 1}
