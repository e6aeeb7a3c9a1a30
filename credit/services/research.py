"""Research and draft: score, rate and propose; scheduled re-reviews."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import (
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    LineStatus,
    RequestKind,
    RequestStatus,
)
from credit.domain import scoring
from credit.domain.money import money
from credit.services._common import (
    ServiceError,
    _assessment_view,
    _customer_view,
    _request_view,
    get_customer,
    person_email,
)
from credit.services.approvals import advance_request
from credit.services.ledger import load_facts

log = logging.getLogger(__name__)


def assess_customer(
    app: App, *, customer_code: str, as_of: date, requested_by: str, review_key: str
) -> int:
    """Score and rate a customer under the published policy; notify whoever asked. Idempotent per
    ``review_key``: a rerun returns the assessment already made."""
    requester_email = person_email(app, requested_by)
    with app.uow() as uow:
        s = uow.session
        done = s.exec(
            select(CreditAssessment).where(CreditAssessment.review_key == review_key)
        ).first()
        if done is not None:
            return done.id  # type: ignore[return-value]
        customer = get_customer(s, customer_code)
        version, policy = app.published_policy(s)
        facts = load_facts(s, customer, as_of)
        result = scoring.score_customer(facts, as_of, policy)
        rec = scoring.recommend(result, facts, as_of, policy)
        latest = scoring.latest_statement(facts, as_of)
        assessment = CreditAssessment(
            review_key=review_key,
            customer_id=customer.id,
            as_of=as_of,  # type: ignore[arg-type]
            policy_version=version,
            requested_by=requested_by,
            inputs=audit.jsonable(
                {
                    "statement": asdict(latest) if latest else None,
                    "documents": len(facts.documents),
                    "registered_on": customer.registered_on,
                }
            ),
            metrics=audit.jsonable(result.metrics),
            factors=audit.jsonable([asdict(f) for f in result.factors]),
            total_score=result.total,
            rating=result.rating,
            recommended_limit=rec.limit,
            terms_days=rec.terms_days,
            conditions=rec.conditions,
            review_months=rec.review_months,
            limit_basis=rec.basis,
        )
        s.add(assessment)
        s.flush()
        audit.record(
            s,
            actor=requested_by,
            action="assessment.create",
            entity_type="customer",
            entity_id=customer.code,
            after={
                "assessment_id": assessment.id,
                "score": result.total,
                "rating": result.rating,
                "recommended_limit": rec.limit,
            },
            reason=review_key,
            policy_version=version,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"assessment-ready:{assessment.id}",
            kind="assessment_ready",
            locale="en",
            recipients=[requester_email],
            customer_id=customer.id,
            context={
                "customer": _customer_view(customer),
                "assessment": _assessment_view(assessment),
                "requested_by": requested_by,
            },
        )
        uow.commit()
        return assessment.id  # type: ignore[return-value]


def _refuse_if_request_open(s: Session, customer: Customer) -> None:
    open_request = s.exec(
        select(CreditRequest).where(
            CreditRequest.customer_id == customer.id,
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED]),
        )
    ).first()
    if open_request is not None:
        raise ServiceError(
            f"customer {customer.code} already has credit request {open_request.id} "
            f"({open_request.status}); it must be decided before a new review starts"
        )


def check_review_can_start(app: App, *, customer_code: str, requested_by: str) -> None:
    """Fail fast, before any flow runs, when a review cannot start (unknown customer or person,
    no published policy, a request still in approval)."""
    person_email(app, requested_by)
    with app.uow() as uow:
        customer = get_customer(uow.session, customer_code)
        app.published_policy(uow.session)
        _refuse_if_request_open(uow.session, customer)


def draft_request(
    app: App, *, assessment_id: int, requested_limit: Decimal | None, kind: str | None = None
) -> int:
    """Turn an assessment into a credit request (limit, terms, conditions from the rating)."""
    with app.uow() as uow:
        s = uow.session
        a = s.get(CreditAssessment, assessment_id)
        if a is None:
            raise ServiceError(f"no assessment {assessment_id}")
        done = s.exec(select(CreditRequest).where(CreditRequest.review_key == a.review_key)).first()
        if done is not None:
            return done.id  # type: ignore[return-value]
        customer = s.get(Customer, a.customer_id)
        assert customer is not None
        _refuse_if_request_open(s, customer)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        proposed = money(requested_limit) if requested_limit is not None else a.recommended_limit
        if kind is None:
            if line is None:
                kind = RequestKind.NEW
            elif proposed > line.limit:
                kind = RequestKind.INCREASE
            elif proposed < line.limit:
                kind = RequestKind.DECREASE
            else:
                kind = RequestKind.REVIEW
        request = CreditRequest(
            review_key=a.review_key,
            customer_id=customer.id,
            assessment_id=a.id,  # type: ignore[arg-type]
            kind=kind,
            requested_by=a.requested_by,
            requested_limit=requested_limit,
            recommended_limit=a.recommended_limit,
            proposed_limit=proposed,
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
        audit.record(
            s,
            actor=a.requested_by,
            action="request.create",
            entity_type="credit_request",
            entity_id=request.id,
            after=_request_view(request),
            reason=f"{kind} from assessment {a.id}",
            policy_version=a.policy_version,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"request-drafted:{request.id}",
            kind="request_drafted",
            locale="en",
            recipients=[person_email(app, a.requested_by)],
            customer_id=customer.id,
            context={
                "customer": _customer_view(customer),
                "request": _request_view(request),
                "assessment": _assessment_view(a),
            },
        )
        uow.commit()
        return request.id  # type: ignore[return-value]


def due_reviews(app: App, *, as_of: date) -> list[dict[str, Any]]:
    """Credit lines whose review date has come and that have no request in progress."""
    with app.uow() as uow:
        s = uow.session
        busy = select(CreditRequest.customer_id).where(
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED])
        )
        rows = s.exec(
            select(CreditLine, Customer)
            .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
            .where(CreditLine.next_review_on <= as_of)
            .where(col(CreditLine.status).in_([LineStatus.ACTIVE, LineStatus.ON_HOLD]))
            .where(col(CreditLine.customer_id).not_in(busy))
            .order_by(col(CreditLine.next_review_on), col(Customer.code))
        ).all()
        return [
            {
                "customer": c.code,
                "name": c.name,
                "next_review_on": line.next_review_on.isoformat(),
                "limit": str(line.limit),
                "currency": line.currency,
                "rating": line.rating,
                "status": line.status,
            }
            for line, c in rows
        ]


def notify_reviews_started(app: App, *, as_of: date, reviews: list[dict[str, Any]]) -> int | None:
    """One notice to the credit team listing the reviews started for a date."""
    if not reviews:
        return None
    with app.uow() as uow:
        n, _ = notices.enqueue(
            uow.session,
            app.renderer,
            key=f"reviews-due:{as_of.isoformat()}",
            kind="reviews_due",
            locale="en",
            recipients=[app.directory.teams.credit],
            context={"as_of": as_of.isoformat(), "reviews": reviews},
        )
        uow.commit()
        return n.id


def review_customers(
    app: App, *, customer_codes: list[str], as_of: date, requested_by: str
) -> list[dict[str, Any]]:
    """Scheduled re-review of a batch: research, draft and route each customer (one transaction
    per step, idempotent per customer and review date)."""
    results = []
    for code in customer_codes:
        with app.uow() as uow:
            c = get_customer(uow.session, code)
            line = uow.session.exec(
                select(CreditLine).where(CreditLine.customer_id == c.id)
            ).first()
            due_on = line.next_review_on.isoformat() if line else as_of.isoformat()
        key = f"periodic:{code}:{due_on}"
        try:
            assessment_id = assess_customer(
                app, customer_code=code, as_of=as_of, requested_by=requested_by, review_key=key
            )
            request_id = draft_request(
                app, assessment_id=assessment_id, requested_limit=None, kind=RequestKind.REVIEW
            )
            progress = advance_request(app, request_id=request_id, as_of=as_of)
        except ServiceError as exc:
            log.warning("review of %s not started: %s", code, exc)
            results.append({"customer": code, "error": str(exc)})
            continue
        results.append(
            {
                "customer": code,
                "assessment_id": assessment_id,
                "request_id": request_id,
                "status": progress.status,
                "waiting_for": progress.waiting_for,
            }
        )
    return results
