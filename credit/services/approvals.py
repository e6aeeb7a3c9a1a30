"""Approval chains: routing by the authority matrix, decisions, continuation."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import (
    ApprovalStep,
    CreditAssessment,
    CreditLine,
    CreditPolicy,
    CreditRequest,
    Customer,
    Decision,
    PolicyStatus,
    RequestKind,
    RequestStatus,
    utcnow,
)
from credit.domain import authority
from credit.domain.money import ZERO
from credit.services.changes import request_change
from credit.services.common import (
    SUBJECT_REQUEST,
    DecisionRefused,
    ServiceError,
    add_months,
    enqueued_id,
    id_col,
    person_email,
    saved_id,
)
from credit.services.ledger import exposure
from credit.services.links import new_link
from credit.services.views import assessment_view, customer_view, request_view, step_view

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Where an approval chain stands after :func:`advance_request` / :func:`advance_policy`."""

    subject: str
    subject_id: int
    status: str
    waiting_for: str | None = None
    notices: list[int] = field(default_factory=list)


def _steps(s: Session, subject: str, subject_id: int) -> list[ApprovalStep]:
    return list(
        s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.subject == subject, ApprovalStep.subject_id == subject_id)
            .order_by(col(ApprovalStep.level))
        )
    )


def _create_steps(
    app: App,
    s: Session,
    *,
    subject: str,
    subject_id: int,
    chain: Sequence[tuple[int, str, Decimal | None, str]],
    requester: str,
    amount: Decimal,
    due_hours: int,
    now: datetime,
) -> list[ApprovalStep]:
    steps = []
    for level, role, cap, reason in chain:
        step = ApprovalStep(
            subject=subject,
            subject_id=subject_id,
            level=level,
            role=role,
            cap=cap,
            reason=reason,
            due_at=now + timedelta(hours=due_hours),
        )
        s.add(step)
        steps.append(step)
    s.flush()
    return steps


def _assign(
    app: App,
    step: ApprovalStep,
    *,
    amount: Decimal,
    requester: str,
    excluded: set[str],
    analyst: str | None = None,
    on: date | None = None,
) -> str | None:
    """Ask the first eligible holder of the level's role who is in; or a delegate standing in."""
    if step.approver is None:
        picked = authority.pick_approver(
            directory=app.directory,
            role=step.role,
            cap=step.cap,
            amount=amount,
            requester=requester,
            excluded=excluded,
            analyst=analyst,
            on=on,
        )
        if picked is not None:
            step.approver, step.delegated_from = picked[0].username, picked[1]
    return step.approver


def _deciders(steps: list[ApprovalStep]) -> set[str]:
    """Everyone who already decided a level, including whom a delegate stood in for."""
    return {st.decided_by for st in steps if st.decided_by} | {
        st.delegated_from for st in steps if st.decided_by and st.delegated_from
    }


def _hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _hash_of(evidence: dict[str, Any]) -> str:
    """The hash of what was seen, leaving out the day it was seen on."""
    return _hash({k: v for k, v in evidence.items() if k != "as_of"})


def _what_changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    keys = [
        k
        for k in sorted(set(before) | set(after))
        if k != "as_of" and before.get(k) != after.get(k)
    ]
    return ", ".join(f"{k}: {before.get(k)} -> {after.get(k)}" for k in keys) or "evidence differs"


class ChainRestarted(ServiceError):
    """The request changed after earlier levels approved it; they were voided and routing restarted."""


