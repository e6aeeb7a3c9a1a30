"""Draft: turn a complete assessment into a credit request from the policy's rating table."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from credit import audit, notices
from credit.app import App
from credit.db.models import (
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    RequestKind,
)
from credit.domain.research_status import AssessmentStatus
from credit.services.changes import request_change
from credit.services.common import ServiceError, person_email, saved_id
from credit.services.research import refuse_if_review_open
from credit.services.views import assessment_view, customer_view, request_view


def draft_request(app: App, *, assessment_id: int, kind: str | None = None) -> int:
    """The request carries the recommendation; a requested limit overrides it only with the
    reason recorded at the start of the review (audited as an override)."""
    with app.uow() as uow:
        request_id = draft_in(app, uow.session, assessment_id=assessment_id, kind=kind)
        uow.commit()
        return request_id


def draft_in(app: App, s: Session, *, assessment_id: int, kind: str | None = None) -> int:
    """:func:`draft_request` inside the caller's transaction (a periodic review drafts a batch
    of requests in one)."""
    a = s.get(CreditAssessment, assessment_id)
    if a is None:
        raise ServiceError(f"no assessment {assessment_id}")
    done = s.exec(select(CreditRequest).where(CreditRequest.review_key == a.review_key)).first()
    if done is not None:
        return saved_id(done)
    if a.status != AssessmentStatus.COMPLETE:
        raise ServiceError(f"assessment {a.id} is {a.status}; it cannot be drafted yet")
    customer = s.get(Customer, a.customer_id)
    assert customer is not None and a.recommended_limit is not None
    # A complete assessment is rated: its recommendation is set as a whole.
    assert a.rating is not None and a.terms_days is not None and a.review_months is not None
    refuse_if_review_open(s, customer, ignore_assessment=a.id)
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    proposed = a.requested_limit if a.requested_limit is not None else a.recommended_limit
    if proposed != a.recommended_limit and not (a.override_reason or "").strip():
        raise ServiceError(
            "the requested limit differs from the recommendation and no reason was given"
        )
    request = CreditRequest(
        review_key=a.review_key,
        customer_id=saved_id(customer),
        assessment_id=saved_id(a),
        kind=kind if kind is not None else _kind_of(line, proposed),
        requested_by=a.requested_by,
        requested_limit=a.requested_limit,
        recommended_limit=a.recommended_limit,
        proposed_limit=proposed,
        base_amount=_base_amount(app, customer, a, proposed),
        current_limit=line.limit if line else None,
        currency=customer.currency,
        terms_days=a.terms_days,
        conditions=list(a.conditions),
        rating=a.rating,
        review_months=a.review_months,
        policy_version=a.policy_version,
    )
    s.add(request)
    s.flush()
    _audit_drafted(s, a, request)
    notices.enqueue(
        s,
        app.renderer,
        key=f"request-drafted:{request.id}",
        kind="request_drafted",
        locale="en",
        recipients=[person_email(app, a.requested_by)],
        customer_id=customer.id,
        context={
            "customer": customer_view(customer),
            "request": request_view(request),
            "assessment": assessment_view(a),
            "change": request_change(app, s, request),
        },
    )
    return saved_id(request)


def _kind_of(line: CreditLine | None, proposed: Decimal) -> RequestKind:
    """A new line, or an increase, decrease or review of the line as it stands."""
    if line is None:
        return RequestKind.NEW
    if proposed > line.limit:
        return RequestKind.INCREASE
    if proposed < line.limit:
        return RequestKind.DECREASE
    return RequestKind.REVIEW


def _base_amount(
    app: App, customer: Customer, a: CreditAssessment, proposed: Decimal
) -> Decimal | None:
    """The proposed limit in the base currency at the rate the assessment used (reproducible),
    for the authority matrix; None without a rate."""
    if customer.currency == app.settings.base_currency:
        return proposed
    rate = a.inputs.get("customer_rate")
    return (proposed * Decimal(rate)).quantize(Decimal("0.01")) if rate else None


def _audit_drafted(s: Session, a: CreditAssessment, request: CreditRequest) -> None:
    """The request's creation, and the override when it proposes other than the recommendation."""
    request_id = saved_id(request)
    audit.record(
        s,
        actor=a.requested_by,
        action="request.create",
        entity_type="credit_request",
        entity_id=request_id,
        after=request_view(request),
        reason=f"{request.kind} from assessment {a.id}",
        policy_version=a.policy_version,
    )
    if request.proposed_limit != a.recommended_limit:
        audit.record(
            s,
            actor=a.requested_by,
            action="request.override",
            entity_type="credit_request",
            entity_id=request_id,
            before={"recommended_limit": a.recommended_limit},
            after={"proposed_limit": request.proposed_limit},
            reason=a.override_reason or "",
            policy_version=a.policy_version,
        )
