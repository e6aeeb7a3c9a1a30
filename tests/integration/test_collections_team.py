"""The collections team, table-driven on SQLite and PostgreSQL: cases assigned by the policy's
collector rules when a run opens them (country, currency, size, rating; first match wins),
reassigned by hand (audited; refused for a non-collector and for a collector assigning), the
worklist's priority order with its exact figures and per collector, and a dispute whose owner is
notified, reminded once after its due date and escalated once.

The policy is compact: a reminder 1 day after the due date, then a handover (which opens the
collections case) 3 days after it. Customers are in Germany unless said; March 2027.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import (
    AuditEvent,
    CollectionCase,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    Invoice,
    Notice,
)
from credit.resources import resource_dir
from credit.services import casework
from credit.services.common import ServiceError
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, scratch_postgres

DUNNING = {
    "tolerance": "10.00",
    "levels": [
        {"level": 1, "name": "reminder", "label": "Payment reminder", "trigger": "after_due",
         "days": 1, "template": "dunning_reminder"},
        {"level": 2, "name": "handover", "label": "Handover to collections",
         "trigger": "after_previous", "days": 3, "template": "dunning_handover",
         "action": "handover"},
    ],
}  # fmt: skip
TEAM = {
    "collector_rules": [
        {"collector": "junior.analyst", "ratings": ["E"]},
        {"collector": "cora.collector", "countries": ["AT", "CH"]},
        {"collector": "ben.manager", "currencies": ["USD"]},
        {"collector": "carla.manager", "min_overdue": "5000"},
        {"collector": "sam.sales", "countries": ["FR"]},  # not a collector: left unassigned
    ],
    "risk_weights": {"E": "3"},
    "dispute_escalate_after_days": 3,
}


def day(d: int) -> date:
    return date(2027, 3, d)


# code, country, currency, (due date, amount) per invoice, the credit line's rating or None
LEDGER = [
    ("C-AT", "AT", "EUR", [(day(1), "1000.00")], None),
    ("C-US", "DE", "USD", [(day(1), "2000.00")], None),
    ("C-BIG", "DE", "EUR", [(day(1), "2500.00"), (day(1), "3500.00")], None),
    ("C-SMALL", "DE", "EUR", [(date(2027, 2, 15), "800.00")], None),
    ("C-FR", "FR", "EUR", [(day(1), "300.00")], None),
    ("C-RISK", "DE", "EUR", [(day(1), "400.00")], "E"),
    ("C-DISP", "DE", "EUR", [(date(2027, 4, 30), "700.00"), (date(2027, 4, 30), "200.00")], None),
]
RUN_DAYS = [day(3), day(10)]  # the reminder, then the handover that opens the cases

# Who each case opened with, and why (the audit event of the handover says it).
ASSIGNED = {
    "C-RISK": ("junior.analyst", "collector rule 1 (ratings E)"),
    "C-AT": ("cora.collector", "collector rule 2 (countries AT, CH)"),
    "C-US": ("ben.manager", "collector rule 3 (currencies USD)"),
    "C-BIG": ("carla.manager", "collector rule 4 (overdue from 5000)"),
    "C-SMALL": (None, "no collector rule matched and the policy names no default collector"),
    "C-FR": (None, "collector rule 5 (countries FR) names sam.sales, who does not work"),
}

# On 10 March 2027: overdue in EUR x days of the oldest overdue item x the rating's weight / 1000
# (C-US has no USD rate: no priority, last).
PRIORITIES = [
    ("C-BIG", "6000.00", 9, "1", 54),  # 6000 x 9 / 1000
    ("C-SMALL", "800.00", 23, "1", 18),  # 800 x 23 / 1000 = 18.4
    ("C-RISK", "400.00", 9, "3", 10),  # 400 x 9 x 3 / 1000 = 10.8: above C-AT thanks to its E
    ("C-AT", "1000.00", 9, "1", 9),
    ("C-FR", "300.00", 9, "1", 2),  # 2.7
    ("C-US", None, 9, "1", None),
]


@dataclass
class Desk:
    app: App
    database: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    with pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as stack:
        for key in list(os.environ):
            if key.startswith("CREDIT_") and key != "CREDIT_TEST_POSTGRES_URL":
                mp.delenv(key)
        mp.setenv("CREDIT_DATABASE_URL", f"sqlite:///{tmp / 'credit.db'}")
        mp.setenv("CREDIT_OUTBOX_DIR", str(tmp / "outbox"))
        for key, value in TEST_COMPANY.items():
            mp.setenv(key, value)
        mp.chdir(tmp)
        body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
        body["dunning"], body["team"] = DUNNING, TEAM
        (tmp / "policy.yaml").write_text(yaml.safe_dump(body))
        mp.setenv("CREDIT_POLICY_FILE", str(tmp / "policy.yaml"))
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(mp))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        _ledger(a)
        for d in RUN_DAYS:
            ids = services.collection_candidates(a, as_of=d)
            services.dun_customers(a, customer_ids=ids, as_of=d, dry_run=False)
        yield Desk(a, request.param)
        a.engine.dispose()


def _ledger(a: App) -> None:
    with a.uow() as uow:
        s = uow.session
        for code, country, currency, invoices, rating in LEDGER:
            c = Customer(
                code=code, name=f"{code.title()} GmbH", email=f"ap@{code.lower()}.example",
                country=country, currency=currency, sales_owner_email="sales@example.com",
            )  # fmt: skip
            s.add(c)
            s.flush()
            for n, (due, amount) in enumerate(invoices, start=1):
                s.add(
                    Invoice(
                        customer_id=c.id, number=f"{code}-{n}", issue_date=due - timedelta(30),
                        due_date=due, amount=Decimal(amount), currency=currency,
                    )
                )  # fmt: skip
            if rating is not None:
                _line(s, c, rating)
        uow.commit()


def _line(s, c: Customer, rating: str) -> None:
    """A credit line with the request and assessment it needs (its rating is what counts)."""
    assessment = CreditAssessment(
        review_key=f"t:{c.code}", customer_id=c.id, as_of=day(1), policy_version=1,
        requested_by="carla.manager", rating=rating,
    )  # fmt: skip
    s.add(assessment)
    s.flush()
    req = CreditRequest(
        review_key=f"t:{c.code}", customer_id=c.id, assessment_id=assessment.id, kind="new",
        requested_by="carla.manager", recommended_limit=Decimal(5000),
        proposed_limit=Decimal(5000), currency=c.currency, terms_days=30, rating=rating,
        review_months=12, policy_version=1, status="published",
    )  # fmt: skip
    s.add(req)
    s.flush()
    s.add(
        CreditLine(
            customer_id=c.id, limit=Decimal(5000), currency=c.currency, terms_days=30,
            rating=rating, request_id=req.id, policy_version=1, activated_on=day(1),
            next_review_on=date(2028, 3, 1),
        )
    )  # fmt: skip


def _cases(a: App) -> dict[str, str | None]:
    with a.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(Customer.code, CollectionCase.collector).join(
                CollectionCase, col(CollectionCase.customer_id) == col(Customer.id)
            )
        ).all()
    return dict(rows)


def _events(a: App, action: str) -> list[AuditEvent]:
    with a.uow(read_only=True) as uow:
        return list(
            uow.session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            )
        )


def test_a_run_opens_each_case_with_the_collector_its_rules_name(desk):
    opened = {e.entity_id: e.after for e in _events(desk.app, "worklist.handover")}
    assert set(opened) == set(ASSIGNED), opened
    for code, (collector, why) in ASSIGNED.items():
        assert opened[code]["collector"] == collector, code
        assert opened[code]["assigned"].startswith(why), (code, opened[code]["assigned"])
    assert "C-DISP" not in _cases(desk.app)  # nothing overdue: no case


def test_cases_are_reassigned_by_hand_audited_and_refused_for_a_non_collector(desk):
    a = desk.app
    before = _cases(a)
    with pytest.raises(ServiceError, match="sam.sales does not work collection cases"):
        casework.assign_cases(a, customer_code="C-SMALL", collector="sam.sales",
                              by="carla.manager", reason="sales knows them")  # fmt: skip
    with pytest.raises(ServiceError, match="cora.collector may not assign cases"):
        casework.assign_cases(a, customer_code="C-SMALL", collector="cora.collector",
                              by="cora.collector", reason="mine")  # fmt: skip
    with pytest.raises(ServiceError, match="'nobody.at.all' is not in the approver directory"):
        casework.assign_cases(a, customer_code="C-SMALL", collector="nobody.at.all",
                              by="carla.manager", reason="x")  # fmt: skip
    assert _cases(a) == before  # nothing changed
    done = casework.assign_cases(a, customer_code="C-SMALL", collector="cora.collector",
                                 by="carla.manager", reason="she speaks to their CFO")  # fmt: skip
    assert done["collector"] == "cora.collector" and len(done["cases"]) == 1
    [event] = _events(a, "worklist.assigned")
    assert event.actor == "carla.manager" and event.reason == "she speaks to their CFO"
    assert event.before == {"collector": {str(done["cases"][0]): None}}
    assert event.after == {"collector": {str(done["cases"][0]): "cora.collector"}}
    assert _cases(a)["C-SMALL"] == "cora.collector"

    # The worklist per collector: a collector sees their own cases and the unassigned ones.
    def listed(**kw) -> list[str]:
        return [r["customer"] for r in services.worklist(a, as_of=day(10), **kw)]

    assert listed(viewer="cora.collector") == ["C-SMALL", "C-AT", "C-FR"]
    assert listed(viewer="carla.manager") == [p[0] for p in PRIORITIES]  # a manager: every case
    assert listed(collector="ben.manager") == ["C-US"]
    assert listed(collector="unassigned") == ["C-FR"]
    with pytest.raises(ServiceError, match="'nobody' is not in the approver directory"):
        listed(collector="nobody")
    page = casework.worklist_page(a, as_of=day(10), viewer="cora.collector",
                                  filters=casework.WorklistFilters(collector="mine"))  # fmt: skip
    assert [r["customer"] for r in page["rows"]] == ["C-SMALL", "C-AT", "C-FR"]


def test_the_worklist_ranks_cases_by_amount_days_and_risk(desk):
    rows = services.worklist(desk.app, as_of=day(10), collector="all")
    got = [
        (r["customer"], r["amount_base"], r["oldest_overdue_days"], r["risk_weight"], r["priority"])
        for r in rows
    ]
    assert got == PRIORITIES
    page = casework.worklist_page(desk.app, as_of=day(10), viewer="carla.manager",
                                  filters=casework.WorklistFilters(collector="all"))  # fmt: skip
    web = [(r["customer"], r["priority"]) for r in page["rows"]]
    assert web == [(p[0], p[4]) for p in PRIORITIES]  # the web ranks the same way
    assert "risk weight" in page["priority_rule"]


# The dispute's days: what is done (open, resolve, the reminder sweep) and exactly which notices
# the sweep of that day sends (what its key says, the invoice its subject names, recipients).
SAM, MIA = "sam.alvarez@example.com", "mia.schneider@example.com"
MANAGERS = ["ben.okafor@example.com", "carla.jansen@example.com", "jun.park@example.com"]
DISPUTE_DAYS: list[tuple[date, list[tuple[str, str, list[str]]]]] = [
    (day(21), []),  # C-DISP-1 is due today: not yet past it
    (day(22), [("dispute-reminder", "C-DISP-1", [SAM])]),
    (day(22), []),  # the sweep again the same day: nothing twice
    (day(23), []),  # once per dispute and due date, not every day
    (day(25), [("dispute-escalation", "C-DISP-1", MANAGERS)]),  # 3 days past: the managers
    (day(26), []),
]


def test_a_disputes_owner_is_notified_and_reminded_once_after_its_due_date(desk):
    a = desk.app
    for bad, match in [
        ({"code": "weather"}, "the dispute code 'weather' is not one of the policy's codes"),
        ({"owner": "nobody.at.all"}, "'nobody.at.all' is not in the approver directory"),
        ({"due": day(1)}, "the due date 2027-03-01 is before the dispute is opened"),
        ({"due": date(2029, 1, 1)}, "is more than 366 days after the dispute is opened"),
    ]:
        with pytest.raises(ServiceError, match=match):
            services.open_dispute(a, invoice_number="C-DISP-1", reason="x", by="cora.collector",
                                  as_of=day(11), **bad)  # fmt: skip
    assert services.dispute_list(a, as_of=day(11)) == []  # nothing was opened
    opened = services.open_dispute(
        a, invoice_number="C-DISP-1", reason="pallet 3 never arrived", by="cora.collector",
        as_of=day(11), code="delivery", owner="sam.sales",
    )  # fmt: skip
    assert (opened["code"], opened["owner"], opened["due_on"]) == ("delivery", "sam.sales",
                                                                   "2027-03-21")  # fmt: skip
    quality = services.open_dispute(
        a, invoice_number="C-DISP-2", reason="scratched", by="cora.collector", as_of=day(11),
        code="quality", owner="mia.analyst", due=day(15),
    )  # fmt: skip
    assert quality["due_on"] == "2027-03-15"
    [assigned, assigned2] = _notices(a, "dispute-assigned:")
    assert (assigned.kind, assigned.recipients) == ("dispute_assigned", [SAM])
    assert "pallet 3 never arrived" in assigned.text and "Mar 21, 2027" in assigned.subject
    assert {n.kind for n in _notices(a, "dispute-")} == {"dispute_assigned"}
    assert assigned2.recipients == [MIA]
    services.resolve_dispute(a, invoice_number="C-DISP-2", by="cora.collector",
                             note="credit note CN-2", as_of=day(14))  # fmt: skip

    listed = services.dispute_list(a, as_of=day(22), owner="sam.sales")
    assert [(r["invoice"], r["code"], r["owner"], r["due_on"], r["age_days"], r["days_past_due"])
            for r in listed] == [("C-DISP-1", "delivery", "sam.sales", "2027-03-21", 11, 1)]  # fmt: skip
    assert services.dispute_list(a, as_of=day(22), owner="mia.analyst") == []  # resolved
    assert [r["status"] for r in services.dispute_list(a, as_of=day(22), owner="mia.analyst",
                                                         resolved=True)] == ["resolved"]  # fmt: skip

    file = casework.case_file(a, customer_code="C-DISP", as_of=day(22), viewer="cora.collector")
    shown = {d["invoice"]: (d["code"], d["owner"], d["due_on"]) for d in file["disputes"]}
    assert shown == {"C-DISP-1": ("delivery", "sam.sales", day(21)),
                     "C-DISP-2": ("quality", "mia.analyst", day(15))}  # fmt: skip

    seen = len(_notices(a, "dispute-"))
    for d, expected in DISPUTE_DAYS:
        counts = services.remind_dispute_owners(a, as_of=d)
        new = _notices(a, "dispute-")[seen:]
        seen += len(new)
        got = [(n.idempotency_key.split(":")[0], n.subject.rsplit(" ", 1)[-1], n.recipients)
               for n in new]  # fmt: skip
        assert got == expected, (d, got)
        assert counts["dispute_reminders"] + counts["dispute_escalations"] == len(expected)
    assert [e.entity_id for e in _events(a, "dispute.reminder")] == ["C-DISP-1"]
    assert [e.entity_id for e in _events(a, "dispute.escalation")] == ["C-DISP-1"]


def _notices(a: App, key_prefix: str) -> list[Notice]:
    with a.uow(read_only=True) as uow:
        return list(
            uow.session.exec(
                select(Notice)
                .where(col(Notice.idempotency_key).startswith(key_prefix))
                .order_by(col(Notice.id))
            )
        )