def _void_and_restart(
    app: App,
    s: Session,
    r: CreditRequest,
    steps: list[ApprovalStep],
    changed: list[ApprovalStep],
    evidence: dict[str, Any],
    as_of: date,
) -> None:
    """Void every approval of the chain, tell the approvers, and ask level 1 again (new round)."""
    policy = app.policy_body_for(s, r.policy_version)
    now = utcnow()
    voided = [st for st in steps if st.decision == Decision.APPROVED]
    audit.record(
        s,
        actor="system",
        action="approval.void",
        entity_type=SUBJECT_REQUEST,
        entity_id=saved_id(r),
        before={"approvals": [step_view(st) for st in voided]},
        after={"round": steps[0].round + 1, "evidence": evidence},
        reason=f"the request changed since approval: {_what_changed(changed[0].evidence or {}, evidence)}",
        policy_version=r.policy_version,
    )
    customer = s.get(Customer, r.customer_id)
    assert customer is not None
    for st in voided:
        if st.decided_by:
            notices.enqueue(
                s,
                app.renderer,
                key=f"approval-voided:{st.id}:r{st.round}",
                kind="approval_voided",
                locale="en",
                recipients=[person_email(app, st.decided_by)],
                customer_id=r.customer_id,
                context={
                    "customer": customer_view(customer),
                    "request": request_view(r),
                    "step": step_view(st),
                    "changes": _what_changed(st.evidence or {}, evidence),
                },
            )
    for st in steps:
        st.decision, st.decided_by, st.decided_at, st.comment = Decision.PENDING, None, None, None
        st.evidence, st.evidence_hash, st.approver, st.delegated_from = None, None, None, None
        st.escalated_role, st.reminded_at, st.escalated_at = None, None, None
        st.round += 1
        st.due_at = now + timedelta(hours=policy.authority.step_due_hours)
        s.add(st)
    s.flush()
    _advance_request_in(app, s, r, as_of)


def _research_date(s: Session, r: CreditRequest) -> date:
    a = s.get(CreditAssessment, r.assessment_id)
    assert a is not None
    return a.as_of


def _evidence(s: Session, r: CreditRequest, as_of: date) -> dict[str, Any]:
    """What an approver decides on: the proposal, the assessment behind it and the exposure."""
    return audit.jsonable(
        {
            "request_id": r.id,
            "amount": r.proposed_limit,
            "currency": r.currency,
            "base_amount": r.base_amount,
            "terms_days": r.terms_days,
            "conditions": list(r.conditions),
            "rating": r.rating,
            "assessment_id": r.assessment_id,
            # as of the research date: only a real change of the ledger moves it, not the calendar
            "exposure": {
                k: v for k, v in sorted(exposure(s, r.customer_id, _research_date(s, r)).items())
            },
            "as_of": as_of,
        }
    )


def _analyst_of(s: Session, r: CreditRequest) -> str | None:
    """Who gave the qualitative rating behind a request (they do not approve it)."""
    a = s.get(CreditAssessment, r.assessment_id)
    if a is None or not a.qualitative:
        return None
    return a.qualitative.get("by") or None


def lock_subject(s: Session, subject: str, subject_id: int) -> None:
    """Take the write lock on a request or policy row first, so that two decisions on the same
    chain are applied one after the other (a row lock on PostgreSQL, the write lock on SQLite)."""
    if subject == SUBJECT_REQUEST:
        s.execute(
            update(CreditRequest)
            .where(col(CreditRequest.id) == subject_id)
            .values(id=CreditRequest.id)
        )
    else:
        s.execute(
            update(CreditPolicy)
            .where(col(CreditPolicy.version) == subject_id)
            .values(version=CreditPolicy.version)
        )


def request_amount(r: CreditRequest) -> Decimal:
    """The amount the authority matrix compares: in the base currency when a rate was known."""
    return r.base_amount if r.base_amount is not None else r.proposed_limit


def advance_request(app: App, *, request_id: int, as_of: date) -> Progress:
    """Move a credit request along its chain from what the database says: create the steps the
    authority matrix requires, ask the next approver, or report rejection. Safe to repeat."""
    with app.uow() as uow:
        s = uow.session
        lock_subject(s, SUBJECT_REQUEST, request_id)
        r = s.get(CreditRequest, request_id)
        if r is None:
            raise ServiceError(f"no credit request {request_id}")
        progress = _advance_request_in(app, s, r, as_of)
        uow.commit()
        return progress


