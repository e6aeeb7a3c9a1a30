"""Read models for the CLI: customers, notices, audit trail (read-only; delivery and retries
are in :mod:`credit.services.outbox`)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, TypedDict

from sqlalchemy import literal
from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.models import (
    AssessmentStatus,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    DunningAction,
    Notice,
    NoticeStatus,
    PaymentPromise,
    RequestStatus,
)
from credit.domain import dunning
from credit.domain.money import ZERO
from credit.services.changes import assessment_change, request_change
from credit.services.common import SUBJECT_REQUEST, get_customer, saved_id
from credit.services.contacts import contacts_view
from credit.services.ledger import credit_exposure, dunning_state, open_items
from credit.services.limits.groups import GroupView, customer_group_view
from credit.services.limits.temporary import TemporaryView, temporary_of
from credit.services.receivables.dunning_profiles import dunning_profile_view
from credit.services.views import assessment_view, customer_view, line_view, request_view

log = logging.getLogger(__name__)


class CustomerOverview(TypedDict):
    """Everything ``credit customers show`` prints of a customer as of a date (JSON values)."""

    customer: dict[str, Any]
    as_of: str
    assessment: dict[str, Any] | None
    credit_line: dict[str, Any] | None
    exposure: dict[str, str]
    credit_exposure: Any
    change: dict[str, Any] | None
    aging: dict[str, Any]
    dunning_level: dict[str, int]
    dunning_profile: dict[str, str] | None  # None: the policy has one schedule for everyone
    open_items: dict[str, list[dict[str, Any]]]
    open_item_counts: dict[str, int]
    promises: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    group: GroupView | None  # the customer's group with its exposure against its limit
    temporary_limit: TemporaryView | None  # the line's raise in force: until D, then X
    contacts: dict[str, Any]  # the people at the customer, where its dunning notices go


def customer_overview(
    app: App, *, code: str, as_of: date, items_shown: int | None = None
) -> CustomerOverview:
    """A customer at a glance (``credit customers show``); ``items_shown`` keeps that many of
    the oldest open items per currency (a page shows 50 of a customer's 40,000)."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        c = get_customer(s, code)
        a = _latest_assessment(s, c, as_of)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == c.id)).first()
        items = open_items(s, saved_id(c), as_of)
        requests = s.exec(
            select(CreditRequest)
            .where(CreditRequest.customer_id == c.id)
            .order_by(col(CreditRequest.id).desc())
        ).all()
        in_approval = next((r for r in requests if r.status == RequestStatus.IN_APPROVAL), None)
        rated = (
            a
            if a is not None and a.status == AssessmentStatus.COMPLETE
            else _latest_assessment(s, c, as_of, complete=True)
        )
        if in_approval is not None:
            change = request_change(app, s, in_approval)
        elif rated is not None:
            change = assessment_change(app, s, rated, c.currency)
        else:
            change = None
        overview: CustomerOverview = audit.jsonable(
            {
                "customer": {
                    **customer_view(c),
                    "locale": c.locale,
                    "tax_id": c.tax_id,
                    "registered_on": c.registered_on,
                    "review_flagged_on": c.review_flagged_on,
                    "review_flag_reason": c.review_flag_reason,
                },
                "as_of": as_of,
                "assessment": assessment_view(a) if a else None,
                "credit_line": line_view(line) if line else None,
                "exposure": {
                    cur: sum((i.open_amount for i in its), ZERO) for cur, its in items.items()
                },
                "credit_exposure": credit_exposure(
                    s,
                    base_currency=app.published_policy(s)[1].base_currency,
                    customer=c,
                    line=line,
                    as_of=as_of,
                    items=items,
                ),
                "change": change,
                "aging": {cur: dunning.aging(its, as_of) for cur, its in items.items()},
                "dunning_level": _dunning_levels(s, c, items, as_of),
                "dunning_profile": dunning_profile_view(app, s, c),
                "open_items": {
                    cur: _open_items_view(its, as_of, items_shown) for cur, its in items.items()
                },
                "open_item_counts": {cur: len(its) for cur, its in items.items()},
                "promises": _promises(s, c),
                "requests": [request_view(r) for r in requests],
                "group": customer_group_view(s, app.settings.base_currency, c, as_of),
                "temporary_limit": temporary_of(s, saved_id(c)),
                "contacts": contacts_view(s, c),
            }
        )
        return overview


