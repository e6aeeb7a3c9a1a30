"""The steps of an approval chain: creating them, asking approvers, who decided, evidence."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import ApprovalStep
from credit.domain import authority
from credit.domain.authority import Decision
from credit.services.approval_chain.subject import Level
from credit.services.common import ServiceError


@dataclass
class Progress:
    """Where an approval chain stands after :func:`advance_request` / :func:`advance_policy`."""

    subject: str
    subject_id: int
    status: str
    waiting_for: str | None = None
    notices: list[int] = field(default_factory=list)


class ChainRestarted(ServiceError):
    """The subject changed after earlier levels approved it; they were voided and routing
    restarted."""


def chain_steps(s: Session, subject: str, subject_id: int) -> list[ApprovalStep]:
    """The levels of one subject's chain, in order."""
    return list(
        s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.subject == subject, ApprovalStep.subject_id == subject_id)
            .order_by(col(ApprovalStep.level))
        )
    )


def create_steps(
    s: Session,
    *,
    subject: str,
    subject_id: int,
    levels: Sequence[Level],
    due_at: datetime,
) -> list[ApprovalStep]:
    """One pending step per level the route requires, each due at ``due_at``."""
    steps = []
    for lv in levels:
        step = ApprovalStep(
            subject=subject,
            subject_id=subject_id,
            level=lv.level,
            role=lv.role,
            cap=lv.cap,
            reason=lv.reason,
            due_at=due_at,
        )
        s.add(step)
        steps.append(step)
    s.flush()
    return steps


@dataclass(frozen=True)
class Asking:
    """Whom an approver must not be, when one is picked for a step."""

    amount: Decimal
    requester: str
    excluded: set[str]
    analyst: str | None = None
    on: date | None = None


def assign(app: App, step: ApprovalStep, asking: Asking) -> str | None:
    """Ask the first eligible holder of the level's role who is in; or a delegate standing in."""
    if step.approver is None:
        picked = authority.pick_approver(
            directory=app.directory,
            role=step.role,
            cap=step.cap,
            amount=asking.amount,
            requester=asking.requester,
            excluded=asking.excluded,
            analyst=asking.analyst,
            on=asking.on,
        )
        if picked is not None:
            step.approver, step.delegated_from = picked[0].username, picked[1]
    return step.approver


def deciders(steps: list[ApprovalStep]) -> set[str]:
    """Everyone who already decided a level, including whom a delegate stood in for."""
    return {st.decided_by for st in steps if st.decided_by} | {
        st.delegated_from for st in steps if st.decided_by and st.delegated_from
    }


def evidence_hash(evidence: dict[str, Any]) -> str:
    """The hash of what was seen, leaving out the day it was seen on."""
    data = {k: v for k, v in evidence.items() if k != "as_of"}
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def what_changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    keys = [
        k
        for k in sorted(set(before) | set(after))
        if k != "as_of" and before.get(k) != after.get(k)
    ]
    return ", ".join(f"{k}: {before.get(k)} -> {after.get(k)}" for k in keys) or "evidence differs"


def restart_round(steps: list[ApprovalStep], *, due_at: datetime) -> None:
    """Forget every decision and assignment of the chain and start a new round."""
    for st in steps:
        st.decision, st.decided_by, st.decided_at, st.comment = Decision.PENDING, None, None, None
        st.evidence, st.evidence_hash, st.approver, st.delegated_from = None, None, None, None
        st.escalated_role, st.reminded_at, st.escalated_at = None, None, None
        st.round += 1
        st.due_at = due_at


def waiting_step(step: ApprovalStep, *, now: datetime, due_hours: int) -> None:
    """A level has just become the one waiting (nobody asked yet): its clock starts now."""
    if step.approver is None:
        step.due_at = now + timedelta(hours=due_hours)
        step.reminded_at = step.escalated_at = None