def _reschedule_after_rejected_review(s: Session, r: CreditRequest, as_of: date) -> None:
    """A rejected re-review leaves the line as it is; it is looked at again in a month rather
    than never (its due date would otherwise stay in the past, already reviewed)."""
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == r.customer_id)).first()
    if r.kind != RequestKind.REVIEW or line is None or line.next_review_on > as_of:
        return
    before = {"next_review_on": line.next_review_on}
    line.next_review_on = add_months(as_of, 1)
    s.add(line)
    audit.record(
        s,
        actor="system",
        action="credit_line.reschedule_review",
        entity_type="credit_line",
        entity_id=str(r.customer_id),
        before=before,
        after={"next_review_on": line.next_review_on},
        reason=f"re-review request {r.id} was rejected; the line stays as it is until then",
        policy_version=r.policy_version,
    )


def _advance_request_in(app: App, s: Session, r: CreditRequest, as_of: date) -> Progress:
    """The chain's next step, inside the caller's transaction."""
    request_id = saved_id(r)
    customer = s.get(Customer, r.customer_id)
    assert customer is not None
    policy_row = s.exec(select(CreditPolicy).where(CreditPolicy.version == r.policy_version)).one()
    policy = app.policy_body(policy_row)
    amount = request_amount(r)
    steps = _steps(s, SUBJECT_REQUEST, request_id)
    now = utcnow()
    if not steps and r.status == RequestStatus.IN_APPROVAL:
        chain = authority.required_steps(
            amount=amount,
            rating=r.rating,
            above_recommendation=r.proposed_limit > r.recommended_limit,
            policy=policy,
            unconverted_currency=None
            if r.currency == policy.base_currency or r.base_amount is not None
            else r.currency,
            current_limit=(r.current_limit * (amount / r.proposed_limit))
            if r.current_limit and r.proposed_limit
            else None,
        )
        steps = _create_steps(
            app,
            s,
            subject=SUBJECT_REQUEST,
            subject_id=request_id,
            chain=[(c.level, c.role, c.cap, c.reason) for c in chain],
            requester=r.requested_by,
            amount=amount,
            due_hours=policy.authority.step_due_hours,
            now=now,
        )
        audit.record(
            s,
            actor="system",
            action="request.route",
            entity_type="credit_request",
            entity_id=request_id,
            after={"levels": [(c.level, c.role) for c in chain]},
            reason="; ".join(c.reason for c in chain),
            policy_version=r.policy_version,
        )
    progress = Progress(SUBJECT_REQUEST, request_id, r.status)
    rejected = next((st for st in steps if st.decision == Decision.REJECTED), None)
    ctx = _approval_context(app, s, r, steps, as_of)
    if rejected is not None:
        if r.status != RequestStatus.REJECTED:
            r.status, r.decided_at = RequestStatus.REJECTED, now
            s.add(r)
            ctx["request"] = request_view(r)
            audit.record(
                s,
                actor=rejected.decided_by or "system",
                action="request.reject",
                entity_type="credit_request",
                entity_id=request_id,
                before={"status": RequestStatus.IN_APPROVAL},
                after={"status": RequestStatus.REJECTED},
                reason=rejected.comment or "",
                policy_version=r.policy_version,
            )
            _reschedule_after_rejected_review(s, r, as_of)
        n, _ = notices.enqueue(
            s,
            app.renderer,
            key=f"request-rejected:{r.id}",
            kind="request_rejected",
            locale="en",
            recipients=[person_email(app, r.requested_by)],
            customer_id=customer.id,
            context={**ctx, "rejection": step_view(rejected)},
        )
        progress.status, progress.notices = RequestStatus.REJECTED, [enqueued_id(n)]
    elif all(st.decision == Decision.APPROVED for st in steps):
        if r.status == RequestStatus.IN_APPROVAL:
            r.status, r.decided_at = RequestStatus.APPROVED, now
            s.add(r)
            audit.record(
                s,
                actor="system",
                action="request.approve",
                entity_type="credit_request",
                entity_id=request_id,
                before={"status": RequestStatus.IN_APPROVAL},
                after={"status": RequestStatus.APPROVED},
                reason="approved at every level by "
                + ", ".join(st.decided_by or "" for st in steps),
                policy_version=r.policy_version,
            )
        progress.status = r.status
    else:
        step = next(st for st in steps if st.decision == Decision.PENDING)
        if (
            step.approver is None
        ):  # this level has just become the one waiting: its clock starts now
            policy_hours = app.policy_body_for(s, r.policy_version).authority.step_due_hours
            step.due_at = now + timedelta(hours=policy_hours)
            step.reminded_at = step.escalated_at = None
        deciders = _deciders(steps)
        who = _assign(
            app,
            step,
            amount=amount,
            requester=r.requested_by,
            excluded=deciders,
            analyst=_analyst_of(s, r),
            on=as_of,
        )
        s.add(step)
        s.flush()
        progress.waiting_for = f"level {step.level} ({step.role})"
        if who is None:
            recipients, key = (
                [app.directory.teams.credit],
                f"approval-unassignable:{step.id}:r{step.round}",
            )
        else:
            recipients, key = (
                [person_email(app, who)],
                f"approval-needed:{step.id}:r{step.round}:{who}",
            )
            progress.waiting_for += f": {who}"
            if step.delegated_from:
                progress.waiting_for += f" (standing in for {step.delegated_from})"
        if not notices.exists(s, key):
            n, _ = notices.enqueue(
                s,
                app.renderer,
                key=key,
                kind="approval_needed",
                locale="en",
                recipients=recipients,
                customer_id=customer.id,
                context={**ctx, **_decision_context(app, s, r, step, link=True)},
            )
            progress.notices = [enqueued_id(n)]
    return progress


