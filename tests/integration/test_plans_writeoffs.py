"""Instalment plans and write-offs, table-driven on SQLite and PostgreSQL.

The compact policy of the collections ledgers (reminder 1 day after the due date, then a level
every 5 days), with one grace day for promises: an instalment due on the 10th is judged by the run
of the 12th. Write-offs are approved by the policy's write-off levels: a credit manager up to
5,000.00 EUR, a finance director up to 50,000.00, the CFO above.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import (
    ApprovalStep,
    AuditEvent,
    Customer,
    DunningAction,
    Invoice,
    Notice,
    Payment,
    PaymentPromise,
    RiskSignal,
)
from credit.db.models_plans import PromiseInstalment
from credit.resources import resource_dir
from credit.settings import Settings
from tests.conftest import scratch_postgres

DUNNING = {
    "tolerance": "10.00",
    "promise_grace_days": 1,
    "levels": [
        {"level": 1, "name": "reminder", "label": "Payment reminder", "trigger": "after_due",
         "days": 1, "template": "dunning_reminder"},
        {"level": 2, "name": "second_notice", "label": "Second notice",
         "trigger": "after_previous", "days": 5, "template": "dunning_second_notice"},
        {"level": 3, "name": "final_demand", "label": "Final demand", "trigger": "after_previous",
         "days": 5, "template": "dunning_final_demand"},
    ],
}  # fmt: skip


def day(d: int, month: int = 3) -> date:
    return date(2027, month, d)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch):
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    body["dunning"] = DUNNING
    path = credit_env / "policy.yaml"
    path.write_text(yaml.safe_dump(body))
    monkeypatch.setenv("CREDIT_POLICY_FILE", str(path))
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


def ledger(app: App, code: str, *invoices: tuple[str, str]) -> None:
    """A customer in Germany with invoices (number, amount) due on 26 February 2027."""
    with app.uow() as uow:
        s = uow.session
        c = Customer(code=code, name=f"{code.title()} GmbH", email=f"ap@{code.lower()}.example",
                     country="DE", currency="EUR", sales_owner_email="sales@example.com")  # fmt: skip
        s.add(c)
        s.flush()
        for number, amount in invoices:
            s.add(Invoice(customer_id=c.id, number=number, issue_date=day(1, 2),
                          due_date=day(26, 2), amount=Decimal(amount), currency="EUR"))  # fmt: skip
        uow.commit()


def pay(app: App, code: str, on: date, amount: str) -> None:
    with app.uow() as uow:
        s = uow.session
        c = s.exec(select(Customer).where(Customer.code == code)).one()
        s.add(Payment(customer_id=c.id, reference=f"P-{code}-{on.isoformat()}", paid_on=on,
                      amount=Decimal(amount), currency="EUR", method="bank_transfer"))  # fmt: skip
        uow.commit()


def run(app: App, d: date) -> list[str]:
    """The day's run: each outcome as 'CODE status level_name: reason'."""
    ids = services.collection_candidates(app, as_of=d)
    done = services.dun_customers(app, customer_ids=ids, as_of=d, dry_run=False)
    return [f"{o['customer']} {o['status']} {o['level_name']}: {o['reason']}" for o in done]


def steps(app: App) -> list[tuple[date, str]]:
    with app.uow() as uow:
        rows = uow.session.exec(select(DunningAction).order_by(col(DunningAction.id))).all()
    return [(a.as_of, a.level_name) for a in rows]


# --------------------------------------------------------------------------- instalment plans

PLAN_DAYS = {  # the run's outcome each day (days left out: nothing happens worth a line)
    day(1): "PLAN sent reminder: ",
    day(6): "PLAN promised reminder: cora.collector agreed a plan of 2 instalments (1000.00 EUR): "
    "next 500.00 EUR by 2027-03-10",
    day(11): "PLAN promised reminder: cora.collector agreed a plan of 2 instalments (1000.00 EUR): "
    "next 500.00 EUR by 2027-03-10",  # the grace day: not judged yet
    day(12): "PLAN promised reminder: instalment 1 (EUR 500.00 by 2027-03-10) kept: paid "
    "EUR 500.00 of EUR 500.00 due so far; cora.collector agreed a plan of 2 instalments "
    "(1000.00 EUR): next 500.00 EUR by 2027-03-17",
    day(18): "PLAN promised reminder: cora.collector agreed a plan of 2 instalments (1000.00 EUR): "
    "next 500.00 EUR by 2027-03-17",
    day(19): "PLAN sent second_notice: instalment 2 (EUR 500.00 by 2027-03-17) broken: paid "
    "EUR 500.00 of EUR 1,000.00 due so far; the plan is broken (a high risk signal is raised); "
    "broken promise: one level up at once",
    day(
        22
    ): "PLAN nothing_due second_notice: level 3 (final_demand) is due on 2027-03-24 for PLAN-1",
    day(24): "PLAN sent final_demand: ",
}


