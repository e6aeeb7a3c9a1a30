"""The reminder and escalation sweep over every subject kind whose steps are chased."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from credit import audit, notices
from credit.app import App
from credit.db.models import ApprovalStep, utcnow
from credit.domain.authority import Decision
from credit.services.approval_chain.engine import decision_context, refusals_of
from credit.services.approval_chain.steps import chain_steps, deciders
from credit.services.approval_chain.subject import ApprovalSubject, registered
from credit.services.common import person_email


class SweepCounts(TypedDict):
    reminders: int
    escalations: int


@dataclass(frozen=True)
class Overdue:
    """One overdue notice: a reminder, or an escalation to someone else."""

    escalation: bool
    now: datetime
    recipients: list[str] | None = None
    escalated_to: str = ""
    original: str = ""
    to_role: bool = False  # several people of a higher role: no personal link, no name


@dataclass
class _Escalation:
    target: str
    recipients: list[str] = field(default_factory=list)
    to_role: bool = True


def sweep_approvals(app: App, *, as_of: date, now: datetime | None = None) -> SweepCounts:
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
    counts = SweepCounts(reminders=0, escalations=0)
    for kind in registered():
        if not kind.reminders:
            continue
        with app.uow() as uow:
            awaiting = kind.awaiting(uow.session)
        for subject_id in awaiting:
            with app.uow() as uow:
                s = uow.session
                kind.lock(s, subject_id)
                item = kind.find(app, s, subject_id, as_of=as_of)
                if item is None or not item.awaiting_approval:
                    continue
                _sweep_one(item, counts, now=now, as_of=as_of)
                uow.commit()
    return counts


def _sweep_one(item: ApprovalSubject, counts: SweepCounts, *, now: datetime, as_of: date) -> None:
    steps = chain_steps(item.s, item.kind, item.subject_id)
    step = next((st for st in steps if st.decision == Decision.PENDING), None)
    if step is None or now < step.due_at:
        return
    window = timedelta(hours=item.due_hours)
    ctx = item.notice_context(steps)
    if step.reminded_at is None:
        counts["reminders"] += notify_overdue(item, step, ctx, Overdue(escalation=False, now=now))
        step.reminded_at = now
    if step.escalated_at is None and now >= step.due_at + window:
        counts["escalations"] += _escalate(item, steps, step, ctx, now=now, as_of=as_of)
        step.escalated_at = now
    item.s.add(step)


def notify_overdue(
    item: ApprovalSubject, step: ApprovalStep, ctx: dict[str, Any], overdue: Overdue
) -> int:
    """The reminder (or escalation) notice of an overdue step, once per step and round."""
    s, app = item.s, item.app
    who = step.approver
    kind = "escalation" if overdue.escalation else "reminder"
    key = f"approval-{kind}:{step.id}:r{step.round}"
    recipients = overdue.recipients
    if recipients is None:
        recipients = [person_email(app, who)] if who else [app.directory.teams.credit]
    link = not overdue.to_role and not notices.exists(s, key)
    _, created = notices.enqueue(
        s,
        app.renderer,
        key=key,
        kind=item.reminder_kind,
        locale="en",
        recipients=recipients,
        customer_id=item.customer_id,
        context={
            **ctx,
            **decision_context(item, step, link=link, anyone=overdue.to_role),
            "escalation": overdue.escalation,
            "overdue_hours": int((overdue.now - step.due_at).total_seconds() // 3600),
            "escalated_to": overdue.escalated_to,
            "original_approver": overdue.original,
        },
    )
    return int(created)


def _to_delegate(
    item: ApprovalSubject, steps: list[ApprovalStep], step: ApprovalStep, as_of: date
) -> _Escalation | None:
    """The approver's delegate, when they are in and may decide the step."""
    app, original = item.app, step.approver or ""
    person = app.directory.get(original) if original else None
    delegate = app.directory.get(person.delegate) if person and person.delegate else None
    if delegate is None or delegate.away(as_of):
        return None
    refusals = refusals_of(item, steps, step, username=delegate.username, acting_for=original)
    if refusals:
        return None
    step.approver, step.delegated_from = delegate.username, original
    return _Escalation(
        f"{delegate.username} (delegate of {original})", [delegate.email], to_role=False
    )


def _to_higher_role(
    item: ApprovalSubject, steps: list[ApprovalStep], step: ApprovalStep
) -> _Escalation:
    """The next role up that has someone who may decide; else the credit team."""
    app, ds, analyst = item.app, deciders(steps), item.analyst
    for higher in (lv for lv in item.authority_levels() if lv.level > step.level):
        holders = [
            a
            for a in app.directory.holders(higher.role)
            if a.username not in ds and a.username not in (item.requester, analyst)
        ]
        if holders:
            step.escalated_role = higher.role
            return _Escalation(f"holders of the role {higher.role}", [a.email for a in holders])
    return _Escalation("the credit team", [app.directory.teams.credit])


def _escalate(
    item: ApprovalSubject,
    steps: list[ApprovalStep],
    step: ApprovalStep,
    ctx: dict[str, Any],
    *,
    now: datetime,
    as_of: date,
) -> int:
    """To the approver's delegate when one may decide; otherwise to the next-higher role."""
    original = step.approver or ""
    to = _to_delegate(item, steps, step, as_of) or _to_higher_role(item, steps, step)
    audit.record(
        item.s,
        actor="system",
        action="approval.escalate",
        entity_type=item.kind,
        entity_id=item.subject_id,
        before={"level": step.level, "approver": original},
        after={
            "approver": step.approver,
            "delegated_from": step.delegated_from,
            "escalated_role": step.escalated_role,
        },
        reason=f"level {step.level} not decided by its second deadline",
        policy_version=item.policy_version,
    )
    item.s.add(step)
    item.s.flush()
    return notify_overdue(
        item,
        step,
        ctx,
        Overdue(
            escalation=True,
            now=now,
            recipients=to.recipients,
            escalated_to=to.target,
            original=original,
            to_role=to.to_role,
        ),
    )
