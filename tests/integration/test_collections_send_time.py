"""The send-time check under real concurrency: a payment being imported while a collections run
reaches the customer. The import holds the customer's lock; the run waits for it, then re-reads the
balance and sends nothing. On SQLite and PostgreSQL, with real threads and connections."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from credit import services
from credit.app import App
from credit.db.locks import lock_customers
from credit.db.models import Customer, DunningAction, Invoice, Notice, Payment
from credit.settings import Settings
from tests.conftest import scratch_postgres

DAY = date(2027, 3, 2)  # a Tuesday


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, credit_env, monkeypatch):
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


def test_a_payment_committed_while_the_run_waits_means_no_notice(desk: App):
    with desk.uow() as uow:
        s = uow.session
        c = Customer(code="RACE", name="Race GmbH", email="ap@race.example", country="DE",
                     currency="EUR", sales_owner_email="sales@example.com")  # fmt: skip
        s.add(c)
        s.flush()
        inv = Invoice(customer_id=c.id, number="RACE-1", issue_date=date(2027, 1, 1),
                      due_date=date(2027, 2, 1), amount=Decimal("500.00"), currency="EUR")  # fmt: skip
        s.add(inv)
        uow.commit()
        cid, iid = c.id, inv.id
    [planned] = services.dun_customer(desk, customer_id=cid, as_of=DAY, dry_run=True)
    assert planned.status == "would_send"  # selected: a reminder is due

    importing = desk.uow().__enter__()  # an import in progress: lock taken, payment not committed
    lock_customers(importing.session, [cid])
    importing.session.add(
        Payment(
            customer_id=cid,
            reference="PAY-RACE",
            paid_on=DAY,
            amount=Decimal("500.00"),
            currency="EUR",
            method="bank_transfer",
            invoice_id=iid,
        )  # fmt: skip
    )
    importing.session.flush()

    result: dict = {}

    def run() -> None:
        result["outcomes"] = services.dun_customer(
            desk, customer_id=cid, as_of=DAY, dry_run=False, expected={"EUR": 1}
        )

    runner = threading.Thread(target=run)
    started = time.monotonic()
    runner.start()
    time.sleep(1.0)
    assert runner.is_alive()  # the run waits for the customer's lock
    importing.commit()
    importing.session.close()
    runner.join(timeout=60)
    waited = time.monotonic() - started
    [outcome] = result["outcomes"]
    print(f"run waited {waited:.2f} s for the import; outcome {outcome.status}: {outcome.reason}")
    assert waited >= 1.0
    assert outcome.status == "skipped" and "level 1 was planned" in outcome.reason
    with desk.uow() as uow:
        assert uow.session.exec(select(Notice)).all() == []
        assert uow.session.exec(select(DunningAction)).all() == []
