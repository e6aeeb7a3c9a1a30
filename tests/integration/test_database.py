"""Migrations, exact money and the append-only audit trail on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, func, select

from credit.db.engine import make_engine
from credit.db.migrate import current_revision, downgrade, head_revision, upgrade
from credit.db.models import AuditEvent, Customer, Invoice
from tests.conftest import TEST_COMPANY, postgres_url

EXTREMES = [
    "0.0001",
    "-0.0001",
    "99999999999999.9999",
    "-99999999999999.9999",
    "123456789.1234",
    "0",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield eng
        eng.dispose()
        return
    base = make_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"credit_test_{uuid.uuid4().hex[:10]}"
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(base.url.set(database=name).render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    base.dispose()


def test_migrations_upgrade_downgrade_and_upgrade_again(engine):
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_statements_stored_before_0008_are_in_their_customers_currency(engine):
    upgrade(engine, "0007")
    with engine.begin() as conn:
        for code, currency in (("C1", "EUR"), ("C2", "USD")):
            conn.execute(
                text(
                    "INSERT INTO customer (code, name, email, country, currency, locale, "
                    "sales_owner_email, created_at, updated_at) VALUES (:c, 'N', 'a@b.cd', 'DE', "
                    ":cur, 'en', 's@b.cd', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"c": code, "cur": currency},
            )
            conn.execute(
                text(
                    "INSERT INTO financial_statement (customer_id, period_end, revenue, net_income, "
                    "total_assets, total_liabilities, current_assets, current_liabilities, "
                    "operating_cash_flow, created_at) SELECT id, '2025-12-31', 1, 1, 1, 1, 1, 1, 1, "
                    "'2026-01-01 00:00:00' FROM customer WHERE code = :c"
                ),
                {"c": code},
            )
    upgrade(engine)
    with engine.connect() as conn:
        found = dict(
            conn.execute(
                text(
                    "SELECT c.code, s.currency FROM financial_statement s "
                    "JOIN customer c ON c.id = s.customer_id"
                )
            ).all()
        )
    assert found == {"C1": "EUR", "C2": "USD"}
    downgrade(engine, "0007")
    assert current_revision(engine) == "0007"


def _customer(session: Session) -> Customer:
    c = Customer(
        code="C1",
        name="N",
        email="a@b.cd",
        country="DE",
        currency="EUR",
        sales_owner_email="s@b.cd",
    )
    session.add(c)
    session.flush()
    return c


def test_money_round_trips_exactly_including_extremes(engine):
    upgrade(engine)
    with Session(engine) as s:
        c = _customer(s)
        for i, amount in enumerate(EXTREMES):
            s.add(
                Invoice(
                    customer_id=c.id,
                    number=f"I{i}",
                    issue_date=date(2026, 1, 1),
                    due_date=date(2026, 2, 1),
                    amount=Decimal(amount),
                    currency="EUR",
                )
            )
        s.commit()
    with Session(engine) as s:
        got = {i.number: i.amount for i in s.exec(select(Invoice))}
    for i, amount in enumerate(EXTREMES):
        assert got[f"I{i}"] == Decimal(amount)
        assert isinstance(got[f"I{i}"], Decimal)


def test_sum_of_ten_thousand_amounts_in_sql_is_exact(engine):
    upgrade(engine)
    amounts = [Decimal(f"{(i * 7919) % 100000}.{i % 100:02d}") for i in range(10_000)]
    with Session(engine) as s:
        c = _customer(s)
        s.add_all(
            Invoice(
                customer_id=c.id,
                number=f"I{i}",
                issue_date=date(2026, 1, 1),
                due_date=date(2026, 2, 1),
                amount=a,
                currency="EUR",
            )
            for i, a in enumerate(amounts)
        )
        s.commit()
        total = s.exec(select(func.sum(Invoice.amount))).one()
    assert total == sum(amounts)
    print(f"sum of {len(amounts)} amounts on {engine.dialect.name}: {total}")


def test_amount_beyond_the_maximum_is_refused_not_truncated(engine):
    upgrade(engine)
    with Session(engine) as s:
        c = _customer(s)
        s.add(
            Invoice(
                customer_id=c.id,
                number="BIG",
                issue_date=date(2026, 1, 1),
                due_date=date(2026, 2, 1),
                amount=Decimal("100000000000000"),
                currency="EUR",
            )
        )
        with pytest.raises(Exception, match="larger than the maximum"):
            s.commit()


def test_floats_are_refused_for_money(engine):
    upgrade(engine)
    with Session(engine) as s:
        c = _customer(s)
        s.add(
            Invoice(
                customer_id=c.id,
                number="F",
                issue_date=date(2026, 1, 1),
                due_date=date(2026, 2, 1),
                amount=0.1,
                currency="EUR",
            )
        )  # type: ignore[arg-type]
        with pytest.raises(Exception, match="never a float"):
            s.commit()


def test_audit_trail_refuses_update_and_delete(engine):
    upgrade(engine)
    with Session(engine) as s:
        s.add(AuditEvent(actor="a", action="x", entity_type="t", entity_id="1", reason="r"))
        s.commit()
    for statement in ("UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"):
        with (
            engine.connect() as conn,
            pytest.raises((IntegrityError, DBAPIError), match="append-only"),
        ):
            conn.execute(text(statement))
            conn.commit()
    with Session(engine) as s:
        assert [e.actor for e in s.exec(select(AuditEvent))] == ["a"]


def test_sqlalchemy_warnings_fail_the_test_run():
    """A Decimal squeezed through a float column warns in SQLAlchemy; the suite makes every
    SQLAlchemy warning an error (pyproject's filterwarnings), so such a slip cannot pass."""
    import warnings

    from sqlalchemy import exc as sa_exc
    from sqlalchemy import util

    assert any(f[0] == "error" and f[2] is sa_exc.SAWarning for f in warnings.filters), (
        warnings.filters[:5]
    )
    with pytest.raises(sa_exc.SAWarning):
        util.warn("Dialect sqlite+pysqlite does *not* support Decimal objects natively")


def _outbox(engine, statuses: list[str]) -> None:
    """A migrated outbox holding one notice per status given (keys k0, k1 ...), analysed."""
    from sqlalchemy import insert

    from credit.db.models import Notice, utcnow

    upgrade(engine)
    with Session(engine) as s:
        s.execute(
            insert(Notice),
            [
                {"idempotency_key": f"k{i}", "kind": "k", "locale": "en", "recipients": ["a@b.c"],
                 "subject": "s", "text": "t", "html": "h", "attempts": 1, "created_at": utcnow(),
                 "status": status}
                for i, status in enumerate(statuses)
            ],
        )  # fmt: skip
        if engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE notice"))
        s.commit()


@contextmanager
def _plan_of_what_runs(engine, matches: str) -> Iterator[list[str]]:
    """The query plan of the last statement containing ``matches`` that ran inside the block,
    with the parameters it really had (appended to the yielded list on exit)."""
    from sqlalchemy import event

    sent: list = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if matches in statement:
            sent.append((statement, parameters))

    plan: list[str] = []
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield plan
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = sent[-1]
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        plan.extend(str(r) for r in conn.exec_driver_sql(explain + statement, parameters))
    print(f"{engine.dialect.name}: {' '.join(plan)}")


def test_a_delivery_claim_reads_the_index_of_unsent_notices_not_the_whole_outbox(engine):
    """However many notices were sent before, a claim finds the next one through the partial
    index that holds only the unsent (the plan would otherwise walk or sort the outbox). The
    plan checked is the one of the statement a claim really sends, with its parameters."""
    from credit.db.models import utcnow
    from credit.notices import claim

    _outbox(engine, ["sent"] * 3000 + ["pending"] * 10)
    with Session(engine) as s, _plan_of_what_runs(engine, "UPDATE notice") as plan:
        [(first, _)] = claim(s, utcnow(), 1, None)
    assert "ix_notice_unsent" in " ".join(plan)
    assert first.id == 3001  # the oldest unsent


def test_listing_failed_notices_reads_the_index_of_failed_notices(engine):
    """`credit notices list --status failed` (the operator's recovery path) does not scan the
    outbox's history: the partial index of failed notices serves it."""
    from credit.app import App
    from credit.services import list_notices
    from credit.settings import Settings

    _outbox(engine, ["failed" if i % 1000 == 999 else "sent" for i in range(3000)])
    url = engine.url.render_as_string(hide_password=False)
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))
    try:
        with _plan_of_what_runs(app.engine, "FROM notice") as plan:
            rows = list_notices(app, customer_code=None, kind=None, status="failed")
    finally:
        app.engine.dispose()
    assert [r["key"] for r in rows] == ["k999", "k1999", "k2999"]
    assert "ix_notice_failed" in " ".join(plan)


