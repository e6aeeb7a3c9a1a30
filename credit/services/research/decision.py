"""What research decides about a collected assessment, without I/O: the scorecard and the risk
signals of its snapshot, the combined score, the rating and the recommendation (in the
customer's currency, after the policy's risk effects)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from credit import audit
from credit.db.models import CreditAssessment, CreditLine, utcnow
from credit.domain import cleaning, scoring, signals
from credit.domain.money import ZERO
from credit.domain.policy import PolicyBody
from credit.domain.research_status import AssessmentStatus
from credit.domain.snapshot import facts_from_snapshot, payments_from_snapshot
from credit.services.common import saved_id


class ScoredSummary(TypedDict):
    """What scoring returns of an assessment (complete, or waiting for the analyst)."""

    assessment_id: int
    status: str
    analyst: str | None
    quantitative_score: str | None
    score: str | None
    rating: str | None
    factors: list[dict[str, Any]]
    signals: list[dict[str, Any]]


@dataclass(frozen=True)
class Rating:
    """The qualitative part of a completion: the analyst's scores and comment (``scores`` None:
    the policy has no qualitative part), given by ``by`` or carried over from an earlier
    assessment (``carried_from``: its row, with ``id`` and ``qualitative``)."""

    scores: dict[str, Decimal] | None = None
    comment: str = ""
    by: str = ""
    carried_from: Any = None


@dataclass
class Outcome:
    """What scoring decided for an assessment, for the audit and the notices that follow."""

    result: scoring.ScoreResult
    complete: bool
    qual_total: Decimal | None = None
    comment: str = ""
    by: str = ""
    carried_from: Any = None  # the earlier assessment (id, qualitative) a rating came from
    notify: bool = True  # tell the requester the assessment is ready


def rescore(assessment: CreditAssessment, policy: PolicyBody) -> scoring.ScoreResult:
    """Score a stored assessment's snapshot again under its own policy version."""
    return scoring.score_customer(facts_from_snapshot(assessment.inputs), assessment.as_of, policy)


def scan_assessment(
    a: CreditAssessment,
    line: CreditLine | None,
    policy: PolicyBody,
    opened: list[dict[str, Any]] | None = None,
) -> tuple[scoring.ScoreResult, list[signals.Signal], scoring.CustomerFacts]:
    """Score a collected assessment's snapshot and scan it for risk signals (kept in the
    snapshot with ``opened``, the customer's signals recorded earlier and still unanswered, see
    :func:`credit.services.research.effects.open_signals`); no I/O. Returns the score, the
    signals and the facts read from the snapshot."""
    facts = facts_from_snapshot(a.inputs)
    result = scoring.score_customer(facts, a.as_of, policy)
    a.metrics = audit.jsonable(result.metrics)
    a.factors = audit.jsonable(result.factors)
    a.quantitative_score = result.total
    snapshot = dict(a.inputs)
    found = _scan_snapshot(a, snapshot, facts=facts, line=line, policy=policy)
    snapshot["signals"] = audit.jsonable(found)
    keys = {sig.key for sig in found}
    snapshot["open_signals"] = [d for d in opened or [] if d["key"] not in keys]
    a.inputs = snapshot
    return result, found, facts


def _scan_snapshot(
    a: CreditAssessment,
    snapshot: dict[str, Any],
    *,
    facts: scoring.CustomerFacts,
    line: CreditLine | None,
    policy: PolicyBody,
) -> list[signals.Signal]:
    """The risk signals of an assessment's snapshot (profile, documents, payments, exposure)."""
    profile, base = snapshot["profile"], snapshot["base_currency"]
    flags = a.cleaning_report.get("flags", [])
    stale = next((f["reason"] for f in flags if "stale" in f["reason"]), None)
    stale_key = next((f["item"] for f in flags if "stale" in f["reason"]), "")
    return signals.scan(
        profile=signals.Profile(
            email=profile["email"],
            country=profile["country"],
            tax_id=profile["tax_id"],
            registered_on=date.fromisoformat(profile["registered_on"])
            if profile["registered_on"]
            else None,
            sales_owner_email=profile["sales_owner_email"],
        ),
        documents=[
            cleaning.RawDocument(
                d.number, d.issue_date, d.due_date, d.amount, base, d.paid_on, d.open_amount
            )
            for d in facts.documents
        ],
        payments=payments_from_snapshot(snapshot),
        exposure=Decimal(snapshot["exposure"]),
        limit=Decimal(snapshot["limit"]) if snapshot.get("limit") else None,
        stale_statement=stale,
        rules=policy.risk,
        as_of=a.as_of,
        stale_key=stale_key,
        line_ref=f"request-{line.request_id}" if line else "",
    )


def decide(
    a: CreditAssessment,
    policy: PolicyBody,
    *,
    result: scoring.ScoreResult,
    carried: Any,
    now: datetime,
    notify: bool = True,
    facts: scoring.CustomerFacts | None = None,
) -> Outcome:
    """Complete the assessment (no qualitative part, or a recent rating ``carried`` over) or
    set it waiting for the analyst; sets its fields, no I/O."""
    qual = policy.scorecard.qualitative
    if qual.weight == 0:
        return complete_fields(a, policy, result, Rating(), notify=notify, facts=facts)
    if carried is not None:
        rating = Rating(
            scores={f["name"]: Decimal(f["score"]) for f in carried.qualitative["factors"]},
            comment=carried.qualitative.get("comment", ""),
            by=carried.qualitative.get("by", ""),
            carried_from=carried,
        )
        return complete_fields(a, policy, result, rating, notify=notify, facts=facts)
    a.status = AssessmentStatus.AWAITING_QUALITATIVE
    a.qualitative_due_at = now + timedelta(hours=qual.due_hours)
    return Outcome(result=result, complete=False)


