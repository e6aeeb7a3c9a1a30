"""The approval engine: route a subject, record decisions on its steps, continue its chain.

It knows steps, approvers, the authority matrix and segregation of duties; what is approved and
what follows a decision is the subject's (:mod:`credit.services.approval_chain.subject`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import ApprovalStep, utcnow
from credit.domain import authority
from credit.domain.authority import Decision
from credit.services import followups
from credit.services.approval_chain.steps import (
    Asking,
    ChainRestarted,
    Progress,
    assign,
    chain_steps,
    create_steps,
    deciders,
    evidence_hash,
    restart_round,
    waiting_step,
    what_changed,
)
from credit.services.approval_chain.subject import (
    ApprovalSubject,
    Listing,
    NoticeSpec,
    subject_type,
)
from credit.services.common import (
    DecisionRefused,
    ServiceError,
    enqueued_id,
    person_email,
    saved_id,
)
from credit.services.views import step_view

# Called inside the decision's transaction, after the decision is recorded (e.g. to mark the
# signed link it came through as used).
OnDecided = Callable[[Session, ApprovalStep], None]


def lock_subject(s: Session, subject: str, subject_id: int) -> None:
    """Take the write lock on a subject's row first, so that two decisions on the same chain are
    applied one after the other (a row lock on PostgreSQL, the write lock on SQLite)."""
    subject_type(subject).lock(s, subject_id)


def decision_context(
    item: ApprovalSubject, step: ApprovalStep, *, link: bool, anyone: bool = False
) -> dict[str, Any]:
    """What a notice asking for a decision on ``step`` needs: who, for whom, the link and the
    commands. ``anyone``: several people may decide, so it names no one and has no link."""
    return {
        "step": step_view(step),
        "approver": "" if anyone else step.approver or "",
        "acting_for": step.delegated_from or "",
        **item.how_to_decide(step, link=link and not anyone, anyone=anyone),
    }


def enqueue_once(item: ApprovalSubject, spec: NoticeSpec) -> int | None:
    """Put the notice in the outbox unless its key is there already; the new notice's id (none
    inside :func:`credit.notices.batched`)."""
    if notices.exists(item.s, spec.key):
        return None
    context = dict(spec.context)
    if spec.asks is not None:
        context.update(decision_context(item, spec.asks, link=True))
    n, _ = notices.enqueue(
        item.s,
        item.app.renderer,
        key=spec.key,
        kind=spec.kind,
        locale=spec.locale,
        recipients=spec.recipients,
        customer_id=spec.customer_id,
        context=context,
    )
    if n is None and item.s.info.get(notices.BATCH_BUFFER) is not None:
        return None  # in a batch (notices.batched), the row and its id come when it ends
    return enqueued_id(n)


def advance_in(item: ApprovalSubject) -> Progress:
    """The chain's next step, inside the caller's transaction: route a subject that has no steps
    yet, close it on a rejection, complete it when every level approved, or ask the next
    approver(s)."""
    s = item.s
    steps = chain_steps(s, item.kind, item.subject_id)
    now = utcnow()
    if not steps and item.ready_to_route:
        levels = item.route()
        steps = create_steps(
            s,
            subject=item.kind,
            subject_id=item.subject_id,
            levels=levels,
            due_at=now + timedelta(hours=item.due_hours),
        )
        item.on_routed(levels)
    progress = Progress(item.kind, item.subject_id, item.status)
    ctx = item.notice_context(steps)
    rejected = next((st for st in steps if st.decision == Decision.REJECTED), None)
    if rejected is not None:
        progress.notices = item.on_rejected(rejected, ctx)
    elif all(st.decision == Decision.APPROVED for st in steps):
        item.on_approved(steps, ctx)
    elif item.awaiting_approval:
        progress.waiting_for, progress.notices = _ask(item, steps, ctx, now)
    progress.status = item.status
    return progress


def _ask(
    item: ApprovalSubject, steps: list[ApprovalStep], ctx: dict[str, Any], now: datetime
) -> tuple[str, list[int]]:
    """Ask an approver for each waiting level (the first pending one of an ordered chain, every
    pending one of a chain decided all at once); (whom the chain waits for, notices to report)."""
    waiting = [st for st in steps if st.decision == Decision.PENDING]
    if item.in_order:
        waiting = waiting[:1]
        waiting_step(waiting[0], now=now, due_hours=item.due_hours)
    asking = Asking(
        amount=item.amount,
        requester=item.requester,
        excluded=deciders(steps),
        analyst=item.analyst,
        on=item.available_on,
    )
    reported: list[int] = []
    for step in waiting:
        who = assign(item.app, step, asking)
        item.s.add(step)
        item.s.flush()
        if who is not None:
            asking.excluded.add(who)
        n = enqueue_once(item, item.asked_notice(step, who, ctx))
        if n is not None and item.report_asked_notices:
            reported = [n]
    if item.in_order:
        step = waiting[0]
        said = f"level {step.level} ({step.role})"
        if step.approver is not None:
            said += f": {step.approver}"
            if step.delegated_from:
                said += f" (standing in for {step.delegated_from})"
        return said, reported
    pending = (st for st in steps if st.decision == Decision.PENDING)
    return ", ".join(f"{st.role}: {st.approver}" for st in pending), reported


def advance(app: App, *, subject: str, subject_id: int, as_of: date | None) -> Progress:
    """Move a subject along its chain from what the database says. Safe to repeat."""
    with app.uow() as uow:
        progress = advance_within(
            app, uow.session, subject=subject, subject_id=subject_id, as_of=as_of
        )
        uow.commit()
        return progress


def advance_within(
    app: App, s: Session, *, subject: str, subject_id: int, as_of: date | None
) -> Progress:
    """:func:`advance` inside the caller's transaction (a periodic review routes a batch of
    requests in one); the subject is locked until it ends."""
    item = subject_type(subject).load_locked(app, s, subject_id, as_of=as_of)
    return advance_in(item)


def void_and_restart(
    item: ApprovalSubject,
    steps: list[ApprovalStep],
    changed: list[ApprovalStep],
    evidence: dict[str, Any],
) -> None:
    """Void every approval of the chain, tell the approvers, and ask level 1 again (new round)."""
    s = item.s
    voided = [st for st in steps if st.decision == Decision.APPROVED]
    audit.record(
        s,
        actor="system",
        action="approval.void",
        entity_type=item.kind,
        entity_id=item.subject_id,
        before={"approvals": [step_view(st) for st in voided]},
        after={"round": steps[0].round + 1, "evidence": evidence},
        reason=f"the {item.noun} changed since approval: "
        f"{what_changed(changed[0].evidence or {}, evidence)}",
        policy_version=item.policy_version,
    )
    for st in voided:
        if st.decided_by:
            notices.enqueue(
                s,
                item.app.renderer,
                key=f"approval-voided:{st.id}:r{st.round}",
                kind=item.voided_kind,
                locale="en",
                recipients=[person_email(item.app, st.decided_by)],
                customer_id=item.customer_id,
                context={
                    **item.voided_context(),
                    "step": step_view(st),
                    "changes": what_changed(st.evidence or {}, evidence),
                },
            )
    restart_round(steps, due_at=utcnow() + timedelta(hours=item.due_hours))
    for st in steps:
        s.add(st)
    s.flush()
    advance_in(item)


class DecisionRequest(TypedDict):
    username: str
    approve: bool
    comment: str | None


def _step_to_decide(
    item: ApprovalSubject, username: str
) -> tuple[list[ApprovalStep], ApprovalStep]:
    """The chain and the step ``username`` decides: the first pending level of an ordered chain;
    in a chain decided all at once, the pending step of a role they hold."""
    if not item.awaiting_approval:
        raise ServiceError(
            f"{item.label} {item.subject_id} is {item.status}, not awaiting approval"
        )
    steps = chain_steps(item.s, item.kind, item.subject_id)
    pending = [st for st in steps if st.decision == Decision.PENDING]
    if not pending:
        raise ServiceError(f"{item.label} {item.subject_id} has no step awaiting a decision")
    if item.in_order:
        return steps, pending[0]
    person = item.app.directory.get(username)
    mine = [st for st in pending if person and st.role in person.roles]
    return steps, mine[0] if mine else pending[0]


def refusals_of(
    item: ApprovalSubject,
    steps: list[ApprovalStep],
    step: ApprovalStep,
    *,
    username: str,
    acting_for: str | None,
    escalated_role: str | None = None,
) -> list[str]:
    """Why ``username`` may not decide ``step``: the authority matrix and four eyes."""
    return authority.decision_refusals(
        username=username,
        directory=item.app.directory,
        step_role=step.role,
        step_cap=step.cap,
        amount=item.amount,
        requester=item.requester,
        deciders_of_other_steps=deciders(steps),
        analyst=item.analyst,
        acting_for=acting_for,
        escalated_role=escalated_role,
    )


def _record(
    item: ApprovalSubject, step: ApprovalStep, decision: DecisionRequest, evidence: dict[str, Any]
) -> None:
    """Write the decision on the step (only if it is still pending) and audit it."""
    s, approve = item.s, decision["approve"]
    before = step_view(step)
    result = s.exec(
        update(ApprovalStep)
        .where(col(ApprovalStep.id) == step.id, col(ApprovalStep.decision) == Decision.PENDING)
        .values(
            decision=Decision.APPROVED if approve else Decision.REJECTED,
            decided_by=decision["username"],
            decided_at=utcnow(),
            comment=decision["comment"],
            evidence=evidence,
            evidence_hash=evidence_hash(evidence),
        )
    )
    if result.rowcount != 1:
        raise ServiceError(
            f"level {step.level} of {item.label} {item.subject_id} was decided by someone "
            "else just now"
        )
    s.refresh(step)
    audit.record(
        s,
        actor=decision["username"],
        action="approval.approve" if approve else "approval.reject",
        entity_type=item.kind,
        entity_id=item.subject_id,
        before=before,
        after=step_view(step),
        reason=decision["comment"] or "",
        policy_version=item.policy_version,
    )


def _restart_if_changed(
    item: ApprovalSubject, steps: list[ApprovalStep], evidence: dict[str, Any]
) -> ChainRestarted | None:
    """When what earlier levels approved has changed since: void their approvals and restart
    the chain; the error to raise once that is committed."""
    changed = [
        st
        for st in steps
        if st.decision == Decision.APPROVED and st.evidence_hash != evidence_hash(evidence)
    ]
    if not changed:
        return None
    void_and_restart(item, steps, changed, evidence)
    return ChainRestarted(
        f"{item.noun} {item.subject_id} changed since level {changed[0].level} approved it "
        f"({what_changed(changed[0].evidence or {}, evidence)}): the earlier approvals are void "
        "and routing restarted at level 1; your decision was not recorded"
    )


class Decided(NamedTuple):
    """A recorded decision: the step, where the chain stands now, and the follow-up it handed
    over (None for a subject that needs none)."""

    step: ApprovalStep
    progress: Progress
    follow_up: int | None


def decide(
    app: App,
    *,
    subject: str,
    subject_id: int,
    username: str,
    approve: bool,
    comment: str | None,
    as_of: date,
    on_decided: OnDecided | None = None,
) -> ApprovalStep:
    """:func:`record_decision`'s step."""
    return record_decision(
        app,
        subject=subject,
        subject_id=subject_id,
        username=username,
        approve=approve,
        comment=comment,
        as_of=as_of,
        on_decided=on_decided,
    ).step