def test_an_instalment_plan_with_one_instalment_kept_and_one_broken(desk: App):
    ledger(desk, "PLAN", ("PLAN-1", "1000.00"))
    for bad, why in [
        ([(day(24), "500"), (day(10), "500")], "the instalment dates must ascend"),
        ([(day(10), "500"), (day(24), "600")], "owes EUR 1,000.00 in all"),
        ([(day(10), "1000")], "at least two instalments"),
        ([(day(10), "500"), (day(10, 4) + timedelta(days=365), "500")], "plans.max_plan_days"),
    ]:
        with pytest.raises(services.ServiceError, match=why):
            services.record_promise(
                desk, customer_code="PLAN", amount=sum(Decimal(a) for _, a in bad),
                promised_for=bad[-1][0], by="cora.collector", as_of=day(3),
                instalments=[(d, Decimal(a)) for d, a in bad],
            )  # fmt: skip
    got = {}
    for d in [day(n) for n in (1, 3, 6, 10, 11, 12, 17, 18, 19, 22, 24)]:
        if d == day(3):
            result = services.record_promise(
                desk, customer_code="PLAN", amount=Decimal("1000.00"), promised_for=day(17),
                by="cora.collector", as_of=d,
                instalments=[(day(10), Decimal("500.00")), (day(17), Decimal("500.00"))],
            )  # fmt: skip
            assert result["instalments"] == [
                {"due_on": "2027-03-10", "amount": "500.00"},
                {"due_on": "2027-03-17", "amount": "500.00"},
            ]
        if d == day(10):
            pay(desk, "PLAN", d, "500.00")  # the first instalment, on its day
        [outcome] = run(desk, d)
        if d in PLAN_DAYS:
            got[d] = outcome
    assert got == PLAN_DAYS
    assert steps(desk) == [(day(1), "reminder"), (day(19), "second_notice"),
                           (day(24), "final_demand")]  # fmt: skip
    with desk.uow() as uow:
        s = uow.session
        [promise] = s.exec(select(PaymentPromise)).all()
        assert (promise.status, promise.settled_on, promise.paid) == (
            "broken", day(19), Decimal("500.00"))  # fmt: skip
        rows = s.exec(select(PromiseInstalment).order_by(col(PromiseInstalment.seq))).all()
        assert [(r.status, r.settled_on, r.paid) for r in rows] == [
            ("kept", day(12), Decimal("500.00")), ("broken", day(19), Decimal("500.00"))]  # fmt: skip
        [signal] = s.exec(select(RiskSignal)).all()
        assert (signal.kind, signal.severity) == ("broken_promise", "high")
        actions = [e.action for e in s.exec(select(AuditEvent)) if e.action.startswith("promise.")]
        assert actions == ["promise.recorded", "promise.instalment_kept",
                           "promise.instalment_broken", "promise.broken"]  # fmt: skip
    file = services_case_file(desk, "PLAN", day(24))
    assert [i["status"] for i in file["promises"][0]["instalments"]] == ["kept", "broken"]


def services_case_file(app: App, code: str, on: date) -> dict:
    from credit.services.casework.case_file import case_file

    return case_file(app, customer_code=code, as_of=on, viewer="cora.collector")


# --------------------------------------------------------------------------- write-offs


def decide(app: App, write_off_id: int, who: str, approve: bool = True, comment: str = "ok"):
    return services.decide(app, subject="write_off", subject_id=write_off_id, username=who,
                           approve=approve, comment=comment, as_of=day(4))  # fmt: skip