def decide(
    app: App,
    *,
    subject: str,
    subject_id: int,
    username: str,
    approve: bool,
    comment: str | None,
    as_of: date,
) -> ApprovalStep:
    """Record one approver's decision on the pending step after checking the authority matrix and
    segregation of duties, and apply what follows (next approver asked, rejection sent, request
    approved, policy published) in the same transaction. A refusal raises :class:`DecisionRefused`
    and is itself audited; a step someone else decided meanwhile is refused too."""
    if not approve and not (comment and comment.strip()):
        raise ServiceError(
            "a rejection needs a comment saying why: the requester is told your reasons"
        )
    with app.uow() as uow:
        s = uow.session
        lock_subject(s, subject, subject_id)
        # Exactly one of them: the request, or the policy version, being decided.
        r: CreditRequest | None = None
        p: CreditPolicy | None = None
        status: str
        open_status: str
        if subject == SUBJECT_REQUEST:
            r = s.get(CreditRequest, subject_id)
            if r is None:
                raise ServiceError(f"no credit request {subject_id}")
            status, requester, policy_version = r.status, r.requested_by, r.policy_version
            amount = request_amount(r)
            open_status = RequestStatus.IN_APPROVAL
            analyst = _analyst_of(s, r)
        else:
            p = s.exec(select(CreditPolicy).where(CreditPolicy.version == subject_id)).first()
            if p is None:
                raise ServiceError(f"no policy version {subject_id}")
            status, requester, policy_version = p.status, p.proposed_by, p.version
            amount, open_status, analyst = ZERO, PolicyStatus.IN_APPROVAL, None
        label = subject.replace("_", " ")
        if status != open_status:
            raise ServiceError(f"{label} {subject_id} is {status}, not awaiting approval")
        steps = _steps(s, subject, subject_id)
        pending = [st for st in steps if st.decision == Decision.PENDING]
        if not pending:
            raise ServiceError(f"{label} {subject_id} has no step awaiting a decision")
        deciders = _deciders(steps)
        if r is not None:
            step = pending[0]  # levels are decided in order
            cap = step.cap
            evidence = _evidence(s, r, as_of)
        else:
            # A policy committee decides in any order; the person takes the step of a role they hold.
            person = app.directory.get(username)
            mine = [st for st in pending if person and st.role in person.roles]
            step, cap = (mine[0] if mine else pending[0]), ZERO
        refusals = authority.decision_refusals(
            username=username,
            directory=app.directory,
            step_role=step.role,
            step_cap=cap,
            amount=amount,
            requester=requester,
            deciders_of_other_steps=deciders,
            analyst=analyst,
            acting_for=step.delegated_from
            if step.delegated_from and username == step.approver
            else None,
            escalated_role=step.escalated_role,
        )
        if refusals:
            uow.rollback()
            _audit_refusal(app, subject, subject_id, username, refusals, policy_version)
            raise DecisionRefused(refusals)
        if r is not None and approve:
            # Only someone who may approve can find that the request changed under earlier
            # approvals; a rejection stands whatever the data.
            changed = [
                st
                for st in steps
                if st.decision == Decision.APPROVED and st.evidence_hash != _hash_of(evidence)
            ]
            if changed:
                _void_and_restart(app, s, r, steps, changed, evidence, as_of)
                uow.commit()
                raise ChainRestarted(
                    f"request {subject_id} changed since level {changed[0].level} approved it "
                    f"({_what_changed(changed[0].evidence or {}, evidence)}): the earlier approvals are void "
                    "and routing restarted at level 1; your decision was not recorded"
                )
        before = step_view(step)
        decided_at = utcnow()
        if p is not None:
            evidence = {"policy_version": p.version, "sha256": p.body_sha256}
        result = s.exec(
            update(ApprovalStep)
            .where(col(ApprovalStep.id) == step.id, col(ApprovalStep.decision) == Decision.PENDING)
            .values(
                decision=Decision.APPROVED if approve else Decision.REJECTED,
                decided_by=username,
                decided_at=decided_at,
                comment=comment,
                evidence=evidence,
                evidence_hash=_hash_of(evidence),
            )
        )
        if result.rowcount != 1:
            raise ServiceError(
                f"level {step.level} of {label} {subject_id} was decided by someone else just now"
            )
        s.refresh(step)
        audit.record(
            s,
            actor=username,
            action="approval.approve" if approve else "approval.reject",
            entity_type=subject,
            entity_id=subject_id,
            before=before,
            after=step_view(step),
            reason=comment or "",
            policy_version=policy_version,
        )
        if r is not None:
            _advance_request_in(app, s, r, as_of)
        else:
            from credit.services.policy import _advance_policy_in

            assert p is not None
            _advance_policy_in(app, s, p)
        uow.commit()
        return step


