"""Read models for the CLI: customers, notices, audit trail; delivery."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import literal
from sqlmodel import col, select

from credit import audit, notices
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
    utcnow,
)
from credit.domain import dunning
from credit.domain.money import ZERO
from credit.services.changes import assessment_change, request_change
from credit.services.common import get_customer, saved_id
from credit.services.ledger import credit_exposure, last_dunning_state, open_items
from credit.services.views import assessment_view, customer_view, line_view, request_view

log = logging.getLogger(__name__)


def customer_overview(app: App, *, code: str, as_of: date) -> dict[str, Any]:
    with app.uow(read_only=True) as uow:
        s = uow.session
        c = get_customer(s, code)
        a = s.exec(
            select(CreditAssessment)
            .where(CreditAssessment.customer_id == c.id, CreditAssessment.as_of <= as_of)
            .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
        ).first()
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == c.id)).first()
        items = open_items(s, saved_id(c), as_of)
        levels = {}
        for cur in sorted(
            set(items)
            | {
                d.currency
                for d in s.exec(select(DunningAction).where(DunningAction.customer_id == c.id))
            }
        ):
            _, level, _ = last_dunning_state(s, saved_id(c), cur, as_of)
            levels[cur] = level
        requests = s.exec(
            select(CreditRequest)
            .where(CreditRequest.customer_id == c.id)
            .order_by(col(CreditRequest.id).desc())
        ).all()
        in_approval = next((r for r in requests if r.status == RequestStatus.IN_APPROVAL), None)
        rated = (
            a
            if a is not None and a.status == AssessmentStatus.COMPLETE
            else s.exec(
                select(CreditAssessment)
                .where(
                    CreditAssessment.customer_id == c.id,
                    CreditAssessment.as_of <= as_of,
                    CreditAssessment.status == AssessmentStatus.COMPLETE,
                )
                .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
            ).first()
        )
        if in_approval is not None:
            change = request_change(app, s, in_approval)
        elif rated is not None:
            change = assessment_change(app, s, rated, c.currency)
        else:
            change = None
        return audit.jsonable(
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
                "dunning_level": levels,
                "open_items": {
                    cur: [
                        {
                            "number": i.number,
                            "kind": i.kind,
                            "due_date": i.due_date,
                            "open_amount": i.open_amount,
                            "days_overdue": i.days_overdue(as_of),
                            "disputed": i.disputed,
                        }
                        for i in sorted(its, key=lambda i: (i.due_date, i.number))
                    ]
                    for cur, its in items.items()
                },
                "promises": [
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
                ],
                "requests": [request_view(r) for r in requests],
            }
        )


def list_notices(
    app: App,
    *,
    customer_code: str | None,
    kind: str | None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
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


def deliver(
    app: App,
    *,
    limit: int | None = None,
    notice_ids: list[int] | None = None,
    now: bool = False,
    by: str | None = None,
) -> dict[str, Any]:
    """Send what the outbox holds. Notices that failed for good in this sweep (a permanent
    refusal, or retries used up) are listed in one notice to the operator.

    While the company's details are not configured, notices to customers stay in the outbox
    (pending, no attempt spent) and the report says why. ``now``: notices waiting out a retry
    delay are sent now (audited, as ``by``)."""
    hold: frozenset[str] = frozenset()
    hold_reason = ""
    missing = app.settings.company_missing()
    if missing:
        hold = _customer_kinds(app)
        hold_reason = notices.company_refusal(missing)
    released: list[int] = []
    if now:
        from credit.services.common import known_user

        by = known_user(app, by or "")  # sending before the retry is due is audited: by whom
        with app.uow() as uow:
            released = notices.release_waiting(uow.session, utcnow(), hold)
            if released:
                audit.record(
                    uow.session,
                    actor=by,
                    action="notice.retry_now",
                    entity_type="outbox",
                    entity_id="waiting",
                    before={"waiting": len(released)},
                    after={
                        "due": len(released),
                        "first_id": min(released),
                        "last_id": max(released),
                    },
                    reason="sent now instead of after their retry delay",
                )
            uow.commit()
    report = notices.deliver_pending(
        app.engine,
        notices.transport_for(app.settings),
        mail_from=app.settings.mail_from,
        limit=limit,
        notice_ids=notice_ids,
        letters_dir=app.settings.letters_path,
        lease=timedelta(seconds=app.settings.delivery_lease_seconds),
        retry_base=app.settings.delivery_retry_seconds,
        hold=hold,
        hold_reason=hold_reason,
    )
    out = asdict(report)
    out["released"] = len(released)
    out["operator_notice"] = _tell_operator(app, report.failed_ids)
    return out


def _customer_kinds(app: App) -> frozenset[str]:
    """The kinds of notice that go to customers: the shipped ones and the templates of every
    policy version's dunning levels that write to them (not the call tasks)."""
    from credit.db.models import CreditPolicy
    from credit.domain.policy import DunningChannel

    templates = set()
    with app.uow(read_only=True) as uow:
        for row in uow.session.exec(select(CreditPolicy)):
            for level in app.policy_body(row).dunning.levels:
                if level.channel != DunningChannel.CALL:
                    templates.add(level.template)
    return notices.customer_kinds(templates)