def test_write_offs_approved_at_two_levels_rejected_and_refused(desk: App):
    ledger(desk, "BAD", ("BAD-1", "4000.00"), ("BAD-2", "3000.00"))
    ledger(desk, "SOUR", ("SOUR-1", "800.00"))
    assert sorted(run(desk, day(1))) == ["BAD sent reminder: ", "SOUR sent reminder: "]

    with pytest.raises(services.ServiceError, match=(
        "sam.sales may not propose a write-off: that takes the role collector .* has sales"
    )):  # fmt: skip
        services.propose_write_off(desk, customer_code="BAD", currency="EUR", invoices=[],
                                   reason="insolvent", by="sam.sales", as_of=day(3))  # fmt: skip
    with pytest.raises(services.ServiceError, match="'BAD-9' is not an open item of BAD in EUR"):
        services.propose_write_off(desk, customer_code="BAD", currency="EUR", invoices=["BAD-9"],
                                   reason="insolvent", by="cora.collector", as_of=day(3))  # fmt: skip

    big = services.propose_write_off(desk, customer_code="BAD", currency="EUR", invoices=[],
                                     reason="insolvent: the administrator pays nothing",
                                     by="cora.collector", as_of=day(3))  # fmt: skip
    assert (big["amount"], [i["invoice"] for i in big["items"]]) == ("7000.00", ["BAD-1", "BAD-2"])
    assert big["waiting_for"].startswith("level 1 (credit_manager)")
    small = services.propose_write_off(desk, customer_code="SOUR", currency="EUR",
                                       invoices=["SOUR-1"], reason="not worth a court case",
                                       by="cora.collector", as_of=day(3))  # fmt: skip
    with pytest.raises(services.ServiceError, match="SOUR-1 is already in write-off 2"):
        services.propose_write_off(desk, customer_code="SOUR", currency="EUR", invoices=[],
                                   reason="again", by="cora.collector", as_of=day(3))  # fmt: skip
    listed = {(p["subject"], p["id"], p["level"], p["role"])
              for p in services.pending_approvals(desk)}  # fmt: skip
    assert listed == {("write_off", 1, 1, "credit_manager"), ("write_off", 2, 1, "credit_manager")}

    # 7,000.00 EUR is above level 1's 5,000.00: a credit manager, then a finance director
    with pytest.raises(services.DecisionRefused, match="cora.collector requested this"):
        decide(desk, big["id"], "cora.collector")
    decide(desk, big["id"], "carla.manager")
    assert services.list_write_offs(desk, status="in_approval")[1]["id"] == big["id"]
    decide(desk, big["id"], "fiona.director")
    # 800.00 EUR needs one level; a credit manager rejects it
    decide(desk, small["id"], "ben.manager", approve=False, comment="they pay in instalments")

    [sour, bad] = services.list_write_offs(desk)
    assert (bad["status"], bad["booked"], bad["decided_on"]) == (
        "approved",
        "7000.00",
        "2027-03-04",
    )
    assert [(i["invoice"], i["credit_note"]) for i in bad["items"]] == [
        ("BAD-1", f"WO-{big['id']}-1"), ("BAD-2", f"WO-{big['id']}-2")]  # fmt: skip
    assert (sour["status"], sour["booked"]) == ("rejected", None)
    with desk.uow() as uow:
        s = uow.session
        notes = s.exec(select(Invoice).where(col(Invoice.number).startswith("WO-"))).all()
        assert sorted((n.number, n.amount, n.issue_date) for n in notes) == [
            (f"WO-{big['id']}-1", Decimal("-4000.00"), day(4)),
            (f"WO-{big['id']}-2", Decimal("-3000.00"), day(4)),
        ]
        chain = s.exec(select(ApprovalStep).where(ApprovalStep.subject == "write_off")
                       .order_by(col(ApprovalStep.id))).all()  # fmt: skip
        assert [(st.subject_id, st.level, st.role, st.decision, st.decided_by) for st in chain] == [
            (1, 1, "credit_manager", "approved", "carla.manager"),
            (1, 2, "finance_director", "approved", "fiona.director"),
            (2, 1, "credit_manager", "rejected", "ben.manager"),
        ]
        kinds = sorted(n.kind for n in s.exec(select(Notice)) if n.kind.startswith("write_off"))
        assert kinds == ["write_off_booked", "write_off_needed", "write_off_needed",
                         "write_off_needed", "write_off_rejected"]  # fmt: skip
        actions = [e.action for e in s.exec(select(AuditEvent)) if e.action.startswith("write_off")]
        assert actions.count("write_off.booked") == 1 and "write_off.reject" in actions

    # the next run clears BAD's episode; SOUR's goes on
    assert sorted(run(desk, day(8))) == [
        "BAD cleared cleared: overdue balance paid",
        "SOUR sent second_notice: ",
    ]
    report = services.portfolio_report(desk, as_of=day(8), months=2)
    assert report["bad_debt"] == {"written_off": "7000.00", "write_offs": 1,
                                  "by_month": {"2027-03": "7000.00"},
                                  "by_rating": {"unrated": "7000.00"}, "warnings": []}  # fmt: skip
    from credit.reports import render_markdown

    charts = {"trend": "t.png", "aging": "a.png", "ratings": "r.png"}
    assert ("Written off as bad debt in the period: 7000.00 EUR (1 write-off; by rating: "
            "unrated 7000.00).") in render_markdown(report, charts)  # fmt: skip