def _audit_refusal(
    app: App, subject: str, subject_id: int, username: str, reasons: list[str], policy_version: int
) -> None:
    with app.uow() as uow:
        audit.record(
            uow.session,
            actor=username,
            action="approval.refused",
            entity_type=subject,
            entity_id=subject_id,
            reason="; ".join(reasons),
            policy_version=policy_version,
        )
        uow.commit()


def pending_approvals(app: App, *, username: str | None = None) -> list[dict[str, Any]]:
    """Steps awaiting a decision (the first pending level of each open chain)."""
    with app.uow() as uow:
        s = uow.session
        rows = s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.decision == Decision.PENDING)
            .order_by(
                col(ApprovalStep.subject), col(ApprovalStep.subject_id), col(ApprovalStep.level)
            )
        ).all()
        out, seen = [], set()
        for st in rows:
            key = (st.subject, st.subject_id)
            if st.subject == SUBJECT_REQUEST and key in seen:
                continue
            seen.add(key)
            if st.subject == SUBJECT_REQUEST:
                r = s.get(CreditRequest, st.subject_id)
                if r is None or r.status != RequestStatus.IN_APPROVAL:
                    continue
                c = s.get(Customer, r.customer_id)
                item = {
                    "subject": "request",
                    "id": r.id,
                    "customer": c.code if c else "?",
                    "kind": r.kind,
                    "amount": str(r.proposed_limit),
                    "currency": r.currency,
                    "rating": r.rating,
                    "requested_by": r.requested_by,
                }
            else:
                p = s.exec(
                    select(CreditPolicy).where(CreditPolicy.version == st.subject_id)
                ).first()
                if p is None or p.status != PolicyStatus.IN_APPROVAL:
                    continue
                item = {
                    "subject": "policy",
                    "id": p.version,
                    "customer": "-",
                    "kind": "policy",
                    "amount": "",
                    "currency": "",
                    "rating": "",
                    "requested_by": p.proposed_by,
                }
            item.update(
                {
                    "level": st.level,
                    "role": st.role,
                    "approver": st.approver or "",
                    "due_at": st.due_at.isoformat(),
                }
            )
            if username:
                person = app.directory.get(username)
                if person is None or st.role not in person.roles:
                    continue
            out.append(item)
        return out


