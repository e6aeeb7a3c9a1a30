"""What notices, pages and the CLI show of a stored row: plain dicts of display-ready values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from credit.db.models import ApprovalStep, CreditAssessment, CreditLine, CreditRequest, Customer


class CustomerView(TypedDict):
    code: str
    name: str
    email: str
    country: str
    currency: str
    sales_owner_email: str
    locale: str
    postal_address: list[str]


class QualitativeView(TypedDict):
    factors: list[dict[str, Any]]
    comment: str
    by: str
    carried_over_from: int | None


class CleaningView(TypedDict):
    fixes: list[Any]
    rejected: list[Any]
    flags: list[Any]


class AssessmentView(TypedDict):
    id: int | None
    status: str
    as_of: str
    analyst: str
    quantitative_score: Decimal | None
    qualitative_score: Decimal | None
    score: Decimal | None
    rating: str | None
    recommended_limit: Decimal | None
    terms_days: int | None
    conditions: list[str]
    review_months: int | None
    limit_basis: str
    policy_version: int
    factors: list[dict[str, Any]]
    qualitative: QualitativeView
    cleaning: CleaningView
    signals: list[dict[str, Any]]
    risk_effects: dict[str, Any] | None
    requested_limit: Decimal | None
    override_reason: str


class RequestView(TypedDict):
    id: int | None
    kind: str
    status: str
    requested_by: str
    requested_limit: Decimal | None
    recommended_limit: Decimal
    proposed_limit: Decimal
    current_limit: Decimal | None
    currency: str
    terms_days: int
    conditions: list[str]
    rating: str
    review_months: int
    policy_version: int


class StepView(TypedDict):
    id: int | None
    level: int
    role: str
    approver: str | None
    decided_by: str | None
    decision: str
    comment: str
    reason: str
    due_at: str
    decided_at: str
    evidence_hash: str


class LineView(TypedDict):
    limit: Decimal
    currency: str
    terms_days: int
    conditions: list[str]
    rating: str
    status: str
    hold_reason: str
    activated_on: str
    next_review_on: str
    policy_version: int


def customer_view(c: Customer) -> CustomerView:
    return {
        "code": c.code,
        "name": c.name,
        "email": c.email,
        "country": c.country,
        "currency": c.currency,
        "sales_owner_email": c.sales_owner_email,
        "locale": c.locale,
        "postal_address": c.postal_address.splitlines() if c.postal_address else [],
    }


def q2(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def assessment_view(a: CreditAssessment) -> AssessmentView:
    """What notices and the CLI show of an assessment (complete or awaiting the analyst)."""
    qualitative = a.qualitative or {}
    report = a.cleaning_report or {}
    return {
        "id": a.id,
        "status": a.status,
        "as_of": a.as_of.isoformat(),
        "analyst": a.analyst or "",
        "quantitative_score": q2(a.quantitative_score),
        "qualitative_score": q2(a.qualitative_score),
        "score": q2(a.total_score),
        "rating": a.rating,
        "recommended_limit": a.recommended_limit,
        "terms_days": a.terms_days,
        "conditions": list(a.conditions),
        "review_months": a.review_months,
        "limit_basis": a.limit_basis or "",
        "policy_version": a.policy_version,
        "factors": [
            {**f, "value": f["value"] if f["value"] is not None else "missing"} for f in a.factors
        ],
        "qualitative": {
            "factors": list(qualitative.get("factors", [])),
            "comment": qualitative.get("comment", ""),
            "by": qualitative.get("by", ""),
            "carried_over_from": qualitative.get("carried_over_from"),
        },
        "cleaning": {
            "fixes": list(report.get("fixes", [])),
            "rejected": list(report.get("rejected", [])),
            "flags": list(report.get("flags", [])),
        },
        "signals": list((a.inputs or {}).get("signals", [])),
        # what the signals in force did (capped rating, cut limit, conditions); None before
        # the assessment is rated (and for assessments made before signals had effects)
        "risk_effects": (a.inputs or {}).get("risk_effects"),
        "requested_limit": a.requested_limit,
        "override_reason": a.override_reason or "",
    }


def request_view(r: CreditRequest) -> RequestView:
    return {
        "id": r.id,
        "kind": r.kind,
        "status": r.status,
        "requested_by": r.requested_by,
        "requested_limit": r.requested_limit,
        "recommended_limit": r.recommended_limit,
        "proposed_limit": r.proposed_limit,
        "current_limit": r.current_limit,
        "currency": r.currency,
        "terms_days": r.terms_days,
        "conditions": list(r.conditions),
        "rating": r.rating,
        "review_months": r.review_months,
        "policy_version": r.policy_version,
    }


def step_view(st: ApprovalStep) -> StepView:
    return {
        "id": st.id,
        "level": st.level,
        "role": st.role,
        "approver": st.approver,
        "decided_by": st.decided_by,
        "decision": st.decision,
        "comment": st.comment or "",
        "reason": st.reason,
        "due_at": st.due_at.strftime("%Y-%m-%d %H:%M UTC"),
        "decided_at": st.decided_at.strftime("%Y-%m-%d %H:%M UTC") if st.decided_at else "",
        "evidence_hash": st.evidence_hash or "",
    }


def line_view(line: CreditLine) -> LineView:
    return {
        "limit": line.limit,
        "currency": line.currency,
        "terms_days": line.terms_days,
        "conditions": list(line.conditions),
        "rating": line.rating,
        "status": line.status,
        "hold_reason": line.hold_reason or "",
        "activated_on": line.activated_on.isoformat(),
        "next_review_on": line.next_review_on.isoformat(),
        "policy_version": line.policy_version,
    }
