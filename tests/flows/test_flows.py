"""Each flow once, for real, under one session-scoped Prefect test harness."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from credit import services
from credit.db.models import CreditLine, Notice, NoticeStatus
from credit.resources import resource_dir
from tests.conftest import import_sample

DAY = date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _harness(prefect_api_url):
    return prefect_api_url


def all_notices(app) -> list[Notice]:
    with app.uow() as uow:
        return list(uow.session.exec(select(Notice)))


def test_review_approval_publish_collections_and_periodic_review_flows(story):
    from flows.approval import approval
    from flows.collections import collections
    from flows.periodic_review import periodic_review
    from flows.research import research_reminders
    from flows.review import complete_review, credit_review

    started = credit_review(
        customer_code="C-1003",
        requested_by="ben.manager",
        as_of=DAY,
        review_key="flow-test",
        requested_limit="30000",
        override_reason="seasonal peak",
        analyst="junior.analyst",
    )
    assert started["status"] == "awaiting_qualitative"
    assert started["waiting_for"] == "qualitative rating by junior.analyst"
    [asked] = all_notices(story)
    assert asked.kind == "qualitative_needed" and asked.recipients == ["jun.park@example.com"]
    assert "credit assess C-1003 --as junior.analyst --factor market_position=SCORE" in asked.text
    assert research_reminders() == {
        "reminders": 0,
        "escalations": 0,
        "resumed": 0,
    }  # not overdue yet
    from prefect.artifacts import Artifact

    artifact = Artifact.get(
        "scorecard-c-1003-" + __import__("hashlib").sha1(b"C-1003").hexdigest()[:6]
    )
    assert artifact is not None and artifact.type == "table"
    assert "Days sales outstanding" in str(artifact.data) and "Debt ratio" in str(artifact.data)

    services.record_qualitative(
        story,
        customer_code="C-1003",
        username="junior.analyst",
        scores={
            "market_position": Decimal(60),
            "management": Decimal(60),
            "industry_outlook": Decimal(50),
            "reputation": Decimal(60),
        },
        comment="regional retailer",
    )
    result = complete_review(assessment_id=started["assessment_id"], as_of=DAY)
    assert result["status"] == "in_approval"
    assert result["waiting_for"] == "level 1 (credit_manager): carla.manager"
    sent = all_notices(story)
    assert [n.kind for n in sent] == [
        "qualitative_needed",
        "assessment_ready",
        "request_drafted",
        "approval_needed",
    ]
    assert all(n.status == NoticeStatus.SENT for n in sent)
    assert len(list(story.settings.outbox_dir.glob("*.eml"))) == 4

    services.decide(
        story,
        subject=services.SUBJECT_REQUEST,
        subject_id=result["request_id"],
        username="carla.manager",
        approve=True,
        comment="fine",
        as_of=DAY,
    )
    progress = approval(request_id=result["request_id"], as_of=DAY)
    assert progress["status"] == "published"
    assert progress["published"]["limit"] == "30000.0000"

    days = [date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16)]
    levels = []
    for d in days:
        import_sample(story, ("payments",), payments_until=d)  # the day's bank statement
        levels.append(collections(as_of=d)["levels"])
    assert levels[0]["reminder"] >= 1 and levels[3]["credit_hold"] >= 1
    before = len(all_notices(story))
    rerun = collections(as_of=days[-1])
    assert rerun["levels"] == {} and len(all_notices(story)) == before
    with story.uow() as uow:
        assert uow.session.exec(select(CreditLine)).one().status == "on_hold"

    due = periodic_review(as_of=date(2027, 1, 5))  # rating C: quarterly review
    assert [r["customer"] for r in due["reviews"]] == ["C-1003"]
    # the analyst's rating of October is recent enough to carry over: no human step this time
    assert due["reviews"][0]["status"] == "in_approval"
    assert {n.status for n in all_notices(story)} == {NoticeStatus.SENT}


def test_policy_flow_routes_to_the_committee_and_publishes(ledger):
    from flows.policy import policy

    version = services.propose_policy(
        ledger,
        path=resource_dir("sample_data") / "policy_v2.yaml",
        by="carla.manager",
        reason="test",
        as_of=date(2026, 12, 1),
    )
    assert policy(version=version, as_of=date(2026, 12, 1))["status"] == "in_approval"
    # The draft was back-tested before routing: the approvers see it, and it is an artifact.
    [asked, _] = [n for n in all_notices(ledger) if n.kind == "policy_approval_needed"]
    assert "Back-test on the stored history (2026-09-02 to 2026-12-01" in asked.text
    from prefect.artifacts import Artifact

    assert Artifact.get(f"policy-v{version}-backtest") is not None
    for user in ("fiona.director", "victor.cfo"):
        services.decide(
            ledger,
            subject=services.SUBJECT_POLICY,
            subject_id=version,
            username=user,
            approve=True,
            comment=None,
            as_of=DAY,
        )
        progress = policy(version=version)
    assert progress["status"] == "published"
    kinds = [n.kind for n in all_notices(ledger)]
    assert kinds.count("policy_approval_needed") == 2 and kinds.count("policy_published") == 1


def test_policy_research_flow_writes_the_report_makes_an_artifact_and_tells_the_committee(ledger):
    from prefect.artifacts import Artifact

    from flows.policy_research import policy_review

    result = policy_review(as_of=date(2026, 12, 31))
    report = result["report"]
    assert report.endswith("policy-research-2026-12-31/report.md")
    assert (Path(report).parent / "trend.png").stat().st_size > 1000
    artifact = Artifact.get("policy-research-2026-12-31")
    assert artifact is not None and "# Credit policy research as of 2026-12-31" in artifact.data
    [notice] = [n for n in all_notices(ledger) if n.kind == "policy_research_report"]
    assert notice.subject.startswith("Credit policy review due")
    # the committee, the credit team and the owner of the policy in force
    assert {"fiona.meyer@example.com", "victor.lindqvist@example.com"} <= set(notice.recipients)
    assert notice.status == NoticeStatus.SENT


def test_the_scheduled_review_tells_the_credit_team_of_an_overdue_review_still_under_way(ledger):
    """The daily periodic review skipped a line whose earlier review waits for its analyst, and
    its notice never mentioned it: the review vanished from every list."""
    from flows.periodic_review import periodic_review
    from tests.integration.test_lifecycle_services import decide, review

    rid = review(ledger, "C-1003", "30000", by="fiona.director")
    decide(ledger, rid, "carla.manager")
    services.publish_request(ledger, request_id=rid, as_of=DAY)
    waiting = services.collect_customer_data(
        ledger, customer_code="C-1003", as_of=date(2027, 9, 1), requested_by="ben.manager",
        review_key="manual:C-1003:waits", analyst="junior.analyst",
    )  # fmt: skip
    services.score_assessment(ledger, assessment_id=waiting["assessment_id"])
    result = periodic_review(as_of=date(2028, 1, 10))
    assert result["reviews"] == [] and [u["customer"] for u in result["under_way"]] == ["C-1003"]
    [told] = [n for n in all_notices(ledger) if n.kind == "reviews_due"]
    assert "1 overdue and still under way" in told.subject
    line = next(x for x in told.text.splitlines() if x.strip().startswith("- C-1003"))
    assert f"assessment {waiting['assessment_id']} since 2027-09-01" in line
    assert "waiting for qualitative rating by junior.analyst" in line