def complete_fields(
    a: CreditAssessment,
    policy: PolicyBody,
    result: scoring.ScoreResult,
    rating: Rating,
    *,
    notify: bool = True,
    facts: scoring.CustomerFacts | None = None,
) -> Outcome:
    """Combine, rate and recommend: the assessment's fields, no I/O (``facts``: the snapshot's,
    when the caller has read them already)."""
    qual_total = None
    if rating.scores is not None:
        qual_total, rows = scoring.score_qualitative(rating.scores, policy)
        a.qualitative = audit.jsonable(
            {
                "factors": rows,  # each a dict of its fields (as asdict gives, without copies)
                "comment": rating.comment,
                "by": rating.by,
                "carried_over_from": rating.carried_from.id if rating.carried_from else None,
            }
        )
        a.qualitative_score = qual_total
    total = scoring.combined_score(result.total, qual_total, policy)
    grade = scoring.rate_combined(result, total, policy)
    rec, risk = recommend_with_signals(
        grade,
        a.inputs,
        as_of=a.as_of,
        facts=facts or facts_from_snapshot(a.inputs),
        policy=policy,
    )
    a.inputs = {**a.inputs, "risk_effects": risk_effects_view(risk)}
    a.total_score, a.rating = total, rec.rating
    a.recommended_limit, a.terms_days, a.conditions = rec.limit, rec.terms_days, rec.conditions
    a.review_months, a.limit_basis = rec.review_months, rec.basis
    a.status, a.completed_at = AssessmentStatus.COMPLETE, utcnow()
    return Outcome(
        result=result,
        complete=True,
        qual_total=qual_total,
        comment=rating.comment,
        by=rating.by,
        carried_from=rating.carried_from,
        notify=notify,
    )


def recommend_with_signals(
    grade: str,
    snapshot: dict[str, Any],
    *,
    as_of: date,
    facts: scoring.CustomerFacts,
    policy: PolicyBody,
) -> tuple[scoring.Recommendation, scoring.RiskOutcome]:
    """The recommendation of a rating after the policy's ``risk.effects`` of the snapshot's
    signals in force (rating capped, limit cut, conditions added), in the customer's currency;
    research and the back-test both decide with it."""
    in_force = signals.in_force_from_snapshot(snapshot, as_of, policy.risk.effects_lookback_days)
    currency = snapshot.get("customer_currency") or policy.base_currency
    return scoring.apply_signal_effects(
        grade,
        in_force,
        policy,
        lambda g: in_customer_currency(
            scoring.recommend(g, facts, as_of, policy), snapshot, policy.base_currency
        ),
        currency,
    )


def risk_effects_view(risk: scoring.RiskOutcome) -> dict[str, Any]:
    """What an assessment stores of its risk effects (``inputs["risk_effects"]``)."""
    return audit.jsonable(
        {
            "signals": [
                {
                    "kind": sig.kind,
                    "severity": sig.severity,
                    "detail": sig.detail,
                    "key": sig.key,
                    "detected_on": sig.detected_on,
                    "source": sig.source,
                }
                for sig in risk.signals
            ],
            "rating_before": risk.rating_before,
            "rating": risk.rating,
            "limit_before": risk.limit_before,
            "limit": risk.limit,
            "limit_cut_pct": risk.limit_cut_pct,
            "conditions_added": risk.conditions_added,
            "lines": risk.lines,
            "summary": risk.summary,
        }
    )


def in_customer_currency(
    rec: scoring.Recommendation, snapshot: dict[str, Any], base: str
) -> scoring.Recommendation:
    """The policy sets limits in the base currency; the line is in the customer's currency,
    converted at the research date's rate (rounded down to hundreds)."""
    currency = snapshot.get("customer_currency") or base
    if currency == base or rec.limit == 0:
        return rec
    rate = snapshot.get("customer_rate")
    if not rate:
        return replace(rec, limit=ZERO, basis=f"no {currency} rate to {base}: no unsecured limit")
    converted = (rec.limit / Decimal(rate) // 100) * 100
    return replace(
        rec,
        limit=Decimal(converted).quantize(Decimal("0.01")),
        basis=f"{rec.basis}: {base} {rec.limit:,.2f} at {rate} {base}/{currency} "
        f"(rate of {snapshot.get('customer_rate_date')})",
    )


def scored_summary(a: CreditAssessment) -> ScoredSummary:
    return {
        "assessment_id": saved_id(a),
        "status": a.status,
        "analyst": a.analyst,
        "quantitative_score": str(a.quantitative_score)
        if a.quantitative_score is not None
        else None,
        "score": str(a.total_score) if a.total_score is not None else None,
        "rating": a.rating,
        "factors": list(a.factors),
        "signals": list((a.inputs or {}).get("signals", [])),
    }


def first_own_rating(candidates: Iterable[Any], policy: PolicyBody) -> Any:
    """The first of ``candidates`` (latest first) whose rating an analyst gave (not carried
    over), for the qualitative factors the policy has now."""
    names = {f.name for f in policy.scorecard.qualitative.factors}
    for candidate in candidates:
        q = candidate.qualitative or {}
        if (
            q.get("carried_over_from") is None
            and {f["name"] for f in q.get("factors", [])} == names
        ):
            return candidate
    return None
