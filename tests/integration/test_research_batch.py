"""The periodic review's research in batches decides, records, audits and notifies exactly what
researching each customer on its own does; a batch that fails is redone customer by customer."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from bench.portfolio import generate
from credit import services
from credit.app import App
from credit.db.models import AuditEvent, CreditAssessment, Customer, Notice, RiskSignal
from credit.services import research_batch
from credit.services.research_batch import research_customers, research_one
from credit.settings import Settings
from tests.conftest import TEST_COMPANY

AS_OF = date(2027, 3, 1)
# Later than the portfolio's day: some yearly lines' ratings are too old to carry over, so those
# assessments wait for an analyst; the scan flags customers with high signals.
DAY = AS_OF + timedelta(days=40)
REQUESTER = "ben.manager"
NOW = datetime(2027, 4, 10, 9, 30, tzinfo=UTC)  # when analysts are asked: their due time


PORTFOLIO: dict[str, Any] = {
    "customers": 80,
    "invoices": 900,
    "seed": 17,
    "as_of": AS_OF,
    "lines_share": 1.0,
    "due_share": 0.6,
}


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> Any:
    source = tmp_path_factory.mktemp("research-batch") / "portfolio.db"
    generate(f"sqlite:///{source}", **PORTFOLIO)
    return source


def copy(portfolio, tmp_path, name: str) -> App:
    target = tmp_path / f"{name}.db"
    shutil.copyfile(portfolio, target)
    return App(
        Settings.load(
            env_file=None, environ={"CREDIT_DATABASE_URL": f"sqlite:///{target}", **TEST_COMPANY}
        )
    )


def due_list(app: App) -> list[dict[str, Any]]:
    """Half the customers scanned first (high signals flag some for review); research finds
    the other half's signals itself. Every fifth customer also has an open broken promise
    (collections records those; research does not find them), some too old to count."""
    ids = with_broken_promises(app)
    services.scan_risk(app, as_of=DAY, customer_ids=ids[: len(ids) // 2])
    return services.due_reviews(app, as_of=DAY)


def with_broken_promises(app: App) -> list[int]:
    """Every customer's id; every fifth customer gets an open broken promise (a high one, or a
    medium one every tenth), some too old to count."""
    with app.uow() as uow:
        ids = list(uow.session.exec(select(Customer.id).order_by(col(Customer.id))))
        for n, c in enumerate(uow.session.exec(select(Customer).order_by(col(Customer.id)))):
            if n % 5 == 0:
                uow.session.add(
                    RiskSignal(
                        fingerprint=f"{c.code}:broken_promise:{n}", customer_id=c.id,
                        kind="broken_promise", severity="high" if n % 10 else "medium",
                        detail="promise not kept",
                        detected_on=DAY - timedelta(days=20 if n % 15 else 400),
                    )
                )  # fmt: skip
        uow.commit()
    return ids


def key(r: dict[str, Any]) -> tuple:
    score = r.get("score")
    return (r["customer"], r.get("assessment_id"), str(r["status"]), r.get("rating"),
            Decimal(score) if score else None)  # fmt: skip


def clockless(after: Any) -> Any:
    return {k: v for k, v in after.items() if k != "due_at"} if isinstance(after, dict) else after


def recorded(app: App) -> dict[str, Any]:
    """Everything research wrote, without clock times and hashes."""
    with app.uow() as uow:
        s = uow.session
        assessments = [
            a.model_dump(exclude={"created_at", "completed_at", "qualitative_due_at"})
            for a in s.exec(select(CreditAssessment).order_by(col(CreditAssessment.id)))
        ]
        signals = [
            r.model_dump(exclude={"detected_at"})
            for r in s.exec(select(RiskSignal).order_by(col(RiskSignal.id)))
        ]
        flags = sorted(
            (c.code, c.review_flagged_on, c.review_flag_reason) for c in s.exec(select(Customer))
        )
        events: dict[str, list[tuple]] = {}
        for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.id))):
            events.setdefault(e.entity_id, []).append(
                (e.actor, e.action, e.before, clockless(e.after), e.reason, e.policy_version)
            )
        sent = sorted(
            (n.idempotency_key, n.kind, n.customer_id, tuple(n.recipients), n.subject, n.text)
            for n in s.exec(select(Notice))
        )
    return {
        "assessments": assessments,
        "signals": signals,
        "flags": flags,
        "events": events,
        "notices": sent,
    }


def test_batches_write_what_one_customer_at_a_time_writes(portfolio, tmp_path, caplog):
    one, many = copy(portfolio, tmp_path, "one"), copy(portfolio, tmp_path, "many")
    due = due_list(one)
    assert due == due_list(many)
    signals_before = len(recorded(one)["signals"])
    alone = [research_one(one, item, as_of=DAY, requested_by=REQUESTER, now=NOW) for item in due]
    batched = research_customers(
        many, due=due, as_of=DAY, requested_by=REQUESTER, batch_size=7, now=NOW
    )
    assert "rolled back" not in caplog.text  # every batch went through as one

    assert batched == alone
    statuses = [r["status"] for r in batched]
    reasons = {r.get("reason") for r in batched}
    # The portfolio exercises every branch: carried-over ratings, analysts asked, risk signals.
    assert statuses.count("complete") > 5 and statuses.count("awaiting_qualitative") > 0, statuses
    assert "scheduled" in reasons and any(r.startswith("risk signal") for r in reasons if r)
    a, b = recorded(one), recorded(many)
    made = [x for x in a["assessments"] if x["review_key"].startswith("periodic:")]
    assert len(made) == len(due) and any(s["reviewed_in"] for s in a["signals"])
    # the policy's risk effects apply alike, to signals research found and to open ones
    effects = [x["inputs"]["risk_effects"] for x in made if "risk_effects" in x["inputs"]]
    sources = {s["source"] for e in effects if e["lines"] for s in e["signals"]}
    assert sources == {"research", "open"}, sources
    for part in a:
        assert a[part] == b[part], part
    # every signal research recorded is in the audit trail, once
    audited = [e for events in a["events"].values() for e in events if e[1] == "risk.signal"]
    new_signals = a["signals"][signals_before:]
    assert new_signals and len([e for e in audited if e[4] in {
        s["fingerprint"].partition(":")[2] for s in new_signals
    }]) >= len(new_signals)  # fmt: skip

    again = research_customers(many, due=due, as_of=DAY, requested_by=REQUESTER, batch_size=7)
    # a rerun returns the assessments already made
    assert [key(r) for r in again] == [key(r) for r in batched]
    assert recorded(many) == b


def test_a_batch_that_fails_is_redone_customer_by_customer(portfolio, tmp_path, monkeypatch):
    healthy, failing = copy(portfolio, tmp_path, "healthy"), copy(portfolio, tmp_path, "failing")
    due = due_list(healthy)
    assert due == due_list(failing)
    expected = research_customers(
        healthy, due=due, as_of=DAY, requested_by=REQUESTER, batch_size=10, now=NOW
    )
    unlucky = due[13]["customer"]
    real = research_batch.load_raw_many
    failed: list[int] = []

    def unreadable(s, customers, as_of, tolerance):
        if any(c.code == unlucky for c in customers):
            failed.append(len(customers))
            raise RuntimeError("statements unreadable")
        return real(s, customers, as_of, tolerance)

    monkeypatch.setattr(research_batch, "load_raw_many", unreadable)
    seen: list[int] = []
    got = research_customers(
        failing,
        due=due,
        as_of=DAY,
        requested_by=REQUESTER,
        batch_size=10,
        now=NOW,
        after_batch=seen.append,
    )
    assert failed == [10]  # the second batch failed once and was rolled back
    assert got == expected and sum(seen) == len(due)
    assert recorded(failing) == recorded(healthy)


def test_customers_that_cannot_start_are_reported_and_the_rest_researched(portfolio, tmp_path):
    app = copy(portfolio, tmp_path, "refused")
    due = due_list(app)
    first = due[0]
    research_one(app, first, as_of=DAY, requested_by=REQUESTER)  # made already: returned again
    blocked = due[1]
    blocked_key = f"manual:{blocked['customer']}"
    services.collect_customer_data(
        app,
        customer_code=blocked["customer"],
        as_of=DAY,
        requested_by=REQUESTER,
        review_key=blocked_key,
    )  # a manual review collected and not scored yet: the periodic one must not start
    gone = {**due[2], "customer": "NO-SUCH", "review_key": "periodic:NO-SUCH:2027-01-01"}
    items = [first, blocked, gone, *due[3:6]]
    out = research_customers(app, due=items, as_of=DAY, requested_by=REQUESTER)
    assert [r["customer"] for r in out] == [i["customer"] for i in items]
    assert out[0]["status"] != "not started"
    assert out[1]["status"] == "not started"
    assert (
        "already has assessment" in out[1]["error"] and "waiting for ben.manager" in out[1]["error"]
    )
    assert out[2] == {
        "customer": "NO-SUCH",
        "status": "not started",
        "error": "no customer with code 'NO-SUCH'",
    }
    assert all(r["status"] != "not started" for r in out[3:])

    nobody = research_customers(app, due=due[6:8], as_of=DAY, requested_by="nobody")
    assert [r["status"] for r in nobody] == ["not started"] * 2
    assert "not in the approver directory" in nobody[0]["error"]


def test_research_reads_the_exposure_collections_sees_for_every_customer(portfolio, tmp_path):
    """Research takes exposure from its own read of the ledger; it must equal the open items'."""
    app = copy(portfolio, tmp_path, "exposure")
    from credit.services.ledger import exposure, load_raw_many

    with app.uow() as uow:
        s = uow.session
        customers = list(s.exec(select(Customer).order_by(col(Customer.id))))
        owing = []
        for day in (AS_OF - timedelta(days=60), AS_OF, DAY):
            read = load_raw_many(s, customers, day)
            owed = {c.code: exposure(s, c.id, day) for c in customers}
            assert {c.code: read[c.id][1] for c in customers} == owed, day
            owing.append(sum(1 for v in owed.values() if any(v.values())))
    assert min(owing) > len(customers) // 2, owing  # most customers owe something each day
