"""The lifecycle through the service layer (no Prefect): the rules a credit team relies on."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from credit import services
from credit.db.models import AuditEvent, CreditLine, DunningAction, Notice
from tests.conftest import import_sample

DAY = date(2026, 10, 1)


QUALITATIVE = {
    "market_position": Decimal(70),
    "management": Decimal(70),
    "industry_outlook": Decimal(60),
    "reputation": Decimal(70),
}


def review(app, code: str, limit: str | None, by: str = "ben.manager") -> int:
    """Research (with the analyst's rating), draft and route; returns the request id."""
    collected = services.collect_customer_data(
        app,
        customer_code=code,
        as_of=DAY,
        requested_by=by,
        review_key=f"t:{code}",
        requested_limit=Decimal(limit) if limit else None,
        override_reason="sales asked for it" if limit else None,
    )
    scored = services.score_assessment(app, assessment_id=collected["assessment_id"])
    assert scored["status"] == "awaiting_qualitative"
    services.record_qualitative(
        app, customer_code=code, username=by, scores=QUALITATIVE, comment="known customer"
    )
    rid = services.draft_request(app, assessment_id=collected["assessment_id"])
    services.advance_request(app, request_id=rid, as_of=DAY)
    return rid


def decide(app, rid: int, user: str, ok: bool = True, comment: str | None = "ok"):
    services.decide(
        app,
        subject=services.SUBJECT_REQUEST,
        subject_id=rid,
        username=user,
        approve=ok,
        comment=comment,
        as_of=DAY,
    )
    return services.advance_request(app, request_id=rid, as_of=DAY)


def notices_of(app, kind: str | None = None) -> list[Notice]:
    with app.uow() as uow:
        q = select(Notice)
        if kind:
            q = q.where(Notice.kind == kind)
        return list(uow.session.exec(q))


def test_two_level_chain_then_publish_activates_the_line(ledger):
    rid = review(ledger, "C-1001", "120000")
    assert [n.recipients for n in notices_of(ledger, "approval_needed")] == [
        ["carla.jansen@example.com"]
    ]
    progress = decide(ledger, rid, "carla.manager")
    assert (
        progress.status == "in_approval"
        and progress.waiting_for == "level 2 (finance_director): fiona.director"
    )
    progress = decide(ledger, rid, "fiona.director")
    assert progress.status == "approved"
    published = services.publish_request(ledger, request_id=rid, as_of=DAY)
    assert published["limit"] == "120000.0000"
    assert published["next_review_on"] == "2027-10-01"  # rating A: yearly
    again = services.publish_request(ledger, request_id=rid, as_of=DAY)
    assert again["notices"] == published["notices"]
    kinds = Counter(n.kind for n in notices_of(ledger))
    assert kinds["terms_letter"] == 1 and kinds["line_published_sales"] == 1
    letter = notices_of(ledger, "terms_letter")[0]
    assert letter.recipients == ["ap@nordwind.example"] and letter.locale == "de"


def test_self_approval_is_refused_with_a_clear_message_and_audited(ledger):
    rid = review(ledger, "C-1003", "30000")
    with pytest.raises(
        services.DecisionRefused, match="ben.manager requested this and may not approve"
    ):
        decide(ledger, rid, "ben.manager")
    with ledger.uow() as uow:
        refused = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "approval.refused")
        ).one()
    assert refused.actor == "ben.manager"


def test_approval_beyond_authority_is_refused(ledger):
    rid = review(ledger, "C-1003", "30000")
    with pytest.raises(
        services.DecisionRefused, match="authority limit 10,000.00 is below the 30,000.00"
    ):
        decide(ledger, rid, "junior.analyst")


def test_rejection_needs_a_reason_and_tells_the_requester(ledger):
    rid = review(ledger, "C-1004", "20000")
    with pytest.raises(services.ServiceError, match="needs a comment saying why"):
        decide(ledger, rid, "carla.manager", ok=False, comment=None)
    progress = decide(ledger, rid, "carla.manager", ok=False, comment="Loss-making.")
    assert progress.status == "rejected"
    [n] = notices_of(ledger, "request_rejected")
    assert n.recipients == ["ben.okafor@example.com"] and "Loss-making." in n.text


def collect(app, day: date) -> dict[str, tuple[int, str]]:
    """A live collections run on the sample story, after the day's payments came in."""
    import_sample(app, ("payments",), payments_until=day)
    out = {}
    for cid in services.collection_candidates(app, as_of=day):
        for o in services.dun_customer(app, customer_id=cid, as_of=day, dry_run=False):
            if o.status in ("sent", "cleared"):
                out[o.customer] = (o.level, o.status)
    return out