def test_many_rows_copied_in_bulk_read_back_as_an_insert_writes_them(engine):
    """PostgreSQL takes a batch's dunning steps, item levels and audit events by COPY: JSON,
    money, dates, enums and column defaults come back as a multi-row insert writes them."""
    from sqlalchemy import insert

    from credit.db.bulk import insert_rows
    from credit.db.models import DunningAction
    from credit.db.tables import table_of
    from credit.domain.dunning import OutcomeStatus

    upgrade(engine)
    with Session(engine) as s:
        customer = Customer(code="C1", name="N", email="a@b.cd", country="DE", currency="EUR",
                            locale="en", sales_owner_email="s@b.cd")  # fmt: skip
        s.add(customer)
        s.commit()

        def rows(currency: str) -> list[dict]:
            return [
                {"customer_id": customer.id, "currency": currency, "episode": n, "level": 1,
                 "level_name": OutcomeStatus.SENT, "as_of": date(2026, 1, 1) + timedelta(days=n),
                 "invoice_numbers": [f"INV-{n}", "Ä €"], "overdue_total": Decimal(EXTREMES[n % 6]),
                 "policy_version": 3, "details": {"fee": "5.00", "n": n} if n % 2 else None}
                for n in range(60)
            ]  # fmt: skip

        table = table_of(DunningAction)
        insert_rows(s, table, rows("EUR"))
        s.execute(insert(table), rows("USD"))
        s.commit()
        got = {
            cur: sorted(
                (a.episode, a.level_name, a.as_of, a.invoice_numbers, a.overdue_total, a.details,
                 a.channel)
                for a in s.exec(select(DunningAction).where(DunningAction.currency == cur))
            )
            for cur in ("EUR", "USD")
        }  # fmt: skip
    assert len(got["EUR"]) == 60 and got["EUR"] == got["USD"]
    assert got["EUR"][1][-1] == "email"  # the column's default


