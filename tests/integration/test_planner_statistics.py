"""SQLite's planner statistics: the daily runs refresh them, and with them the research's reads
take the customer's index, not the one on a status shared by most rows."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from bench.portfolio import generate
from credit.app import App
from credit.db.engine import make_engine, refresh_statistics
from credit.services.research_batch import _earlier_ratings
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, scratch_postgres

AS_OF = date(2027, 3, 1)


def _plans(url: str) -> list[str]:
    """SQLite's plan of every statement that reading the earlier ratings of 100 customers runs."""
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))
    engine = app.engine
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", seen)
    with Session(engine) as s:
        _version, policy = app.published_policy(s)
        statements.clear()
        _earlier_ratings(s, list(range(1, 101)), AS_OF, policy)
    event.remove(engine, "before_cursor_execute", seen)
    with engine.connect() as conn:
        plans = [
            " / ".join(
                str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            )
            for sql, params in statements
        ]
    engine.dispose()
    return plans


def test_refreshed_statistics_send_the_earlier_ratings_query_to_the_customer_index(tmp_path):
    url = f"sqlite:///{tmp_path / 'portfolio.db'}"
    generate(url, customers=400, invoices=800, seed=3, as_of=AS_OF, lines_share=1.0, due_share=1.0)

    engine = make_engine(url)
    assert refresh_statistics(engine) == ["*"]
    with engine.connect() as conn:
        analyzed = {r[0] for r in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
    engine.dispose()
    assert {"credit_assessment", "invoice", "customer"} <= analyzed

    plans = _plans(url)
    assert plans and all("ix_credit_assessment_customer_id" in p for p in plans), plans


def test_postgresql_tables_never_analyzed_or_much_changed_are_analyzed_once():
    # The servers here run without autovacuum: nothing else would ever analyze them.
    with scratch_postgres() as url:
        generate(url, customers=300, invoices=600, seed=3, as_of=AS_OF, lines_share=1.0)
        engine = make_engine(url)
        analyzed = refresh_statistics(engine)
        assert {"credit_assessment", "invoice", "customer"} <= set(analyzed)
        with engine.connect() as conn:
            never = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.reltuples < 0"
            ).scalar_one()
        assert never == 0
        assert refresh_statistics(engine) == []  # current: nothing to do
        engine.dispose()