def record_decision(
    app: App,
    *,
    subject: str,
    subject_id: int,
    username: str,
    approve: bool,
    comment: str | None,
    as_of: date,
    on_decided: OnDecided | None = None,
) -> Decided:
    """Record one approver's decision on the pending step after checking the authority matrix and
    segregation of duties, and apply what follows (next approver asked, rejection sent, request
    approved, policy published) in the same transaction, with the follow-up the orchestrator runs
    (publishing, delivery); ``on_decided`` runs in it too. A refusal raises
    :class:`DecisionRefused` and is itself audited; a step someone else decided meanwhile is
    refused too."""
    if not approve and not (comment and comment.strip()):
        raise ServiceError(
            "a rejection needs a comment saying why: the requester is told your reasons"
        )
    kind = subject_type(subject)
    with app.uow() as uow:
        item = kind.load_locked(app, uow.session, subject_id, as_of=as_of)
        steps, step = _step_to_decide(item, username)
        refusals = refusals_of(
            item,
            steps,
            step,
            username=username,
            acting_for=step.delegated_from
            if step.delegated_from and username == step.approver
            else None,
            escalated_role=step.escalated_role,
        )
        if refusals:
            policy_version = item.policy_version
            uow.rollback()
            _audit_refusal(
                app,
                subject=subject,
                subject_id=subject_id,
                username=username,
                reasons=refusals,
                policy_version=policy_version,
            )
            raise DecisionRefused(refusals)
        evidence = item.evidence()
        # Only someone who may approve can find that the subject changed under earlier
        # approvals; a rejection stands whatever the data.
        restarted = _restart_if_changed(item, steps, evidence) if approve else None
        if restarted is not None:
            uow.commit()
            raise restarted
        _record(
            item,
            step,
            DecisionRequest(username=username, approve=approve, comment=comment),
            evidence,
        )
        progress = advance_in(item)
        follow_up = _hand_over(item, step, as_of=as_of)
        if on_decided is not None:
            on_decided(uow.session, step)
        uow.commit()
        return Decided(step, progress, follow_up)