def sweep_approvals(app: App, *, as_of: date, now: datetime | None = None) -> dict[str, int]:
    """Remind the approver when a step passes its due time; at the second deadline (as long again)
    escalate to their delegate, or else to the next-higher role. Each notice is sent once.

    The sweep's clock is ``now``; by default the present moment for a sweep dated today, and the
    end of the day (in the company's time zone) for a sweep dated another day, so that a sweep
    as of a later date reminds and escalates what would be due by then."""
    if now is None:
        now = utcnow()
        if as_of != app.settings.today():
            zone = ZoneInfo(app.settings.timezone)
            now = datetime.combine(as_of, time.max, tzinfo=zone).astimezone(UTC)
    counts = {"reminders": 0, "escalations": 0}
    with app.uow() as uow:
        s = uow.session
        open_requests = list(
            s.exec(
                select(id_col(CreditRequest)).where(
                    CreditRequest.status == RequestStatus.IN_APPROVAL
                )
            )
        )
    for request_id in open_requests:
        with app.uow() as uow:
            s = uow.session
            lock_subject(s, SUBJECT_REQUEST, request_id)
            r = s.get(CreditRequest, request_id)
            if r is None or r.status != RequestStatus.IN_APPROVAL:
                continue
            steps = _steps(s, SUBJECT_REQUEST, request_id)
            step = next((st for st in steps if st.decision == Decision.PENDING), None)
            if step is None or now < step.due_at:
                continue
            policy = app.policy_body_for(s, r.policy_version)
            window = timedelta(hours=policy.authority.step_due_hours)
            ctx = _approval_context(app, s, r, steps, as_of)
            if step.reminded_at is None:
                counts["reminders"] += _notify_overdue(
                    app, s, r, step, ctx, escalation=False, now=now
                )
                step.reminded_at = now
            if step.escalated_at is None and now >= step.due_at + window:
                counts["escalations"] += _escalate(
                    app, s, r, steps, step, ctx, policy, now=now, as_of=as_of
                )
                step.escalated_at = now
            s.add(step)
            uow.commit()
    return counts


def _approval_context(
    app: App, s: Session, r: CreditRequest, steps: list[ApprovalStep], as_of: date
) -> dict[str, Any]:
    customer = s.get(Customer, r.customer_id)
    assessment = s.get(CreditAssessment, r.assessment_id)
    assert customer is not None and assessment is not None
    return {
        "customer": customer_view(customer),
        "request": request_view(r),
        "assessment": assessment_view(assessment),
        "exposure": dict(exposure(s, saved_id(customer), as_of)),
        "steps": [step_view(st) for st in steps],
        "change": request_change(app, s, r),  # the line as it stands and the previous assessment
    }


def _decision_context(
    app: App, s: Session, r: CreditRequest, step: ApprovalStep, *, link: bool
) -> dict[str, Any]:
    """What an approver's notice needs to act on a step: who, for whom, the link and the commands."""
    who = step.approver
    return {
        "step": step_view(step),
        "approver": who or "",
        "acting_for": step.delegated_from or "",
        "link": new_link(app, s, step=step, request_id=saved_id(r), approver=who)
        if who and link
        else "",
        "command_approve": f"credit approve {r.id} --as {who or 'USER'}",
        "command_reject": f'credit reject {r.id} --as {who or "USER"} --comment "..."',
    }


