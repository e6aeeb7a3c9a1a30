"""What follows a research decision inside its transaction: the risk signals it answers, the
customer's risk flag it closes, its audit events and the notices to the requester or the
analyst."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import CreditAssessment, Customer, RiskSignal
from credit.db.tables import among
from credit.domain import scoring
from credit.domain.policy import PolicyBody
from credit.domain.research_status import AssessmentStatus
from credit.services.common import person_email
from credit.services.research.decision import Outcome, Rating, complete_fields
from credit.services.views import assessment_view, customer_view


def open_signals(
    s: Session, customers: list[Customer], as_of: date
) -> dict[int, list[dict[str, Any]]]:
    """Each customer's recorded risk signals that no review has answered yet, detected by
    ``as_of`` (what a research snapshot keeps as ``open_signals``), oldest first."""
    codes = {c.id: c.code for c in customers}
    out: dict[int, list[dict[str, Any]]] = {}
    ids = list(codes)
    for i in range(0, len(ids), 1000):
        for r in s.exec(
            select(RiskSignal)
            .where(
                among(s, col(RiskSignal.customer_id), ids[i : i + 1000]),
                col(RiskSignal.reviewed_in).is_(None),
                RiskSignal.detected_on <= as_of,
            )
            .order_by(col(RiskSignal.detected_on), col(RiskSignal.id))
        ):
            out.setdefault(r.customer_id, []).append(
                {
                    "kind": r.kind,
                    "severity": r.severity,
                    "detail": r.detail,
                    "key": r.fingerprint[len(codes[r.customer_id]) + 1 :],
                    "detected_on": r.detected_on.isoformat(),
                }
            )
    return out


def _close_flag(
    s: Session, customer: Customer, a: CreditAssessment, *, actor: str, version: int
) -> None:
    """A review has assessed the customer: the risk flag is closed and its signals point to it."""
    before = {
        "review_flagged_on": customer.review_flagged_on,
        "reason": customer.review_flag_reason,
    }
    for sig in s.exec(
        select(RiskSignal).where(
            RiskSignal.customer_id == customer.id, col(RiskSignal.reviewed_in).is_(None)
        )
    ):
        sig.reviewed_in = a.id
        s.add(sig)
    customer.review_flagged_on, customer.review_flag_reason = None, None
    s.add(customer)
    audit.record(
        s,
        actor=actor,
        action="customer.flag_closed",
        entity_type="customer",
        entity_id=customer.code,
        before=before,
        after={"review_flagged_on": None, "assessment_id": a.id},
        reason="re-review completed its assessment",
        policy_version=version,
    )


def _answer_open_signals(s: Session, a: CreditAssessment, code: str) -> list[str]:
    """A completed review answers the open signals its snapshot took in (their effects, if in
    force, are in its recommendation): they no longer count for the next one."""
    keys = [d["key"] for d in (a.inputs or {}).get("open_signals", [])]
    if not keys:
        return []
    s.execute(
        update(RiskSignal)
        .where(
            col(RiskSignal.fingerprint).in_([f"{code}:{k}" for k in keys]),
            col(RiskSignal.reviewed_in).is_(None),
        )
        .values(reviewed_in=a.id)
    )
    return keys


def _complete_effects(
    app: App, s: Session, a: CreditAssessment, *, customer: Customer, outcome: Outcome
) -> None:
    """Answer the open signals it took in, close the customer's risk flag, audit the completion
    and (``outcome.notify``) tell the requester; the assessment has its id."""
    o = outcome
    answered = _answer_open_signals(s, a, customer.code)
    if customer.review_flagged_on is not None:
        _close_flag(s, customer, a, actor=o.by or a.requested_by, version=a.policy_version)
    audit.record(
        s,
        actor="system" if o.carried_from else (o.by or a.requested_by),
        action="assessment.complete",
        entity_type="customer",
        entity_id=customer.code,
        after={
            "assessment_id": a.id,
            "quantitative": o.result.total,
            "qualitative": o.qual_total,
            "score": a.total_score,
            "rating": a.rating,
            "recommended_limit": a.recommended_limit,
            "risk_effects": (a.inputs or {}).get("risk_effects", {}).get("summary", ""),
            "answered_signals": answered,
        },
        reason=o.comment or ("qualitative carried over" if o.carried_from else ""),
        policy_version=a.policy_version,
    )
    if not o.notify:
        return
    notices.enqueue(
        s,
        app.renderer,
        key=f"assessment-ready:{a.id}",
        kind="assessment_ready",
        locale="en",
        recipients=[person_email(app, a.requested_by)],
        customer_id=customer.id,
        context={
            "customer": customer_view(customer),
            "assessment": assessment_view(a),
            "requested_by": a.requested_by,
        },
    )


def outcome_effects(
    app: App,
    s: Session,
    a: CreditAssessment,
    *,
    customer: Customer,
    policy: PolicyBody,
    outcome: Outcome,
) -> None:
    """The audit events and notices of a decided (and flushed) assessment."""
    if outcome.complete:
        _complete_effects(app, s, a, customer=customer, outcome=outcome)
        return
    audit.record(
        s,
        actor="system",
        action="assessment.await_qualitative",
        entity_type="customer",
        entity_id=customer.code,
        before={"status": AssessmentStatus.COLLECTED},
        after={
            "status": a.status,
            "analyst": a.analyst,
            "quantitative_score": outcome.result.total,
            "due_at": a.qualitative_due_at,
        },
        policy_version=a.policy_version,
    )
    notices.enqueue(
        s,
        app.renderer,
        key=f"qualitative-needed:{a.id}",
        kind="qualitative_needed",
        locale="en",
        recipients=[person_email(app, a.analyst or a.requested_by)],
        customer_id=customer.id,
        context=qualitative_context(a, customer, policy, reminder=False),
    )


def qualitative_context(
    a: CreditAssessment, customer: Customer, policy: PolicyBody, *, reminder: bool
) -> dict[str, Any]:
    """What a ``qualitative_needed`` notice shows the analyst (the questions, the command)."""
    qual = policy.scorecard.qualitative
    factor_args = " ".join(f"--factor {f.name}=SCORE" for f in qual.factors)
    return {
        "customer": customer_view(customer),
        "assessment": assessment_view(a),
        "questions": [
            {"name": f.name, "label": f.label, "question": f.question, "weight": f.weight}
            for f in qual.factors
        ],
        "weights": {
            "quantitative": policy.scorecard.quantitative_weight,
            "qualitative": qual.weight,
        },
        "due_at": a.qualitative_due_at.strftime("%Y-%m-%d %H:%M UTC")
        if a.qualitative_due_at
        else "",
        "command": f'credit assess {customer.code} --as {a.analyst} {factor_args} --comment "..."',
        "reminder": reminder,
    }


def complete(
    app: App,
    s: Session,
    a: CreditAssessment,
    *,
    customer: Customer,
    policy: PolicyBody,
    result: scoring.ScoreResult,
    rating: Rating,
) -> None:
    """Combine, rate and recommend; tell the requester."""
    outcome = complete_fields(a, policy, result, rating)
    s.add(a)
    s.flush()
    _complete_effects(app, s, a, customer=customer, outcome=outcome)
