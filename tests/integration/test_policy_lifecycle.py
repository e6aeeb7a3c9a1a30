"""The credit policy as a document with a lifecycle: committee, publication, stamping, re-review,
customer feedback and customer service's follow-ups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml
from sqlmodel import select

from credit import services
from credit.db.models import CreditAssessment, Customer, Notice, ServiceTask
from credit.resources import resource_dir
from credit.services.research import rescore
from tests.conftest import import_sample
from tests.integration.test_lifecycle_services import DAY, QUALITATIVE, decide, review


def committee(app, version, *users, approve=True, comment=None):
    for user in users:
        services.decide(app, subject=services.SUBJECT_POLICY, subject_id=version, username=user,
                        approve=approve, comment=comment, as_of=DAY)  # fmt: skip
    return services.advance_policy(app, version=version)


def propose(app, tmp_path, edit=None, name="v.yaml") -> int:
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    if edit:
        edit(body)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(body))
    return services.propose_policy(app, path=path, by="carla.manager", reason="quarterly review")


def notices(app, kind):
    with app.uow() as uow:
        return list(uow.session.exec(select(Notice).where(Notice.kind == kind)))


def test_every_committee_member_must_approve_and_a_rejection_returns_the_draft_with_comments(
    ledger, tmp_path
):
    v = propose(ledger, tmp_path, lambda b: b["dunning"].update(tolerance="20.00"))
    assert committee(ledger, v, "fiona.director").status == "in_approval"  # cfo still to decide
    rejected = committee(ledger, v, "victor.cfo", approve=False, comment="Tolerance too high")
    assert rejected.status == "rejected"
    [n] = notices(ledger, "policy_rejected")
    assert n.recipients == ["carla.jansen@example.com"]
    assert '"Tolerance too high"' in n.text and "dunning: tolerance 10 → 20" in n.text
    assert services.policy_view(ledger, version=None)["version"] == 1  # nothing changed


def test_publishing_stamps_new_assessments_and_old_ones_re_score_identically(ledger, tmp_path):
    review(ledger, "C-1003", "30000")
    with ledger.uow() as uow:
        old = uow.session.exec(select(CreditAssessment)).one()
    v = propose(ledger, tmp_path, lambda b: b["scorecard"]["factors"][0].update(
        bands=[{"min": "0.99", "points": "100"}, {"max": "0.99", "points": "0"}]))  # fmt: skip
    assert committee(ledger, v, "fiona.director", "victor.cfo").status == "published"
    [published] = notices(ledger, "policy_published")
    # Credit, collections and the sales owners hear of it, with the changes.
    assert {"credit-team@example.com", "collections@example.com"} <= set(published.recipients)
    assert "factor 'On-time payment ratio': bands" in published.text
    aid = services.collect_customer_data(ledger, customer_code="C-1002", as_of=date(2026, 10, 2),
                                         requested_by="ben.manager", review_key="after")["assessment_id"]  # fmt: skip
    services.score_assessment(ledger, assessment_id=aid)
    with ledger.uow() as uow:
        s = uow.session
        new = s.get(CreditAssessment, aid)
        again = s.get(CreditAssessment, old.id)
    assert (old.policy_version, new.policy_version) == (1, v)
    # The old assessment, scored again under its own version, gives exactly what was stored.
    with ledger.uow() as uow:
        v1 = ledger.policy_body_for(uow.session, 1)
    result = rescore(again, v1)
    assert result.total == again.quantitative_score
    assert [f.points for f in result.factors] == [Decimal(str(f["points"])) for f in again.factors]


def test_a_version_that_asks_for_it_flags_every_line_for_re_review_on_publication(ledger, tmp_path):
    rid = review(ledger, "C-1003", "30000")
    decide(ledger, rid, "carla.manager")
    services.publish_request(ledger, request_id=rid, as_of=DAY)
    v = propose(ledger, tmp_path, lambda b: b["policy_change"].update(rereview_on_publish=True))
    committee(ledger, v, "fiona.director", "victor.cfo")
    with ledger.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1003")).one()
    assert c.review_flag_reason == f"policy version {v} published: re-review at once"
    [published] = notices(ledger, "policy_published")
    assert "re-reviewed at once: 1 customer is flagged" in published.text
    assert "sales.south@example.com" in published.recipients  # C-1003's sales owner
    due = services.due_reviews(ledger, as_of=c.review_flagged_on)
    assert [d["customer"] for d in due] == ["C-1003"]


def test_feedback_is_summarised_and_cuts_and_holds_get_a_service_follow_up(story, tmp_path):
    services.record_feedback(story, customer_code="C-1003", topic="terms",
                             text="30 days is too short for our season", by="sam.sales",
                             as_of=date(2026, 10, 5))  # fmt: skip
    with pytest.raises(services.ServiceError, match="the topic 'price' is not one of"):
        services.record_feedback(story, customer_code="C-1003", topic="price", text="x",
                                 by="sam.sales", as_of=DAY)  # fmt: skip
    rid = review(story, "C-1003", "30000")
    decide(story, rid, "carla.manager")
    services.publish_request(story, request_id=rid, as_of=DAY)
    # The limit is cut on the next review: a follow-up for customer service, the sales owner told.
    with story.uow() as uow:
        from credit.db.models import CreditRequest

        r = uow.session.get(CreditRequest, rid)
    cut = services.collect_customer_data(story, customer_code="C-1003", as_of=DAY,
                                         requested_by="ben.manager", review_key="cut",
                                         requested_limit=Decimal("10000"),
                                         override_reason="exposure too high")["assessment_id"]  # fmt: skip
    services.score_assessment(story, assessment_id=cut, reuse_qualitative=True)
    rid2 = services.draft_request(story, assessment_id=cut)
    services.advance_request(story, request_id=rid2, as_of=DAY)
    decide(story, rid2, "carla.manager")
    services.publish_request(story, request_id=rid2, as_of=DAY)
    for day in (DAY, date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16)):
        import_sample(story, ("payments",), payments_until=day)  # the day's bank statement
        for cid in services.collection_candidates(story, as_of=day):
            services.dun_customer(story, customer_id=cid, as_of=day, dry_run=False)
    tasks = services.service_tasks(story)
    reasons = {
        t["reason"].split(":")[0].split(" from")[0] for t in tasks if t["customer"] == "C-1003"
    }
    assert reasons == {"credit limit cut", "credit line on hold"}
    assert r.proposed_limit > Decimal("10000")
    [followup] = notices(story, "service_followup")
    assert followup.recipients == ["sales.south@example.com"]
    assert "credit limit cut from 30,000.00 to 10,000.00 EUR" in followup.text
    first = tasks[0]["id"]
    services.close_service_task(story, task_id=first, by="sam.sales", note="called, ok", as_of=DAY)
    with pytest.raises(services.ServiceError, match="was done on"):
        services.close_service_task(story, task_id=first, by="sam.sales", note="x", as_of=DAY)
    with story.uow() as uow:
        assert uow.session.get(ServiceTask, first).status == "done"
    report = services.portfolio_report(story, as_of=date(2026, 12, 31), months=6)
    assert report["feedback"]["count"] == 1 and report["feedback"]["by_topic"] == {"terms": 1}
    assert report["feedback"]["latest"][0]["text"] == "30 days is too short for our season"


def test_each_policy_that_asks_for_a_re_review_gets_one(ledger, tmp_path):
    rid = review(ledger, "C-1003", "30000")
    decide(ledger, rid, "carla.manager")
    services.publish_request(ledger, request_id=rid, as_of=DAY)
    started = []
    for n in (1, 2):
        v = propose(ledger, tmp_path, lambda b, n=n: (
            b["policy_change"].update(rereview_on_publish=True),
            b["dunning"].update(tolerance=f"{10 + n}.00"),
        ), name=f"v{n}.yaml")  # fmt: skip
        committee(ledger, v, "fiona.director", "victor.cfo")
        with ledger.uow() as uow:
            flagged_on = uow.session.exec(
                select(Customer.review_flagged_on).where(Customer.code == "C-1003")
            ).one()
        due = services.due_reviews(ledger, as_of=flagged_on)
        assert [d["customer"] for d in due] == ["C-1003"], n
        [r] = services.review_customers(
            ledger, due=due, as_of=flagged_on, requested_by="ben.manager"
        )
        started.append(r)
        # the analyst rates it, it is approved and published: the flag is answered
        services.record_qualitative(ledger, customer_code="C-1003", username=r["waiting_for"],
                                    scores=QUALITATIVE, comment="re-review")  # fmt: skip
        rid = services.draft_request(ledger, assessment_id=r["assessment_id"])
        services.advance_request(ledger, request_id=rid, as_of=flagged_on)
        for approver in ("carla.manager", "fiona.director", "victor.cfo"):
            if decide(ledger, rid, approver).status != "in_approval":
                break
        services.publish_request(ledger, request_id=rid, as_of=flagged_on)
    assert len({r["assessment_id"] for r in started}) == 2