def _notify_overdue(
    app: App,
    s: Session,
    r: CreditRequest,
    step: ApprovalStep,
    ctx: dict[str, Any],
    *,
    escalation: bool,
    now: datetime,
    recipients: list[str] | None = None,
    escalated_to: str = "",
    original: str = "",
    to_role: bool = False,
) -> int:
    who = step.approver
    kind = "escalation" if escalation else "reminder"
    key = f"approval-{kind}:{step.id}:r{step.round}"
    if recipients is None:
        recipients = [person_email(app, who)] if who else [app.directory.teams.credit]
    _, created = notices.enqueue(
        s,
        app.renderer,
        key=key,
        kind="approval_reminder",
        locale="en",
        recipients=recipients,
        customer_id=r.customer_id,
        context={
            **ctx,
            **_decision_context(app, s, r, step, link=not to_role and not notices.exists(s, key)),
            # several people of a higher role: no personal link, and the command names no one
            **(
                {
                    "approver": "",
                    "command_approve": f"credit approve {r.id} --as USER",
                    "command_reject": f'credit reject {r.id} --as USER --comment "..."',
                }
                if to_role
                else {}
            ),
            "escalation": escalation,
            "overdue_hours": int((now - step.due_at).total_seconds() // 3600),
            "escalated_to": escalated_to,
            "original_approver": original,
        },
    )
    return int(created)


def _escalate(
    app: App,
    s: Session,
    r: CreditRequest,
    steps: list[ApprovalStep],
    step: ApprovalStep,
    ctx: dict[str, Any],
    policy: Any,
    *,
    now: datetime,
    as_of: date,
) -> int:
    """To the approver's delegate when one may decide; otherwise to the next-higher role."""
    original = step.approver or ""
    person = app.directory.get(original) if original else None
    deciders = _deciders(steps)
    analyst = _analyst_of(s, r)
    delegate = app.directory.get(person.delegate) if person and person.delegate else None
    if (
        delegate is not None
        and not delegate.away(as_of)
        and not authority.decision_refusals(
            username=delegate.username,
            directory=app.directory,
            step_role=step.role,
            step_cap=step.cap,
            amount=request_amount(r),
            requester=r.requested_by,
            deciders_of_other_steps=deciders,
            analyst=analyst,
            acting_for=original,
        )
    ):
        step.approver, step.delegated_from = delegate.username, original
        target, recipients, to_role = (
            f"{delegate.username} (delegate of {original})",
            [delegate.email],
            False,
        )
    else:
        target, recipients, to_role = "the credit team", [app.directory.teams.credit], True
        for higher in (lv for lv in policy.authority.levels if lv.level > step.level):
            holders = [
                a
                for a in app.directory.holders(higher.role)
                if a.username not in deciders and a.username not in (r.requested_by, analyst)
            ]
            if holders:  # the next role up that has someone who may decide
                step.escalated_role = higher.role
                target = f"holders of the role {higher.role}"
                recipients = [a.email for a in holders]
                to_role = True
                break
    audit.record(
        s,
        actor="system",
        action="approval.escalate",
        entity_type=SUBJECT_REQUEST,
        entity_id=saved_id(r),
        before={"level": step.level, "approver": original},
        after={
            "approver": step.approver,
            "delegated_from": step.delegated_from,
            "escalated_role": step.escalated_role,
        },
        reason=f"level {step.level} not decided by its second deadline",
        policy_version=r.policy_version,
    )
    s.add(step)
    s.flush()
    return _notify_overdue(
        app,
        s,
        r,
        step,
        ctx,
        escalation=True,
        now=now,
        recipients=recipients,
        escalated_to=target,
        original=original,
        to_role=to_role,
    )
