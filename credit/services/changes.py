"""The change view of a proposal read from the database: the customer's credit line as it
stands, the proposal, and the previous completed assessment (:mod:`credit.domain.changes`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import AssessmentStatus, CreditAssessment, CreditLine, CreditRequest
from credit.domain.changes import Scored, Terms, change_view
from credit.domain.money import ZERO


def previous_assessment(s: Session, a: CreditAssessment) -> CreditAssessment | None:
    """The customer's latest completed assessment before ``a`` (by research date, then id)."""
    return s.exec(
        select(CreditAssessment)
        .where(
            CreditAssessment.customer_id == a.customer_id,
            CreditAssessment.status == AssessmentStatus.COMPLETE,
            CreditAssessment.id != a.id,
            or_(
                col(CreditAssessment.as_of) < a.as_of,
                and_(col(CreditAssessment.as_of) == a.as_of, col(CreditAssessment.id) < a.id),
            ),
        )
        .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
    ).first()


def _scored(a: CreditAssessment) -> Scored:
    return Scored(a.id, a.as_of, a.total_score, a.rating)


def _view(
    app: App,
    s: Session,
    a: CreditAssessment,
    *,
    proposed: Terms,
    rating: str | None,
    subject: str,
) -> dict[str, Any]:
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == a.customer_id)).first()
    previous = previous_assessment(s, a)
    policy = app.policy_body_for(s, a.policy_version)
    view = change_view(
        current=Terms(line.limit, line.currency, line.terms_days, list(line.conditions))
        if line
        else None,
        proposed=proposed,
        previous=_scored(previous) if previous else None,
        latest=Scored(a.id, a.as_of, a.total_score, rating),
        rating_order=[r.grade for r in [*policy.ratings, policy.unrated]],
        line_status=line.status if line else None,
    )
    return {**view, "subject": subject, "assessment_id": a.id}


def request_change(app: App, s: Session, r: CreditRequest) -> dict[str, Any]:
    """A credit request against the line as it stands and its assessment against the previous
    one."""
    a = s.get(CreditAssessment, r.assessment_id)
    assert a is not None
    proposed = Terms(r.proposed_limit, r.currency, r.terms_days, list(r.conditions))
    return _view(app, s, a, proposed=proposed, rating=r.rating, subject=f"request #{r.id}")


def assessment_change(app: App, s: Session, a: CreditAssessment, currency: str) -> dict[str, Any]:
    """A completed assessment's proposal (the requested limit, or the recommendation) against
    the line as it stands, and its score and rating against the previous assessment."""
    limit = a.requested_limit if a.requested_limit is not None else a.recommended_limit
    proposed = Terms(
        ZERO if limit is None else limit, currency, a.terms_days or 0, list(a.conditions)
    )
    return _view(app, s, a, proposed=proposed, rating=a.rating, subject=f"assessment #{a.id}")