def _latest_assessment(
    s: Session, c: Customer, as_of: date, *, complete: bool = False
) -> CreditAssessment | None:
    """The customer's latest assessment by ``as_of`` (by research date, then id); ``complete``:
    the latest complete one."""
    q = select(CreditAssessment).where(
        CreditAssessment.customer_id == c.id, CreditAssessment.as_of <= as_of
    )
    if complete:
        q = q.where(CreditAssessment.status == AssessmentStatus.COMPLETE)
    return s.exec(
        q.order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
    ).first()


def _dunning_levels(
    s: Session, c: Customer, items: dict[str, list[dunning.OpenItem]], as_of: date
) -> dict[str, int]:
    """The dunning level of each currency the customer owes in or was dunned in."""
    levels = {}
    for cur in sorted(
        set(items)
        | {
            d.currency
            for d in s.exec(select(DunningAction).where(DunningAction.customer_id == c.id))
        }
    ):
        level = dunning_state(s, saved_id(c), cur, as_of).level
        levels[cur] = level
    return levels


def _open_items_view(
    its: list[dunning.OpenItem], as_of: date, shown: int | None = None
) -> list[dict[str, Any]]:
    oldest = sorted(its, key=lambda i: (i.due_date, i.number))[:shown]
    return [
        {
            "number": i.number,
            "kind": i.kind,
            "due_date": i.due_date,
            "open_amount": i.open_amount,
            "days_overdue": i.days_overdue(as_of),
            "disputed": i.disputed,
        }
        for i in oldest
    ]


def _promises(s: Session, c: Customer) -> list[dict[str, Any]]:
    return [
        {
            "amount": p.amount,
            "currency": p.currency,
            "promised_for": p.promised_for,
            "recorded_by": p.recorded_by,
            "status": p.status,
            "paid": p.paid,
        }
        for p in s.exec(
            select(PaymentPromise)
            .where(PaymentPromise.customer_id == c.id)
            .order_by(col(PaymentPromise.id))
        )
    ]


class NoticeRow(TypedDict):
    id: int | None
    kind: str
    status: str
    subject: str
    channel: str
    recipients: list[str]
    created_at: str
    attempts: int
    delivered_to: str
    key: str
    last_error: str


def list_notices(
    app: App,
    *,
    customer_code: str | None,
    kind: str | None,
    status: str | None = None,
    limit: int = 200,
) -> list[NoticeRow]:
    with app.uow(read_only=True) as uow:
        s = uow.session
        q = select(Notice).order_by(col(Notice.id))
        if customer_code:
            q = q.where(Notice.customer_id == get_customer(s, customer_code).id)
        if kind:
            q = q.where(Notice.kind == kind)
        if status:
            # the value inline: the partial index of failed notices serves `--status failed`
            q = q.where(
                col(Notice.status) == literal(NoticeStatus(status).value, literal_execute=True)
            )
        rows = s.exec(q.limit(limit)).all()
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "status": n.status,
                "subject": n.subject,
                "channel": n.channel,
                "recipients": list(n.recipients),
                "created_at": n.created_at.isoformat(timespec="seconds"),
                "attempts": n.attempts,
                "delivered_to": n.delivered_to or "",
                "key": n.idempotency_key,
                "last_error": n.last_error or "",
            }
            for n in rows
        ]


class CustomerRow(TypedDict):
    code: str
    name: str
    currency: str
    rating: str | None
    limit: str | None
    terms_days: int | None
    status: str | None
    next_review_on: str | None


