"""Order control, table-driven: releases of held orders decided through the approval engine (once,
expiring, never for more than released) and exemptions from the order check with an end date,
run day by day on SQLite and PostgreSQL with the exact answer expected of each step.

The ledger: ACME (limit 20,000.00 EUR, 15,000.00 open, not yet due), BIGCO (limit 100,000.00
EUR, 95,000.00 open) and PREPAID (limit 30,000.00 EUR, 40,000.00 overdue since 15 January). The
shipped authority matrix: level 1 credit manager up to 50,000, level 2 finance director up to
250,000; junior.analyst is a credit manager with an authority of 10,000. Releases last 5 days
here (``orders.release_valid_days``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import (
    AuditEvent,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    Invoice,
    Notice,
)
from credit.db.models_order_control import OrderExemption, OrderRelease
from credit.resources import resource_dir
from credit.services import ServiceError
from credit.settings import Settings
from tests.conftest import scratch_postgres


def day(d: int, month: int = 3) -> date:
    return date(2027, month, d)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    body["orders"]["release_valid_days"] = 5
    path = credit_env / "policy.yaml"
    path.write_text(yaml.safe_dump(body))
    monkeypatch.setenv("CREDIT_POLICY_FILE", str(path))
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        with a.uow() as uow:
            for code, limit, open_amount, due in (
                ("ACME", "20000", "15000.00", day(31)),
                ("BIGCO", "100000", "95000.00", day(31)),
                ("PREPAID", "30000", "40000.00", day(15, 1)),
            ):
                _customer_with_line(uow.session, code, Decimal(limit), open_amount, due)
            uow.commit()
        yield a
        a.engine.dispose()


def _customer_with_line(s, code: str, limit: Decimal, open_amount: str, due: date) -> None:
    c = Customer(
        code=code, name=f"{code.title()} GmbH", email=f"ap@{code.lower()}.example", country="DE",
        currency="EUR", sales_owner_email="sam.alvarez@example.com",
    )  # fmt: skip
    s.add(c)
    s.flush()
    a = CreditAssessment(
        review_key=f"t:{code}", customer_id=c.id, as_of=day(1, 1), policy_version=1,
        requested_by="ben.manager",
    )  # fmt: skip
    s.add(a)
    s.flush()
    r = CreditRequest(
        review_key=f"t:{code}", customer_id=c.id, assessment_id=a.id, kind="new",
        requested_by="ben.manager", recommended_limit=limit, proposed_limit=limit,
        currency="EUR", terms_days=30, rating="B", review_months=12, policy_version=1,
        status="published",
    )  # fmt: skip
    s.add(r)
    s.flush()
    s.add(
        CreditLine(
            customer_id=c.id, limit=limit, currency="EUR", terms_days=30, rating="B",
            request_id=r.id, policy_version=1, activated_on=day(1, 1),
            next_review_on=day(1, 12),
        )
    )  # fmt: skip
    s.add(
        Invoice(
            customer_id=c.id, number=f"{code}-1", issue_date=day(1, 1), due_date=due,
            amount=Decimal(open_amount), currency="EUR",
        )
    )  # fmt: skip


# --------------------------------------------------------------------------- the steps


def check(a: App, d: date, code: str, amount: str, order: str | None = None) -> str:
    r = services.check_order(
        a, customer_code=code, amount=Decimal(amount), as_of=d, order_ref=order
    )
    said = r["decision"].upper()
    if r["allowed_by"]:
        said += f" ({r['allowed_by']})"
    said += f" [{len(r['reasons'])} reasons]"
    return said + "".join(f"; {n}" for n in r["notes"])


def release(a: App, d: date, code: str, order: str, amount: str, by: str) -> str:
    r = services.request_order_release(
        a, customer_code=code, order_ref=order, amount=Decimal(amount), reason="urgent delivery",
        by=by, as_of=d,
    )  # fmt: skip
    return f"release {r['id']} {r['status']}, waiting for {r['waiting_for']}"


def approve(a: App, d: date, release_id: int, by: str, yes: bool = True) -> str:
    decided = services.record_decision(
        a, subject="order_release", subject_id=release_id, username=by, approve=yes,
        comment=None if yes else "no reason to trust them", as_of=d,
    )  # fmt: skip
    p = decided.progress
    return f"{p.status}" + (f", waiting for {p.waiting_for}" if p.waiting_for else "")


def exempt(a: App, d: date, code: str, until: date, basis: str, by: str) -> str:
    r = services.exempt_customer(
        a, customer_code=code, until=until, basis=basis, reason="paid in advance", by=by,
        as_of=d,
    )  # fmt: skip
    return f"exemption {r['id']} until {r['valid_until']}" + (
        f", ends {r['ended']}" if r["ended"] else ""
    )


def revoke(a: App, d: date, code: str, by: str) -> str:
    r = services.revoke_exemption(
        a, customer_code=code, reason="guarantee withdrawn", by=by, as_of=d
    )
    return f"exemption {r['id']} {r['status']}"


HELD_ACME = "HOLD [1 reasons]"
RELEASE_1 = "released by carla.manager on 2027-03-01 (approval 1)"
PREPAID_HELD = "HOLD [2 reasons]"  # over the limit, and an invoice 45+ days overdue

# (day, step, arguments, the answer: what it returns, or "refused: " and the refusal's start)
LEDGER: list[tuple[date, object, tuple, str]] = [
    # ACME: an order of 12,000 takes the exposure to 27,000 against a limit of 20,000
    (day(1), check, ("ACME", "12000", "SO-1"), HELD_ACME),
    (day(1), release, ("ACME", "SO-5", "1000", "sam.sales"),
     "refused: order SO-5 of ACME would be allowed (within the limit): there is nothing to release"),
    (day(1), release, ("ACME", "SO-1", "12000", "sam.sales"),
     "release 1 in_approval, waiting for level 1 (credit_manager): carla.manager"),
    (day(1), release, ("ACME", "SO-1", "12000", "sam.sales"),
     "refused: release 1 of order SO-1 already awaits approval"),
    (day(1), check, ("ACME", "12000", "SO-1"), HELD_ACME + "; release 1 of order SO-1 awaits approval"),
    (day(1), approve, (1, "sam.sales"), "refused: sam.sales requested this"),
    (day(1), approve, (1, "junior.analyst"),
     "refused: junior.analyst's authority limit 10,000.00 is below the 12,000.00 this level "
     "answers for"),
    (day(1), approve, (1, "cora.collector"),
     "refused: cora.collector does not hold the role 'credit_manager' this level requires"),
    (day(1), approve, (1, "carla.manager"), "approved"),
    (day(2), check, ("ACME", "12000", "SO-2"), HELD_ACME),  # another order: not released
    (day(2), check, ("ACME", "12000"), HELD_ACME),  # no reference: no release applies
    (day(2), check, ("ACME", "12000.01", "SO-1"),
     HELD_ACME + "; release 1 of order SO-1 covers up to EUR 12,000.00; this order is "
     "EUR 12,000.01"),
    (day(2), check, ("ACME", "4000", "SO-1"), "ALLOW [0 reasons]"),  # allowed anyway: kept
    (day(2), check, ("ACME", "11000", "SO-1"), f"ALLOW ({RELEASE_1}) [1 reasons]"),
    (day(2), check, ("ACME", "11000", "SO-1"),
     HELD_ACME + "; release 1 of order SO-1 was used on 2027-03-02 (a release is used once)"),
    # a release approved on 2 March lasts through 7 March
    (day(2), release, ("ACME", "SO-3", "12000", "sam.sales"),
     "release 2 in_approval, waiting for level 1 (credit_manager): carla.manager"),
    (day(2), approve, (2, "ben.manager"), "approved"),
    (day(8), check, ("ACME", "12000", "SO-3"),
     HELD_ACME + "; release 2 of order SO-3 expired on 2027-03-07"),
    (day(8), release, ("ACME", "SO-3", "12000", "sam.sales"),
     "release 3 in_approval, waiting for level 1 (credit_manager): carla.manager"),
    (day(8), approve, (3, "carla.manager", False), "rejected"),
    (day(8), check, ("ACME", "12000", "SO-3"), HELD_ACME + "; release 3 of order SO-3 was rejected"),
    # BIGCO: 60,000 is beyond level 1's 50,000: the finance director decides too
    (day(1), release, ("BIGCO", "SO-9", "60000", "cora.collector"),
     "release 4 in_approval, waiting for level 1 (credit_manager): carla.manager"),
    (day(1), approve, (4, "carla.manager"),
     "in_approval, waiting for level 2 (finance_director): fiona.director"),
    (day(1), approve, (4, "fiona.director"), "approved"),
    (day(3), check, ("BIGCO", "60000", "SO-9"),
     "ALLOW (released by carla.manager, fiona.director on 2027-03-01 (approval 4)) [1 reasons]"),
    # PREPAID: exempt through 10 March by someone with the authority for its 30,000 limit
    (day(1), check, ("PREPAID", "5000"), PREPAID_HELD),
    (day(1), exempt, ("PREPAID", day(10), "prepaid", "junior.analyst"),
     "refused: junior.analyst's authority limit 10,000.00 is below the customer's credit limit "
     "30,000.00 EUR"),
    (day(1), exempt, ("PREPAID", day(10), "prepaid", "cora.collector"),
     "refused: cora.collector holds none of the authority matrix's roles"),
    (day(1), exempt, ("PREPAID", day(10), "cash", "carla.manager"),
     "refused: the basis 'cash' is not one of prepaid, guarantee, letter_of_credit"),
    (day(1), exempt, ("PREPAID", date(2028, 3, 2), "prepaid", "carla.manager"),
     "refused: the end date 2028-03-02 is more than 366 days ahead"),
    (day(1), exempt, ("PREPAID", day(10), "prepaid", "carla.manager"), "exemption 1 until 2027-03-10"),
    (day(1), check, ("PREPAID", "5000"),
     "ALLOW (exempt until 2027-03-10 (prepaid, by carla.manager)) [2 reasons]"),
    (day(10), check, ("PREPAID", "500000", "SO-7"),
     "ALLOW (exempt until 2027-03-10 (prepaid, by carla.manager)) [2 reasons]"),
    (day(11), check, ("PREPAID", "5000"),
     PREPAID_HELD + "; exemption (prepaid, by carla.manager) expired on 2027-03-10"),
    (day(11), revoke, ("PREPAID", "carla.manager"),
     "refused: PREPAID has no exemption in force on 2027-03-11: nothing to revoke"),
    (day(11), exempt, ("PREPAID", day(20), "guarantee", "ben.manager"),
     "exemption 2 until 2027-03-20"),
    (day(11), exempt, ("PREPAID", day(25), "letter_of_credit", "fiona.director"),
     "exemption 3 until 2027-03-25, ends 2"),
    (day(12), revoke, ("PREPAID", "mia.analyst"), "refused: mia.analyst holds none"),
    (day(12), revoke, ("PREPAID", "carla.manager"), "exemption 3 revoked"),
    (day(12), check, ("PREPAID", "5000"),
     PREPAID_HELD + "; exemption (letter of credit, by fiona.director) revoked on 2027-03-12 by "
     "carla.manager"),
]  # fmt: skip


def test_order_control_ledger(desk: App):
    got = []
    for d, step, args, want in LEDGER:
        try:
            answer = step(desk, d, *args)  # type: ignore[operator]
        except ServiceError as exc:
            answer = f"refused: {exc}"
        if want.startswith("refused: "):
            answer = answer[: len(want)]
        got.append((d.isoformat(), step.__name__, args, answer))  # type: ignore[attr-defined]
    assert got == [(d.isoformat(), s.__name__, args, w) for d, s, args, w in LEDGER]  # type: ignore[attr-defined]

    with desk.uow() as uow:
        s = uow.session
        statuses = [
            (r.id, r.status, r.used_on)
            for r in s.exec(select(OrderRelease).order_by(col(OrderRelease.id)))
        ]
        assert statuses == [
            (1, "used", day(2)), (2, "approved", None), (3, "rejected", None), (4, "used", day(3)),
        ]  # fmt: skip
        notices = [
            (n.kind, n.recipients)
            for n in s.exec(select(Notice).order_by(col(Notice.id)))
            if n.kind.startswith("order_release")
        ]
        events = [
            (e.action, e.actor)
            for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
            if e.action.startswith(("order_", "approval."))
        ]
        exemptions = [
            (e.id, e.revoked_on, e.revoked_by)
            for e in s.exec(select(OrderExemption).order_by(col(OrderExemption.id)))
        ]
    carla, sam = ["carla.jansen@example.com"], ["sam.alvarez@example.com"]
    assert notices[:4] == [
        ("order_release_needed", carla), ("order_release_approved", sam),
        ("order_release_needed", carla), ("order_release_approved", sam),
    ]  # fmt: skip
    assert ("order_release_rejected", sam) in notices
    assert ("order_release_needed", ["fiona.meyer@example.com"]) in notices
    assert events[:5] == [
        ("order_release.request", "sam.sales"), ("order_release.route", "system"),
        ("approval.refused", "sam.sales"), ("approval.refused", "junior.analyst"),
        ("approval.refused", "cora.collector"),
    ]  # fmt: skip
    assert ("order_release.use", "system") in events
    assert ("order_exemption.grant", "carla.manager") in events
    assert ("order_exemption.revoke", "carla.manager") in events
    assert exemptions == [
        (1, None, None), (2, day(11), "fiona.director"), (3, day(12), "carla.manager"),
    ]  # fmt: skip


def test_an_undecided_release_is_reminded_escalated_and_used_once_by_two_checks_at_once(
    desk: App,
):
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime, timedelta

    release(desk, day(1), "ACME", "SO-1", "12000", "sam.sales")
    later = datetime.now(UTC)
    for days_later in (3, 3, 5):  # due after 48 hours; escalated after another 48
        services.sweep_approvals(desk, as_of=day(1), now=later + timedelta(days=days_later))
    with desk.uow() as uow:
        sent = [
            (n.recipients, n.subject.split(":")[0])
            for n in uow.session.exec(select(Notice).order_by(col(Notice.id)))
            if n.kind == "order_release_reminder"
        ]
    assert sent == [
        (["carla.jansen@example.com"], "Reminder"),
        (["ben.okafor@example.com"], "Escalated"),
    ]
    # carla's delegate decides with her authority; two checks of the order at once use it once
    assert approve(desk, day(1), 1, "ben.manager") == "approved"
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = sorted(pool.map(lambda _: check(desk, day(2), "ACME", "12000", "SO-1"), range(2)))
    assert answers[0] == "ALLOW (released by ben.manager on 2027-03-01 (approval 1)) [1 reasons]"
    assert answers[1].startswith(HELD_ACME + "; release 1 of order SO-1 was used")
    with desk.uow() as uow:
        uses = [e for e in uow.session.exec(select(AuditEvent)) if e.action == "order_release.use"]
    assert len(uses) == 1
