"""Approvals as a control: delegation and absence, reminders and escalation sent once, evidence
binding that voids approvals when the request's data changes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import select

from credit import services
from credit.app import App
from credit.db.models import ApprovalStep, Customer, Invoice, Notice
from credit.resources import resource_dir
from credit.settings import Settings
from tests.integration.test_lifecycle_services import DAY, decide, review


def kinds(app, kind: str) -> list[Notice]:
    with app.uow() as uow:
        return list(uow.session.exec(select(Notice).where(Notice.kind == kind).order_by(Notice.id)))


def with_directory(app: App, tmp_path, change) -> App:
    data = yaml.safe_load((resource_dir("config") / "approvers.yaml").read_text())
    change({a["username"]: a for a in data["approvers"]})
    path = tmp_path / "approvers.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = Settings(**{**app.settings.__dict__, "approvers_file": path})
    return App(settings)


def test_an_absent_approver_is_replaced_by_their_delegate_with_the_delegators_authority(
    ledger, tmp_path
):
    def change(people):
        people["carla.manager"]["delegate"] = "junior.analyst"
        people["carla.manager"]["out_of_office"] = [{"from": "2026-09-28", "to": "2026-10-09"}]
        people["ben.manager"]["out_of_office"] = [{"from": "2026-09-28", "to": "2026-10-09"}]

    app = with_directory(ledger, tmp_path, change)
    rid = review(app, "C-1006", "40000", by="fiona.director")  # both credit managers are away
    [asked] = kinds(app, "approval_needed")
    assert (
        asked.recipients == ["jun.park@example.com"] and "delegate of carla.manager" in asked.text
    )
    # Jun's own limit is 10,000; standing in for Carla he decides with her 50,000, never more
    step = decide(app, rid, "junior.analyst")
    assert step.status == "approved"
    with app.uow() as uow:
        [level1] = uow.session.exec(select(ApprovalStep)).all()
    assert (level1.decided_by, level1.delegated_from) == ("junior.analyst", "carla.manager")


def test_a_delegate_never_exceeds_the_delegators_authority(ledger, tmp_path):
    def change(people):
        people["junior.analyst"]["delegate"] = "carla.manager"  # Carla stands in for Jun
        people["carla.manager"]["roles"] = ["auditor"]  # without a credit role of her own

    app = with_directory(ledger, tmp_path, change)
    from credit.domain.authority import decision_refusals

    reasons = decision_refusals(
        username="carla.manager",
        directory=app.directory,
        step_role="credit_manager",
        step_cap=Decimal("50000"),
        amount=Decimal("30000"),
        requester="ben.manager",
        deciders_of_other_steps=set(),
        acting_for="junior.analyst",
    )
    assert reasons == [
        "the delegated authority of junior.analyst authority limit 10,000.00 is below the "
        "30,000.00 this level answers for"
    ]


def test_reminder_then_escalation_each_sent_exactly_once_over_repeated_sweeps(ledger, tmp_path):
    def change(people):
        people["carla.manager"]["delegate"] = "ben.manager"

    app = with_directory(ledger, tmp_path, change)
    rid = review(app, "C-1003", "30000", by="fiona.director")
    with app.uow() as uow:
        [step] = uow.session.exec(select(ApprovalStep)).all()
    assert step.approver == "carla.manager"
    runs = [
        step.due_at - timedelta(hours=1),
        step.due_at + timedelta(minutes=1),
        step.due_at + timedelta(hours=2),
        step.due_at + timedelta(hours=49),
        step.due_at + timedelta(hours=50),
        step.due_at + timedelta(days=9),
    ]
    counts = [services.sweep_approvals(app, as_of=DAY, now=now) for now in runs]
    assert counts == [
        {"reminders": 0, "escalations": 0},
        {"reminders": 1, "escalations": 0},
        {"reminders": 0, "escalations": 0},
        {"reminders": 0, "escalations": 1},
        {"reminders": 0, "escalations": 0},
        {"reminders": 0, "escalations": 0},
    ]
    reminder, escalation = kinds(app, "approval_reminder")
    assert reminder.recipients == ["carla.jansen@example.com"] and reminder.subject.startswith(
        "Reminder"
    )
    assert escalation.recipients == ["ben.okafor@example.com"] and escalation.subject.startswith(
        "Escalated"
    )
    decide(
        app, rid, "ben.manager"
    )  # the delegate decides the escalated level with Carla's authority
    print(f"sweeps run: {len(runs)}; reminders sent: 1; escalations sent: 1")


def test_without_a_delegate_the_escalation_goes_to_the_next_higher_role_which_may_then_decide(
    ledger, tmp_path
):
    def change(people):
        people["carla.manager"].pop("delegate", None)

    ledger = with_directory(ledger, tmp_path, change)
    rid = review(ledger, "C-1003", "30000", by="fiona.director")
    with ledger.uow() as uow:
        [step] = uow.session.exec(select(ApprovalStep)).all()
    services.sweep_approvals(ledger, as_of=DAY, now=step.due_at + timedelta(hours=49))
    reminder, escalation = kinds(ledger, "approval_reminder")
    assert reminder.recipients == ["carla.jansen@example.com"]
    assert escalation.recipients == ["victor.lindqvist@example.com"]  # the finance director asked
    decide(ledger, rid, "victor.cfo")
    assert (
        services.customer_overview(ledger, code="C-1003", as_of=DAY)["requests"][0]["status"]
        == "approved"
    )


def test_a_change_of_exposure_after_level_one_voids_its_approval_and_restarts_routing(ledger):
    rid = review(ledger, "C-1001", "120000")
    decide(ledger, rid, "carla.manager")
    with ledger.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1001")).one()
        uow.session.add(
            Invoice(
                customer_id=c.id,
                number="NEW-1",
                issue_date=DAY,
                due_date=DAY + timedelta(30),
                amount=Decimal("50000"),
                currency="EUR",
            )
        )
        uow.commit()
    with pytest.raises(
        services.ChainRestarted, match="changed since level 1 approved it .*exposure"
    ):
        decide(ledger, rid, "fiona.director")
    with ledger.uow() as uow:
        steps = uow.session.exec(select(ApprovalStep).order_by(ApprovalStep.level)).all()
    assert [(st.decision, st.round) for st in steps] == [("pending", 2), ("pending", 2)]
    [voided] = kinds(ledger, "approval_voided")
    assert voided.recipients == ["carla.jansen@example.com"]
    assert [n.recipients for n in kinds(ledger, "approval_needed")][-1] == [
        "carla.jansen@example.com"
    ]
    decide(ledger, rid, "carla.manager")
    decide(ledger, rid, "fiona.director")
    assert (
        services.customer_overview(ledger, code="C-1001", as_of=DAY)["requests"][0]["status"]
        == "approved"
    )


def test_a_rejected_re_review_is_looked_at_again_in_a_month(ledger):
    rid = review(ledger, "C-1003", "30000", by="fiona.director")
    decide(ledger, rid, "carla.manager")
    services.publish_request(ledger, request_id=rid, as_of=DAY)
    day = date(2027, 1, 5)
    [due] = services.due_reviews(ledger, as_of=day)
    [started] = services.review_customers(
        ledger, due=[due], as_of=day, requested_by="carla.manager"
    )
    assert started["status"] == "in_approval"  # October's rating carried over: no human step
    assert started["waiting_for"] == "level 1 (credit_manager): ben.manager"
    # while the request waits, the line is listed as under way, whole list or a page at a time
    [listed] = services.due_reviews(ledger, as_of=day, include_in_progress=True)
    [paged] = services.due_reviews_page(ledger, as_of=day, include_in_progress=True)["due"]
    assert listed == paged and listed["in_progress"] == {
        "what": f"request {started['request_id']}",
        "since": "2027-01-05",
        "waiting_for": "approval level 1 (credit_manager: ben.manager)",
    }
    assert services.due_reviews(ledger, as_of=day) == []
    services.decide(
        ledger,
        subject=services.SUBJECT_REQUEST,
        subject_id=started["request_id"],
        username="ben.manager",
        approve=False,
        comment="not now",
        as_of=day,
    )
    assert services.due_reviews(ledger, as_of=day) == []
    line = services.customer_overview(ledger, code="C-1003", as_of=day)["credit_line"]
    assert line["next_review_on"] == "2027-02-05"
    assert [d["customer"] for d in services.due_reviews(ledger, as_of=date(2027, 2, 5))] == [
        "C-1003"
    ]


def test_an_escalation_to_a_role_carries_no_link_in_someone_elses_name(ledger, tmp_path):
    def change(people):
        people["carla.manager"].pop("delegate", None)

    app = with_directory(ledger, tmp_path, change)
    review(app, "C-1003", "30000", by="fiona.director")
    with app.uow() as uow:
        [step] = uow.session.exec(select(ApprovalStep)).all()
    services.sweep_approvals(app, as_of=DAY, now=step.due_at + timedelta(hours=49))
    _, escalation = kinds(app, "approval_reminder")
    assert "/approve/" not in escalation.text and "--as carla.manager" not in escalation.text
    assert "credit approve 1 --as USER" in escalation.text


def test_a_later_levels_clock_starts_when_it_becomes_the_one_waiting(ledger):
    from credit.db.models import utcnow

    rid = review(ledger, "C-1001", "120000")
    with ledger.uow() as uow:  # the request was routed three days ago; level 1 took its time
        for st in uow.session.exec(select(ApprovalStep)):
            st.due_at = utcnow() - timedelta(hours=24)
            uow.session.add(st)
        uow.commit()
    decide(ledger, rid, "carla.manager")
    counts = services.sweep_approvals(ledger, as_of=DAY, now=utcnow() + timedelta(minutes=5))
    assert counts == {"reminders": 0, "escalations": 0}  # level 2 just started: 48 hours for Fiona
    with ledger.uow() as uow:
        second = uow.session.exec(select(ApprovalStep).where(ApprovalStep.level == 2)).one()
    assert second.due_at > utcnow() + timedelta(hours=47)


def test_a_rejection_stands_even_when_the_data_changed(ledger):
    rid = review(ledger, "C-1001", "120000")
    decide(ledger, rid, "carla.manager")
    with ledger.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1001")).one()
        uow.session.add(
            Invoice(
                customer_id=c.id,
                number="NEW-2",
                issue_date=date(2026, 9, 1),
                due_date=date(2026, 10, 1),
                amount=Decimal("9000"),
                currency="EUR",
            )
        )
        uow.commit()
    decide(ledger, rid, "fiona.director", ok=False, comment="exposure grew")
    assert (
        services.customer_overview(ledger, code="C-1001", as_of=DAY)["requests"][0]["status"]
        == "rejected"
    )


def test_a_sweep_dated_later_reminds_and_escalates_what_is_due_by_the_end_of_that_day(ledger):
    """`credit approvals sweep --as-of D` acted on the present moment whatever D said."""
    review(ledger, "C-1003", "30000", by="fiona.director")
    today = ledger.settings.today()
    with ledger.uow() as uow:
        [step] = uow.session.exec(select(ApprovalStep)).all()
    assert services.sweep_approvals(ledger, as_of=today) == {"reminders": 0, "escalations": 0}
    due_day = step.due_at.astimezone(ZoneInfo(ledger.settings.timezone)).date()
    assert services.sweep_approvals(ledger, as_of=due_day) == {"reminders": 1, "escalations": 0}
    late = due_day + timedelta(days=3)  # past the second deadline (as long again)
    assert services.sweep_approvals(ledger, as_of=late) == {"reminders": 0, "escalations": 1}


def _review_on(app, code: str, day: date, key: str, limit: str, scores: dict) -> int:
    collected = services.collect_customer_data(
        app, customer_code=code, as_of=day, requested_by="ben.manager", review_key=key,
        requested_limit=Decimal(limit), override_reason="sales plan",
    )  # fmt: skip
    services.score_assessment(app, assessment_id=collected["assessment_id"])
    services.record_qualitative(
        app, customer_code=code, username="ben.manager", scores=scores, comment="known"
    )
    rid = services.draft_request(app, assessment_id=collected["assessment_id"])
    services.advance_request(app, request_id=rid, as_of=day)
    return rid


STRONG = {k: Decimal(v) for k, v in
          {"market_position": 85, "management": 80, "industry_outlook": 70, "reputation": 85}.items()}  # fmt: skip


def test_a_proposal_says_what_it_changes_against_the_line_and_the_previous_assessment(ledger):
    first = _review_on(ledger, "C-1001", DAY, "first", "120000", STRONG)  # rated A: 60 days
    for user in ("carla.manager", "fiona.director"):
        decide(ledger, first, user)
    services.publish_request(ledger, request_id=first, as_of=DAY)
    [drafted] = kinds(ledger, "request_drafted")
    assert "limit none: new line → EUR 120,000.00" in drafted.text
    assert "rating A (no earlier assessment)" in drafted.text

    # December: the bounced direct debit caps the rating at B (45 days, a guarantee)
    later = date(2026, 12, 10)
    second = _review_on(ledger, "C-1001", later, "second", "150000", STRONG)
    expected = [
        "limit EUR 120,000.00 → EUR 150,000.00 (+25%)",
        "terms 60 → 45 days (shorter)",
        "conditions none → guarantee (added: guarantee)",
        "rating A → B (worse)",
    ]
    drafted = kinds(ledger, "request_drafted")[-1]
    asked = [n for n in kinds(ledger, "approval_needed") if f"#{second} " in n.subject][0]
    for notice in (drafted, asked):
        for line in expected:
            assert line in notice.text and line in notice.html, (line, notice.kind)
        assert "the credit line as it stands; assessment #1 as of 2026-10-01" in notice.text
        assert "score 80.94 → 82.44 (+1.50)" in notice.text
    assert "Risk effects:       rating A capped to B by high signal bounced_payment" in asked.text
    change = services.customer_overview(ledger, code="C-1001", as_of=later)["change"]
    assert change["subject"] == f"request #{second}" and change["lines"][:4] == expected