def decision_followup_key(subject: str, subject_id: int, step_id: int) -> str:
    """The key of the follow-up one decision hands over (one per decided step)."""
    return f"decision:{subject}:{subject_id}:step:{step_id}"


def _hand_over(item: ApprovalSubject, step: ApprovalStep, *, as_of: date) -> int | None:
    """Record, with the decision, what the orchestrator does next (publish an approved request,
    deliver the notices the decision wrote): a running service runs it at once. Its id."""
    if item.follow_up_kind is None or step.id is None:
        return None
    row = followups.enqueue(
        item.s,
        followups.FollowUpSpec(
            kind=followups.FollowUpKind(item.follow_up_kind),
            key=decision_followup_key(item.kind, item.subject_id, step.id),
            params=item.follow_up_params(),
        ),
        as_of=as_of,
        by=step.decided_by or "system",
    )
    return saved_id(row)


def _audit_refusal(
    app: App,
    *,
    subject: str,
    subject_id: int,
    username: str,
    reasons: list[str],
    policy_version: int,
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


class PendingApproval(Listing):
    """A step awaiting a decision, as `credit approvals list` shows it."""

    level: int
    role: str
    approver: str
    due_at: str


def pending_approvals(app: App, *, username: str | None = None) -> list[PendingApproval]:
    """Steps awaiting a decision (the first pending level of each open ordered chain, every
    pending level of a chain decided all at once); with ``username``, those of roles they hold."""
    person = app.directory.get(username) if username else None
    with app.uow() as uow:
        s = uow.session
        rows = s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.decision == Decision.PENDING)
            .order_by(
                col(ApprovalStep.subject), col(ApprovalStep.subject_id), col(ApprovalStep.level)
            )
        ).all()
        out: list[PendingApproval] = []
        seen: set[tuple[str, int]] = set()
        for st in rows:
            kind = subject_type(st.subject)
            key = (st.subject, st.subject_id)
            if kind.in_order and key in seen:
                continue
            seen.add(key)
            item = kind.find(app, s, st.subject_id, as_of=None)
            if item is None or not item.awaiting_approval:
                continue
            if username and (person is None or st.role not in person.roles):
                continue
            row: PendingApproval = {
                **item.listing(),
                "level": st.level,
                "role": st.role,
                "approver": st.approver or "",
                "due_at": st.due_at.isoformat(),
            }
            out.append(row)
        return out