def retry_notices(app: App, *, notice_ids: list[int], by: str, reason: str) -> list[int]:
    """Put failed notices back in the outbox (after the cause is fixed); audited. Refuses ids
    that are unknown or not failed, and changes nothing then."""
    from credit.services.common import ServiceError, known_user, required_text

    by, reason = known_user(app, by), required_text(reason, "what was fixed")
    with app.uow() as uow:
        s = uow.session
        rows = {n.id: n for n in s.exec(select(Notice).where(col(Notice.id).in_(notice_ids)))}
        missing = [i for i in notice_ids if i not in rows]
        if missing:
            raise ServiceError(f"no notice with id {', '.join(map(str, missing))}")
        not_failed = [f"#{i} is {rows[i].status}" for i in notice_ids if rows[i].status != "failed"]
        if not_failed:
            raise ServiceError(f"only failed notices can be retried: {'; '.join(not_failed)}")
        for i in notice_ids:
            n = rows[i]
            before = {"status": n.status, "attempts": n.attempts, "last_error": n.last_error}
            n.status, n.attempts, n.claimed_until = NoticeStatus.PENDING, 0, None
            s.add(n)
            audit.record(
                s,
                actor=by,
                action="notice.retry",
                entity_type="notice",
                entity_id=str(i),
                before=before,
                after={"status": n.status, "attempts": 0},
                reason=reason,
            )
        uow.commit()
    return notice_ids


SHOWN_FAILED = 200  # failed notices listed one by one in the operator's notice


def _tell_operator(app: App, failed_ids: list[int]) -> int | None:
    """Queue (and try to send) one notice to the operator listing notices that failed for good;
    an operator notice that fails is not reported again by another."""
    if not failed_ids:
        return None
    with app.uow() as uow:
        s = uow.session
        failed = []
        for i in range(0, len(failed_ids), 5000):
            failed += [
                n
                for n in s.exec(
                    select(Notice)
                    .where(col(Notice.id).in_(failed_ids[i : i + 5000]))
                    .order_by(col(Notice.id))
                )
                if n.kind != "delivery_failed"
            ]
        if not failed:
            return None
        key = "delivery-failed:" + ",".join(str(n.id) for n in failed)
        if len(key) > 120:  # the key column's size: a long list is named by its digest
            import hashlib

            digest = hashlib.sha256(key.encode()).hexdigest()[:16]
            key = f"delivery-failed:{failed[0].id}-{failed[-1].id}:{len(failed)}:{digest}"
        notice, _ = notices.enqueue(
            s,
            app.renderer,
            key=key,
            kind="delivery_failed",
            locale="en",
            recipients=[app.directory.teams.operator_email],
            context={
                "total": len(failed),
                "failed": [
                    {
                        "id": n.id,
                        "key": n.idempotency_key,
                        "kind": n.kind,
                        "recipients": list(n.recipients),
                        "attempts": n.attempts,
                        "last_error": n.last_error or "",
                        "subject": n.subject,
                    }
                    for n in failed[:SHOWN_FAILED]
                ],
                "mail_from": app.settings.mail_from,
            },
        )
        uow.commit()
        operator_id = notice.id if notice is not None else None
    log.error(
        "%d notice(s) could not be delivered (%s); the operator is told",
        len(failed),
        ", ".join(str(n.id) for n in failed[:20]),
    )
    if operator_id is not None:
        notices.deliver_pending(
            app.engine,
            notices.transport_for(app.settings),
            mail_from=app.settings.mail_from,
            notice_ids=[operator_id],
            letters_dir=app.settings.letters_path,
            lease=timedelta(seconds=app.settings.delivery_lease_seconds),
        )
    return operator_id


def customer_list(app: App) -> list[dict[str, Any]]:
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


def audit_events(app: App, *, entity: str | None, limit: int) -> list[dict[str, Any]]:
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
            }
            for e in reversed(rows)
        ]


def verify_audit(app: App) -> dict[str, Any]:
    """Check the audit hash chain from the first event to the last."""
    with app.uow(read_only=True) as uow:
        result = audit.verify(uow.session)
    return {
        "events": result.events,
        "ok": result.ok,
        "broken_at": result.broken_at,
        "reason": result.reason,
    }


def limit_changes(app: App, *, start: date, end: date) -> list[dict[str, Any]]:
    """Every credit-limit change recorded between two dates (inclusive, by the audit clock), with
    its approval evidence: who decided each level, when, and the hash of what they saw."""
    from datetime import UTC, datetime, time, timedelta

    from credit.db.models import ApprovalStep, AuditEvent

    lo = datetime.combine(start, time(0), tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
    rows = []
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
            after, before = e.after or {}, e.before or {}
            request_id = after.get("request_id")
            steps = (
                s.exec(
                    select(ApprovalStep)
                    .where(
                        ApprovalStep.subject == "credit_request",
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