def customer_list(app: App) -> list[CustomerRow]:
    with app.uow(read_only=True) as uow:
        s = uow.session
        rows = s.exec(
            select(Customer, CreditLine)
            .join(CreditLine, col(CreditLine.customer_id) == col(Customer.id), isouter=True)
            .order_by(col(Customer.code))
        ).all()
        latest: dict[int, str | None] = {}
        for a in s.exec(select(CreditAssessment).order_by(col(CreditAssessment.id))):
            latest[a.customer_id] = a.rating
        return [
            {
                "code": c.code,
                "name": c.name,
                "currency": c.currency,
                "rating": latest.get(saved_id(c)),
                "limit": str(line.limit) if line else None,
                "terms_days": line.terms_days if line else None,
                "status": line.status if line else None,
                "next_review_on": line.next_review_on.isoformat() if line else None,
            }
            for c, line in rows
        ]


class AuditEventRow(TypedDict):
    id: int | None
    at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str
    policy_version: int | None
    via: dict[str, Any] | None  # how the actor acted (web session, command and OS login)


def audit_events(app: App, *, entity: str | None, limit: int) -> list[AuditEventRow]:
    from credit.db.models import AuditEvent

    with app.uow(read_only=True) as uow:
        q = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
        if entity:
            q = q.where(AuditEvent.entity_id == entity)
        rows = list(uow.session.exec(q))
        return [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "entity_type": e.entity_type,
                "entity_id": e.entity_id,
                "before": e.before,
                "after": e.after,
                "reason": e.reason,
                "policy_version": e.policy_version,
                "via": e.via,
            }
            for e in reversed(rows)
        ]


class AuditCheck(TypedDict):
    events: int
    ok: bool
    broken_at: int | None
    reason: str


def verify_audit(app: App) -> AuditCheck:
    """Check the audit hash chain from the first event to the last."""
    with app.uow(read_only=True) as uow:
        result = audit.verify(uow.session)
    return {
        "events": result.events,
        "ok": result.ok,
        "broken_at": result.broken_at,
        "reason": result.reason,
    }


class LimitChange(TypedDict):
    """A published credit-limit change and its approval evidence (``approvals``: who decided
    each level, when, what they saw and its hash)."""

    event_id: int | None
    at: str
    customer: str
    currency: str
    old_limit: str | None
    new_limit: str | None
    terms_days: int | None
    rating: str | None
    policy_version: int | None
    request_id: int | None
    approvals: list[dict[str, Any]]


def limit_changes(app: App, *, start: date, end: date) -> list[LimitChange]:
    """Every credit-limit change recorded between two dates (inclusive, by the audit clock), with
    its approval evidence: who decided each level, when, and the hash of what they saw."""
    from datetime import UTC, datetime, time

    from credit.db.models import ApprovalStep, AuditEvent

    lo = datetime.combine(start, time(0), tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
    rows: list[LimitChange] = []
    with app.uow(read_only=True) as uow:
        s = uow.session
        events = s.exec(
            select(AuditEvent)
            .where(
                AuditEvent.action == "credit_line.publish", AuditEvent.at >= lo, AuditEvent.at < hi
            )
            .order_by(col(AuditEvent.id))
        ).all()
        for e in events:
            # the audit's JSON as recorded (a published line's event names its currency)
            after: Any = e.after or {}
            before: Any = e.before or {}
            request_id = after.get("request_id")
            steps = (
                s.exec(
                    select(ApprovalStep)
                    .where(
                        ApprovalStep.subject == SUBJECT_REQUEST,
                        ApprovalStep.subject_id == request_id,
                    )
                    .order_by(col(ApprovalStep.level))
                ).all()
                if request_id
                else []
            )
            rows.append(
                {
                    "event_id": e.id,
                    "at": e.at.isoformat(timespec="seconds"),
                    "customer": e.entity_id,
                    "currency": after.get("currency"),
                    "old_limit": before.get("limit"),
                    "new_limit": after.get("limit"),
                    "terms_days": after.get("terms_days"),
                    "rating": after.get("rating"),
                    "policy_version": e.policy_version,
                    "request_id": request_id,
                    "approvals": [
                        {
                            "level": st.level,
                            "role": st.role,
                            "by": st.decided_by,
                            "at": st.decided_at.isoformat(timespec="seconds")
                            if st.decided_at
                            else None,
                            "decision": st.decision,
                            "saw": st.evidence,
                            "evidence_hash": st.evidence_hash,
                        }
                        for st in steps
                    ],
                }
            )
    return rows
