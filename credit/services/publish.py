"""Publish: activate or change a credit line from an approved request."""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import CreditLine, CreditRequest, Customer, LineStatus, utcnow
from credit.domain.authority import RequestStatus
from credit.services.approval_chain.steps import chain_steps
from credit.services.approval_chain.subjects.credit_request import lock_request
from credit.services.common import (
    SUBJECT_REQUEST,
    ServiceError,
    add_months,
    enqueued_id,
    id_col,
    person_email,
    saved_id,
)
from credit.services.letters import Asked, remittance
from credit.services.limits import temporary
from credit.services.views import LineView, customer_view, line_view, request_view


class PublishedLine(TypedDict):
    """The credit line an approved request published, and the notices it sent."""

    customer: str
    limit: str
    currency: str
    next_review_on: str
    notices: list[int]


def _line_from(r: CreditRequest, line: CreditLine | None, *, as_of: date) -> CreditLine:
    """The customer's line with the request's terms: a new line, or the one they have changed."""
    if line is None:
        return CreditLine(
            customer_id=r.customer_id,
            limit=r.proposed_limit,
            currency=r.currency,
            terms_days=r.terms_days,
            conditions=list(r.conditions),
            rating=r.rating,
            request_id=saved_id(r),
            policy_version=r.policy_version,
            activated_on=as_of,
            next_review_on=add_months(as_of, r.review_months),
        )
    line.limit, line.terms_days, line.conditions = (
        r.proposed_limit,
        r.terms_days,
        list(r.conditions),
    )
    line.rating, line.request_id, line.policy_version = (
        r.rating,
        saved_id(r),
        r.policy_version,
    )
    line.next_review_on, line.updated_at = add_months(as_of, r.review_months), utcnow()
    if line.status == LineStatus.CLOSED:
        line.status = LineStatus.ACTIVE
    return line


def _publish_line(
    s: Session, r: CreditRequest, customer: Customer, *, as_of: date
) -> tuple[CreditLine, LineView | None]:
    """Publish an approved request: (its line, the line before it); a published one stays."""
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    if r.status != RequestStatus.APPROVED:
        assert line is not None
        return line, None
    before = line_view(line) if line else None
    line = _line_from(r, line, as_of=as_of)
    s.add(line)
    r.status = RequestStatus.PUBLISHED
    s.add(r)
    s.flush()
    temporary.on_published(s, r, before, line, as_of=as_of)  # a temporary raise comes into force
    approvers = [st.decided_by for st in chain_steps(s, SUBJECT_REQUEST, saved_id(r))]
    audit.record(
        s,
        actor="system",
        action="credit_line.publish",
        entity_type="credit_line",
        entity_id=customer.code,
        before=before,
        after={**line_view(line), "request_id": r.id},
        reason=f"request {r.id} approved by {', '.join(a for a in approvers if a)}",
        policy_version=r.policy_version,
    )
    return line, before


def publish_request(app: App, *, request_id: int, as_of: date) -> PublishedLine:
    """Activate (or change) the customer's credit line from an approved request; tell the customer
    and the sales owner. Rerunning after publication changes nothing and sends nothing new."""
    with app.uow() as uow:
        s = uow.session
        lock_request(s, request_id)  # a sweep and the approver's own run at once
        r = s.get(CreditRequest, request_id)
        if r is None:
            raise ServiceError(f"no credit request {request_id}")
        if r.status not in (RequestStatus.APPROVED, RequestStatus.PUBLISHED):
            raise ServiceError(
                f"request {request_id} is {r.status}; only approved requests publish"
            )
        customer = s.get(Customer, r.customer_id)
        assert customer is not None
        line, before = _publish_line(s, r, customer, as_of=as_of)
        if before is not None and before["limit"] > line.limit:
            from credit.services.service_desk import open_service_task

            open_service_task(
                app,
                s,
                customer=customer,
                key=f"limit-cut:{r.id}",
                reason=f"credit limit cut from {before['limit']:,.2f} to {line.limit:,.2f} "
                f"{line.currency} (request {r.id})",
                as_of=as_of,
                notify=True,
            )
        key = f"terms-letter:{r.id}"
        ctx = {
            "customer": customer_view(customer),
            "line": line_view(line),
            "request": request_view(r),
            "as_of": as_of,
            "temporary": temporary.temporary_of(s, saved_id(customer)),  # a raise ending on a day
            # The reference the customer quotes on payments to the account (no amount asked).
            "remittance": remittance(
                app,
                s,
                customer=customer,
                asked=Asked(line.currency, None),
                purpose="terms",
                notice_key=key,
                as_of=as_of,
                channel="email",
            ),
        }
        n1, _ = notices.enqueue(
            s,
            app.renderer,
            key=key,
            kind="terms_letter",
            locale=customer.locale,
            recipients=[customer.email],
            customer_id=customer.id,
            context=ctx,
            letter=True,
        )
        n2, _ = notices.enqueue(
            s,
            app.renderer,
            key=f"line-published-sales:{r.id}",
            kind="line_published_sales",
            locale="en",
            recipients=[customer.sales_owner_email, person_email(app, r.requested_by)],
            customer_id=customer.id,
            context=ctx,
        )
        uow.commit()
        return {
            "customer": customer.code,
            "limit": str(line.limit),
            "currency": line.currency,
            "next_review_on": line.next_review_on.isoformat(),
            "notices": [enqueued_id(n1), enqueued_id(n2)],
        }


def approved_requests(app: App) -> list[int]:
    """Requests every level approved that are not published yet: a decision whose follow-up
    did not run (a crash, an outage). The approval sweeper publishes them."""
    with app.uow() as uow:
        return list(
            uow.session.exec(
                select(id_col(CreditRequest))
                .where(CreditRequest.status == RequestStatus.APPROVED)
                .order_by(col(CreditRequest.id))
            )
        )
