"""Periodic review: lines whose review date has come, and customers flagged by a risk signal."""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from credit import notices
from credit.app import App
from credit.db.models import (
    AssessmentStatus,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    LineStatus,
    RequestKind,
    RequestStatus,
)
from credit.services._common import ServiceError
from credit.services.approvals import advance_request
from credit.services.draft import draft_request
from credit.services.research import COLLECTED, collect_customer_data, score_assessment

log = logging.getLogger(__name__)


def due_reviews(app: App, *, as_of: date) -> list[dict[str, Any]]:
    """Lines due for review as of a date, or whose customer a high risk signal flagged; none with a
    review already in progress."""
    with app.uow() as uow:
        s = uow.session
        busy_requests = select(CreditRequest.customer_id).where(
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED])
        )
        busy_assessments = select(CreditAssessment.customer_id).where(
            col(CreditAssessment.status).in_([COLLECTED, AssessmentStatus.AWAITING_QUALITATIVE])
        )
        rows = s.exec(
            select(CreditLine, Customer)
            .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
            .where(
                or_(
                    col(CreditLine.next_review_on) <= as_of,
                    col(Customer.review_flagged_on).is_not(None),
                )
            )
            .where(col(CreditLine.status).in_([LineStatus.ACTIVE, LineStatus.ON_HOLD]))
            .where(col(CreditLine.customer_id).not_in(busy_requests))
            .where(col(CreditLine.customer_id).not_in(busy_assessments))
            .order_by(col(CreditLine.next_review_on), col(Customer.code))
        ).all()

        def key(c: Customer, line: CreditLine) -> str:
            if c.review_flagged_on is not None:
                return f"periodic:{c.code}:flag:{c.review_flagged_on.isoformat()}"
            return f"periodic:{c.code}:{line.next_review_on.isoformat()}"

        keys = {key(c, line) for line, c in rows}
        done = (
            set(
                s.exec(
                    select(CreditAssessment.review_key).where(
                        col(CreditAssessment.review_key).in_(keys)
                    )
                )
            )
            if keys
            else set()
        )
        # A review already made for this due date (say, rejected) is not started again every day.
        rows = [(line, c) for line, c in rows if key(c, line) not in done]
        return [
            {
                "customer": c.code,
                "review_key": key(c, line),
                "name": c.name,
                "next_review_on": line.next_review_on.isoformat(),
                "reason": f"risk signal: {c.review_flag_reason}"
                if c.review_flagged_on is not None
                else "scheduled",
                "flagged_on": c.review_flagged_on.isoformat() if c.review_flagged_on else None,
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
    # Two runs on the same day that start different reviews each send their own list.
    digest = hashlib.sha256(
        "|".join(sorted(r.get("review_key", r["customer"]) for r in reviews)).encode()
    ).hexdigest()[:12]
    with app.uow() as uow:
        n, _ = notices.enqueue(
            uow.session,
            app.renderer,
            key=f"reviews-due:{as_of.isoformat()}:{digest}",
            kind="reviews_due",
            locale="en",
            recipients=[app.directory.teams.credit],
            context={"as_of": as_of.isoformat(), "reviews": reviews},
        )
        uow.commit()
        return n.id


def review_customers(
    app: App, *, due: list[dict[str, Any]], as_of: date, requested_by: str
) -> list[dict[str, Any]]:
    """Re-review a batch: collect, score (carrying a recent qualitative rating over), then draft
    and route; idempotent per customer and due date (or flag date)."""
    results = []
    for item in due:
        code = item["customer"]
        key = item["review_key"]
        try:
            collected = collect_customer_data(
                app, customer_code=code, as_of=as_of, requested_by=requested_by, review_key=key
            )
            scored = score_assessment(
                app, assessment_id=collected["assessment_id"], reuse_qualitative=True
            )
            result = {
                "customer": code,
                "assessment_id": scored["assessment_id"],
                "reason": item["reason"],
            }
            if scored["status"] != AssessmentStatus.COMPLETE:
                results.append(
                    {**result, "status": scored["status"], "waiting_for": scored["analyst"]}
                )
                continue
            request_id = draft_request(
                app, assessment_id=scored["assessment_id"], kind=RequestKind.REVIEW
            )
            progress = advance_request(app, request_id=request_id, as_of=as_of)
        except ServiceError as exc:
            log.warning("review of %s not started: %s", code, exc)
            results.append({"customer": code, "status": "not started", "error": str(exc)})
            continue
        results.append(
            {
                **result,
                "request_id": request_id,
                "status": progress.status,
                "waiting_for": progress.waiting_for,
            }
        )
    return results