def test_collections_escalate_one_level_per_run_hold_the_line_and_release_it_when_paid(story):
    rid = review(story, "C-1003", "30000")
    decide(story, rid, "carla.manager")
    services.publish_request(story, request_id=rid, as_of=DAY)
    runs = {
        d: collect(story, d)
        for d in (date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16))
    }
    assert [runs[d].get("C-1003") for d in runs] == [
        (1, "sent"),
        (2, "sent"),
        (3, "sent"),
        (4, "sent"),
    ]
    assert [runs[d].get("C-1007") for d in runs] == [
        (1, "sent"),
        (2, "sent"),
        (3, "sent"),
        (4, "sent"),
    ]
    assert "C-1010" not in str(runs)  # 8.40 overdue: below the tolerance
    with story.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
    assert line.status == "on_hold" and line.hold_reason == "dunning:credit_hold:EUR"
    assert len(notices_of(story, "credit_hold_sales")) == 4  # C-1003, C-1005, C-1007, C-1009

    rerun = collect(story, date(2026, 11, 16))
    assert rerun == {}
    handover = collect(story, date(2026, 11, 30))
    assert handover["C-1007"] == (5, "sent") and handover["C-1003"] == (0, "cleared")
    with story.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
    assert line.status == "active"
    released = notices_of(story, "credit_hold_released")
    assert sorted(n.recipients[0] for n in released) == [
        "compta@brightline.example",
        "credit-team@example.com",
    ]
    with story.uow() as uow:
        from credit.db.models import Customer

        handed = sorted(
            uow.session.get(Customer, n.customer_id).code
            for n in notices_of(story, "handover_collections")
        )
    assert handed == ["C-1005", "C-1007", "C-1009"]  # C-1003 paid after the hold


def test_rerunning_the_same_date_sends_nothing_new(story):
    day = date(2026, 10, 1)
    first = collect(story, day)
    count = len(notices_of(story))
    assert first and collect(story, day) == {}
    assert len(notices_of(story)) == count


def test_dry_run_changes_nothing(ledger):
    day = date(2026, 10, 1)
    would = [
        o
        for cid in services.collection_candidates(ledger, as_of=day, dry_run=True)
        for o in services.dun_customer(ledger, customer_id=cid, as_of=day, dry_run=True)
    ]
    assert {o.status for o in would} >= {"would_send"}
    with ledger.uow() as uow:
        assert uow.session.exec(select(DunningAction)).all() == []
    assert notices_of(ledger) == []


def test_dunning_notice_lists_every_overdue_invoice_with_its_open_balance(story):
    collect(story, date(2026, 10, 15))
    [n] = [n for n in notices_of(story, "dunning_reminder") if "Helios" in n.text]
    # 9,400.00 invoice less a 4,000.00 payment on account = 5,400.00 overdue
    assert "INV-1005-OPEN1" in n.text and "€5,400.00" in n.text


def test_policy_version_is_approved_by_the_committee_and_published(ledger):
    from credit.resources import resource_dir

    v = services.propose_policy(
        ledger,
        path=resource_dir("sample_data") / "policy_v2.yaml",
        by="carla.manager",
        reason="test",
    )
    progress = services.advance_policy(ledger, version=v)
    assert progress.status == "in_approval"
    with pytest.raises(services.DecisionRefused, match="requested this"):
        services.decide(
            ledger,
            subject=services.SUBJECT_POLICY,
            subject_id=v,
            username="carla.manager",
            approve=True,
            comment=None,
            as_of=DAY,
        )
    for user in ("fiona.director", "victor.cfo"):
        services.decide(
            ledger,
            subject=services.SUBJECT_POLICY,
            subject_id=v,
            username=user,
            approve=True,
            comment=None,
            as_of=DAY,
        )
    assert services.advance_policy(ledger, version=v).status == "published"
    assert services.policy_view(ledger, version=None)["version"] == v
    assert services.policy_view(ledger, version=1)["status"] == "retired"
    [published] = notices_of(ledger, "policy_published")
    assert "tolerance" in published.text
    aid = services.collect_customer_data(
        ledger, customer_code="C-1002", as_of=DAY, requested_by="ben.manager", review_key="after-v2"
    )["assessment_id"]
    with ledger.uow() as uow:
        from credit.db.models import CreditAssessment

        assert uow.session.get(CreditAssessment, aid).policy_version == v


def test_a_second_review_cannot_start_while_a_request_is_in_approval(ledger):
    review(ledger, "C-1002", "10000")
    with pytest.raises(
        services.ServiceError, match="already has credit request 1 \\(in_approval\\)"
    ):
        services.check_review_can_start(ledger, customer_code="C-1002", requested_by="ben.manager")
    with pytest.raises(services.ServiceError, match="no customer with code 'NOPE'"):
        services.check_review_can_start(ledger, customer_code="NOPE", requested_by="ben.manager")
    with pytest.raises(services.ServiceError, match="'mallory' is not in the approver directory"):
        services.check_review_can_start(ledger, customer_code="C-1001", requested_by="mallory")


def test_policy_diff_compares_the_published_version_with_the_draft(ledger):
    from credit.resources import resource_dir

    with pytest.raises(services.ServiceError, match="nothing to compare"):
        services.policy_diff(ledger)
    v = services.propose_policy(
        ledger, path=resource_dir("sample_data") / "policy_v2.yaml", by="carla.manager", reason="t"
    )
    result = services.policy_diff(ledger)
    assert (result["from"]["version"], result["to"]["version"]) == (1, v)
    assert [c["text"] for c in result["changes"] if c["section"] != "policy"] == [
        "rating A: limit cap 500,000 → 600,000",
        "tolerance 10 → 15",
    ]
    with pytest.raises(services.ServiceError, match="compare to: no policy version 9"):
        services.policy_diff(ledger, to_version=9)
