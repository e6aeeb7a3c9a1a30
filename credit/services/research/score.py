"""Research's second step: score a collected assessment, record its risk signals, then complete
it or ask the analyst (its own transaction, safe to repeat)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import CreditAssessment, CreditLine, Customer, utcnow
from credit.domain.policy import PolicyBody
from credit.domain.research_status import AssessmentStatus
from credit.services.common import ServiceError, add_months, saved_id
from credit.services.research.decision import (
    ScoredSummary,
    decide,
    first_own_rating,
    scan_assessment,
    scored_summary,
)
from credit.services.research.effects import open_signals, outcome_effects
from credit.services.risk import record_signals


def score_assessment(
    app: App,
    *,
    assessment_id: int,
    reuse_qualitative: bool = False,
    now: datetime | None = None,
    notify_ready: bool = True,
) -> ScoredSummary:
    """Quantitative scorecard and risk signals from the snapshot; then either complete the
    assessment (no qualitative part, or a recent one may be carried over) or ask the analyst.
    ``notify_ready``: tell the requester when the assessment completes."""
    now = now or utcnow()
    with app.uow() as uow:
        s = uow.session
        a = s.get(CreditAssessment, assessment_id)
        if a is None:
            raise ServiceError(f"no assessment {assessment_id}")
        customer = s.get(Customer, a.customer_id)
        assert customer is not None
        policy = app.policy_body_for(s, a.policy_version)
        if a.status != AssessmentStatus.COLLECTED:
            return scored_summary(a)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        opened = open_signals(s, [customer], a.as_of).get(saved_id(customer), [])
        result, found, facts = scan_assessment(a, line, policy, opened)
        record_signals(
            app,
            s,
            customer=customer,
            found=found,
            as_of=a.as_of,
            policy_version=a.policy_version,
            reviewed_in=a.id,
        )
        qual = policy.scorecard.qualitative
        carried = (
            _recent_qualitative(s, a, qual.reuse_months, policy) if reuse_qualitative else None
        )
        outcome = decide(
            a, policy, result=result, carried=carried, now=now, notify=notify_ready, facts=facts
        )
        s.add(a)
        s.flush()
        outcome_effects(app, s, a, customer=customer, policy=policy, outcome=outcome)
        s.add(a)
        uow.commit()
        return scored_summary(a)


def _recent_qualitative(
    s: Session, a: CreditAssessment, months: int, policy: PolicyBody
) -> CreditAssessment | None:
    """The latest rating an analyst actually gave (not itself carried over) within ``months``,
    for the same qualitative factors as the policy now has."""
    if months <= 0:
        return None
    earliest = add_months(a.as_of, -months)
    found: CreditAssessment | None = first_own_rating(
        s.exec(
            select(CreditAssessment)
            .where(
                CreditAssessment.customer_id == a.customer_id,
                CreditAssessment.status == AssessmentStatus.COMPLETE,
                CreditAssessment.as_of >= earliest,
                CreditAssessment.id != a.id,
                col(CreditAssessment.qualitative_score).is_not(None),
            )
            .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
        ),
        policy,
    )
    return found