@pytest.mark.parametrize("count", [3, 120])
def test_rows_inserted_with_their_new_ids_get_those_ids_in_order(engine, count):
    """insert_returning_ids: few rows by INSERT ... RETURNING, many (PostgreSQL) by ids taken
    from the sequence and COPY; on SQLite the next ids after the largest. Either way the id
    given for a row is the row's, ascending, and a later plain insert gets a new one."""
    from credit.db.tables import insert_returning_ids, table_of

    upgrade(engine)
    rows = [
        {"code": f"C{n:04}", "name": f"Name {n}", "email": "a@b.cd", "country": "DE",
         "currency": "EUR", "sales_owner_email": "s@b.cd"}
        for n in range(count)
    ]  # fmt: skip
    with Session(engine) as s:
        s.add(Customer(code="FIRST", name="N", email="a@b.cd", country="DE", currency="EUR",
                       sales_owner_email="s@b.cd"))  # fmt: skip
        s.commit()
        ids = insert_returning_ids(s, table_of(Customer), rows)
        s.commit()
        later = Customer(code="LATER", name="N", email="a@b.cd", country="DE", currency="EUR",
                         sales_owner_email="s@b.cd")  # fmt: skip
        s.add(later)
        s.commit()
        later_id = later.id
        stored = dict(s.exec(select(Customer.id, Customer.code)).all())
    assert ids == sorted(ids) and len(set(ids)) == count
    assert [stored[i] for i in ids] == [r["code"] for r in rows]
    assert later_id is not None and later_id > max(ids)
