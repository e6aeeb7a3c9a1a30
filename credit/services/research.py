"""Research: collect and clean a customer's data, score it, ask the analyst for the qualitative
part, combine, rate and recommend. Each step is its own transaction and safe to repeat."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import (
    AssessmentStatus,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    RequestStatus,
    RiskSignal,
    utcnow,
)
from credit.domain import cleaning, scoring, signals
from credit.domain.money import ZERO, money
from credit.domain.policy import PolicyBody
from credit.domain.snapshot import facts_from_snapshot, make_snapshot
from credit.services.common import ServiceError, get_customer, person_email, saved_id
from credit.services.ledger import base_view_of, load_raw_many, rate_table
from credit.services.risk import record_signals
from credit.services.views import assessment_view, customer_view

log = logging.getLogger(__name__)
COLLECTED = "collected"


def refuse_if_review_open(
    s: Session, customer: Customer, ignore_assessment: int | None = None
) -> None:
    open_request = s.exec(
        select(CreditRequest).where(
            CreditRequest.customer_id == customer.id,
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED]),
        )
    ).first()
    if open_request is not None:
        raise ServiceError(
            f"customer {customer.code} already has credit request {open_request.id} "
            f"({open_request.status}); it must be decided before a new review starts"
        )
    waiting = s.exec(
        select(CreditAssessment).where(
            CreditAssessment.customer_id == customer.id,
            col(CreditAssessment.status).in_([COLLECTED, AssessmentStatus.AWAITING_QUALITATIVE]),
            CreditAssessment.id != (ignore_assessment or 0),
        )
    ).first()
    if waiting is not None:
        raise ServiceError(
            f"customer {customer.code} already has assessment {waiting.id} waiting for "
            f"{waiting.analyst or 'scoring'}; finish it with `credit assess {customer.code}` first"
        )


def check_review_can_start(
    app: App,
    *,
    customer_code: str,
    requested_by: str,
    analyst: str | None = None,
    requested_limit: Decimal | None = None,
    override_reason: str | None = None,
) -> None:
    """Fail fast, before any flow runs, when a review cannot start."""
    person_email(app, requested_by)
    if analyst:
        person_email(app, analyst)
    if requested_limit is not None and not (override_reason and override_reason.strip()):
        raise ServiceError(
            "a requested limit overrides the policy's recommendation: give the reason for it"
        )
    with app.uow() as uow:
        customer = get_customer(uow.session, customer_code)
        app.published_policy(uow.session)
        refuse_if_review_open(uow.session, customer)


def collect_customer_data(
    app: App,
    *,
    customer_code: str,
    as_of: date,
    requested_by: str,
    review_key: str,
    analyst: str | None = None,
    requested_limit: Decimal | None = None,
    override_reason: str | None = None,
) -> dict[str, Any]:
    """Collect and clean everything known about a customer into a new assessment's snapshot.

    Idempotent per ``review_key``: a rerun returns the assessment already started.
    """
    person_email(app, requested_by)
    with app.uow() as uow:
        s = uow.session
        done = s.exec(
            select(CreditAssessment).where(CreditAssessment.review_key == review_key)
        ).first()
        if done is not None:
            return {"assessment_id": done.id, "cleaning": done.cleaning_report}
        customer = get_customer(s, customer_code)
        refuse_if_review_open(s, customer)  # two review starts at once: the second one stops here
        version, policy = app.published_policy(s)
        rates = rate_table(s, policy.base_currency)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        customer_id = saved_id(customer)
        raw, owed = load_raw_many(s, [customer], as_of, policy.dunning.tolerance)[customer_id]
        snapshot, report, facts = collected_snapshot(
            customer, line, raw, owed, as_of, policy, rates
        )
        assessment = CreditAssessment(
            review_key=review_key,
            customer_id=customer_id,
            as_of=as_of,
            policy_version=version,
            requested_by=requested_by,
            status=COLLECTED,
            analyst=analyst or requested_by,
            requested_limit=money(requested_limit) if requested_limit is not None else None,
            override_reason=override_reason,
            inputs=snapshot,
            cleaning_report=report.to_dict(),
        )
        s.add(assessment)
        s.flush()
        audit_collected(s, assessment, customer, facts, report)
        uow.commit()
        return {"assessment_id": assessment.id, "cleaning": report.to_dict()}


def collected_snapshot(
    customer: Customer,
    line: CreditLine | None,
    raw: tuple[list[cleaning.RawStatement], list[cleaning.RawDocument], list[cleaning.RawPayment]],
    exposure_by_currency: dict[str, Decimal],
    as_of: date,
    policy: PolicyBody,
    rates: cleaning.RateTable,
) -> tuple[dict[str, Any], cleaning.CleaningReport, scoring.CustomerFacts]:
    """The cleaned facts of a customer's stored data as an assessment's snapshot (what the
    scorecard and the signals see), with exposure and limit in the base currency."""
    raw_statements, raw_documents, raw_payments = raw
    facts, report = cleaning.clean(
        registered_on=customer.registered_on,
        statements=raw_statements,
        documents=raw_documents,
        payments=raw_payments,
        rates=rates,
        as_of=as_of,
        max_statement_age_months=policy.max_statement_age_months,
    )
    base = base_view_of(exposure_by_currency, customer, line, rates, as_of, report)
    snapshot = make_snapshot(
        facts,
        raw_payments,
        {
            "as_of": as_of,
            "base_currency": policy.base_currency,
            "profile": {
                "email": customer.email,
                "country": customer.country,
                "tax_id": customer.tax_id,
                "registered_on": customer.registered_on.isoformat()
                if customer.registered_on
                else None,
                "sales_owner_email": customer.sales_owner_email,
            },
            **base,
        },
    )
    return snapshot, report, facts


def audit_collected(
    s: Session,
    a: CreditAssessment,
    customer: Customer,
    facts: scoring.CustomerFacts,
    report: cleaning.CleaningReport,
) -> None:
    audit.record(
        s,
        actor=a.requested_by,
        action="assessment.collect",
        entity_type="customer",
        entity_id=customer.code,
        after={
            "assessment_id": a.id,
            "statements": len(facts.statements),
            "documents": len(facts.documents),
            "fixes": len(report.fixes),
            "rejected": len(report.rejected),
            "flags": len(report.flags),
        },
        reason=a.review_key,
        policy_version=a.policy_version,
    )


def _close_flag(
    s: Session, customer: Customer, a: CreditAssessment, actor: str, version: int
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


def rescore(assessment: CreditAssessment, policy: PolicyBody) -> scoring.ScoreResult:
    """Score a stored assessment's snapshot again under its own policy version."""
    return scoring.score_customer(facts_from_snapshot(assessment.inputs), assessment.as_of, policy)


def score_assessment(
    app: App,
    *,
    assessment_id: int,
    reuse_qualitative: bool = False,
    now: datetime | None = None,
    notify_ready: bool = True,
) -> dict[str, Any]:
    """Quantitative scorecard and risk signals from the snapshot; then either complete the
    assessment (no qualitative part, or a recent one may be carried over) or ask the analyst.
    ``notify_ready``: tell the requester when the assessment completes."""
    now = now or utcnow()
    with app.uow() as uow:
        s = uow.session
        a = s.get(CreditAssessment, assessment_id)
        if a is None:
            raise ServiceError(f"no assessment {assessment_id}")
        customer = s.get(Customer, a.customer_id)
        assert customer is not None
        policy = app.policy_body_for(s, a.policy_version)
        if a.status != COLLECTED:
            return scored_summary(a)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        opened = open_signals(s, [customer], a.as_of).get(saved_id(customer), [])
        result, found, facts = scan_assessment(a, line, policy, opened)
        record_signals(
            app,
            s,
            customer=customer,
            found=found,
            as_of=a.as_of,
            policy_version=a.policy_version,
            reviewed_in=a.id,
        )
        qual = policy.scorecard.qualitative
        carried = (
            _recent_qualitative(s, a, qual.reuse_months, policy) if reuse_qualitative else None
        )
        outcome = decide(a, policy, result, carried, now, notify=notify_ready, facts=facts)
        s.add(a)
        s.flush()
        outcome_effects(app, s, a, customer, policy, outcome)
        s.add(a)
        uow.commit()
        return scored_summary(a)


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
                col(RiskSignal.customer_id).in_(ids[i : i + 1000]),
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


def scan_assessment(
    a: CreditAssessment,
    line: CreditLine | None,
    policy: PolicyBody,
    opened: list[dict[str, Any]] | None = None,
) -> tuple[scoring.ScoreResult, list[signals.Signal], scoring.CustomerFacts]:
    """Score a collected assessment's snapshot and scan it for risk signals (kept in the
    snapshot with ``opened``, the customer's signals recorded earlier and still unanswered, see
    :func:`open_signals`); no I/O. Returns the score, the signals and the facts read from the
    snapshot."""
    facts = facts_from_snapshot(a.inputs)
    result = scoring.score_customer(facts, a.as_of, policy)
    a.metrics = audit.jsonable(result.metrics)
    a.factors = audit.jsonable(result.factors)
    a.quantitative_score = result.total
    snapshot = dict(a.inputs)
    profile, base = snapshot["profile"], snapshot["base_currency"]
    flags = a.cleaning_report.get("flags", [])
    stale = next((f["reason"] for f in flags if "stale" in f["reason"]), None)
    stale_key = next((f["item"] for f in flags if "stale" in f["reason"]), "")
    found = signals.scan(
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
        payments=_raw_payments(snapshot),
        exposure=Decimal(snapshot["exposure"]),
        limit=Decimal(snapshot["limit"]) if snapshot.get("limit") else None,
        stale_statement=stale,
        rules=policy.risk,
        as_of=a.as_of,
        stale_key=stale_key,
        line_ref=f"request-{line.request_id}" if line else "",
    )
    snapshot["signals"] = audit.jsonable(found)
    keys = {sig.key for sig in found}
    snapshot["open_signals"] = [d for d in opened or [] if d["key"] not in keys]
    a.inputs = snapshot
    return result, found, facts


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


def decide(
    a: CreditAssessment,
    policy: PolicyBody,
    result: scoring.ScoreResult,
    carried: Any,
    now: datetime,
    *,
    notify: bool = True,
    facts: scoring.CustomerFacts | None = None,
) -> Outcome:
    """Complete the assessment (no qualitative part, or a recent rating carried over) or set it
    waiting for the analyst; sets its fields, no I/O."""
    qual = policy.scorecard.qualitative
    if qual.weight == 0:
        return _complete_fields(
            a,
            policy,
            result,
            scores=None,
            comment="",
            by="",
            carried_from=None,
            notify=notify,
            facts=facts,
        )
    if carried is not None:
        scores = {f["name"]: Decimal(f["score"]) for f in carried.qualitative["factors"]}
        return _complete_fields(
            a,
            policy,
            result,
            scores=scores,
            comment=carried.qualitative.get("comment", ""),
            by=carried.qualitative.get("by", ""),
            carried_from=carried,
            notify=notify,
            facts=facts,
        )
    a.status = AssessmentStatus.AWAITING_QUALITATIVE
    a.qualitative_due_at = now + timedelta(hours=qual.due_hours)
    return Outcome(result=result, complete=False)


def outcome_effects(
    app: App, s: Session, a: CreditAssessment, customer: Customer, policy: PolicyBody, o: Outcome
) -> None:
    """The audit events and notices of a decided (and flushed) assessment."""
    if o.complete:
        _complete_effects(app, s, a, customer, o)
        return
    audit.record(
        s,
        actor="system",
        action="assessment.await_qualitative",
        entity_type="customer",
        entity_id=customer.code,
        before={"status": COLLECTED},
        after={
            "status": a.status,
            "analyst": a.analyst,
            "quantitative_score": o.result.total,
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
        context=_qualitative_context(a, customer, policy, reminder=False),
    )


def _raw_payments(snapshot: dict[str, Any]) -> list[cleaning.RawPayment]:
    from credit.domain.snapshot import payments_from_snapshot

    return payments_from_snapshot(snapshot)


def scored_summary(a: CreditAssessment) -> dict[str, Any]:
    return {
        "assessment_id": a.id,
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


def _recent_qualitative(
    s: Session, a: CreditAssessment, months: int, policy: PolicyBody
) -> CreditAssessment | None:
    """The latest rating an analyst actually gave (not itself carried over) within ``months``,
    for the same qualitative factors as the policy now has."""
    if months <= 0:
        return None
    from credit.services.common import add_months

    earliest = add_months(a.as_of, -months)
    return first_own_rating(
        s.exec(
            select(CreditAssessment)
            .where(
                CreditAssessment.customer_id == a.customer_id,
                CreditAssessment.status == AssessmentStatus.COMPLETE,
                CreditAssessment.as_of >= earliest,
                CreditAssessment.id != a.id,
                col(CreditAssessment.qualitative_score).is_not(None),
            )
            .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
        ),
        policy,
    )


def first_own_rating(candidates: Any, policy: PolicyBody) -> Any:
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


def _qualitative_context(
    a: CreditAssessment, customer: Customer, policy: PolicyBody, *, reminder: bool
) -> dict[str, Any]:
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


def _complete(
    app: App,
    s: Session,
    a: CreditAssessment,
    customer: Customer,
    policy: PolicyBody,
    result: scoring.ScoreResult,
    *,
    scores: dict[str, Decimal] | None,
    comment: str,
    by: str,
    carried_from: Any,
) -> None:
    """Combine, rate and recommend; tell the requester."""
    outcome = _complete_fields(
        a, policy, result, scores=scores, comment=comment, by=by, carried_from=carried_from
    )
    s.add(a)
    s.flush()
    _complete_effects(app, s, a, customer, outcome)


def _complete_fields(
    a: CreditAssessment,
    policy: PolicyBody,
    result: scoring.ScoreResult,
    *,
    scores: dict[str, Decimal] | None,
    comment: str,
    by: str,
    carried_from: Any,
    notify: bool = True,
    facts: scoring.CustomerFacts | None = None,
) -> Outcome:
    """Combine, rate and recommend: the assessment's fields, no I/O (``facts``: the snapshot's,
    when the caller has read them already)."""
    qual_total = None
    if scores is not None:
        qual_total, rows = scoring.score_qualitative(scores, policy)
        a.qualitative = audit.jsonable(
            {
                "factors": [asdict(r) for r in rows],
                "comment": comment,
                "by": by,
                "carried_over_from": carried_from.id if carried_from else None,
            }
        )
        a.qualitative_score = qual_total
    total = scoring.combined_score(result.total, qual_total, policy)
    grade = scoring.rate_combined(result, total, policy)
    rec, risk = recommend_with_signals(
        grade, a.inputs, a.as_of, facts or facts_from_snapshot(a.inputs), policy
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
        comment=comment,
        by=by,
        carried_from=carried_from,
        notify=notify,
    )


def recommend_with_signals(
    grade: str,
    snapshot: dict[str, Any],
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
        lambda g: _in_customer_currency(
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
    app: App, s: Session, a: CreditAssessment, customer: Customer, o: Outcome
) -> None:
    """Answer the open signals it took in, close the customer's risk flag, audit the completion
    and (``o.notify``) tell the requester; the assessment has its id."""
    answered = _answer_open_signals(s, a, customer.code)
    if customer.review_flagged_on is not None:
        _close_flag(s, customer, a, o.by or a.requested_by, a.policy_version)
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


def _in_customer_currency(
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


def record_qualitative(
    app: App,
    *,
    customer_code: str,
    username: str,
    scores: dict[str, Decimal],
    comment: str,
    override_limit: Decimal | None = None,
    override_reason: str | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """The analyst's answer to the qualitative step: validated, combined, rated, audited.

    ``as_of`` is the day the analyst answers: risk signals recorded up to then, while the
    analyst was asked (a bounced payment a risk scan found meanwhile), count in the rating too.
    Without it, those recorded by the research date count."""
    if not comment.strip():
        raise ServiceError("a qualitative assessment needs a comment explaining the ratings")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        a = s.exec(
            select(CreditAssessment).where(
                CreditAssessment.customer_id == customer.id,
                CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE,
            )
        ).first()
        if a is None:
            raise ServiceError(
                f"customer {customer_code} has no assessment waiting for a qualitative rating"
            )
        if username != a.analyst:
            raise ServiceError(f"assessment {a.id} is assigned to {a.analyst}, not {username}")
        policy = app.policy_body_for(s, a.policy_version)
        try:
            scoring.score_qualitative(scores, policy)
        except ValueError as exc:
            names = ", ".join(f.name for f in policy.scorecard.qualitative.factors)
            raise ServiceError(
                f"{exc} (the policy's qualitative factors: {names}; scores 0-100)"
            ) from None
        claimed = s.exec(
            update(CreditAssessment)
            .where(
                col(CreditAssessment.id) == a.id,
                col(CreditAssessment.status) == AssessmentStatus.AWAITING_QUALITATIVE,
            )
            .values(status=AssessmentStatus.AWAITING_QUALITATIVE)
        )
        if claimed.rowcount != 1:
            raise ServiceError(f"assessment {a.id} was answered by someone else just now")
        if override_limit is not None:
            if not (override_reason and override_reason.strip()):
                raise ServiceError("a limit other than the recommendation needs a reason")
            audit.record(
                s,
                actor=username,
                action="assessment.override",
                entity_type="customer",
                entity_id=customer.code,
                before={"requested_limit": a.requested_limit, "override_reason": a.override_reason},
                after={
                    "requested_limit": money(override_limit),
                    "override_reason": override_reason,
                },
                reason=override_reason,
                policy_version=a.policy_version,
            )
            a.requested_limit, a.override_reason = money(override_limit), override_reason
        # the signals recorded while the analyst was asked count too
        known = {d["key"] for d in a.inputs.get("signals", [])}
        until = max(a.as_of, as_of) if as_of is not None else a.as_of
        a.inputs = {
            **a.inputs,
            "open_signals": [
                d
                for d in open_signals(s, [customer], until).get(saved_id(customer), [])
                if d["key"] not in known
            ],
        }
        result = rescore(a, policy)
        _complete(
            app,
            s,
            a,
            customer,
            policy,
            result,
            scores=scores,
            comment=comment,
            by=username,
            carried_from=None,
        )
        uow.commit()
        return {
            **scored_summary(a),
            "recommended_limit": str(a.recommended_limit),
            "currency": customer.currency,
        }


def _email_or_team(app: App, username: str | None) -> str:
    person = app.directory.get(username) if username else None
    return person.email if person else app.directory.teams.credit


def send_research_reminders(app: App, *, now: datetime | None = None) -> dict[str, int]:
    """Remind analysts whose qualitative rating is overdue; tell the credit team when it is twice
    overdue. Each reminder is sent once (idempotency keys per assessment); one assessment that
    cannot be reminded (say, its analyst left the directory) does not stop the others."""
    now = now or utcnow()
    sent = {"reminders": 0, "escalations": 0}
    with app.uow() as uow:
        ids = list(
            uow.session.exec(
                select(CreditAssessment.id).where(
                    CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE,
                    col(CreditAssessment.qualitative_due_at) < now,
                )
            )
        )
    for assessment_id in ids:
        try:
            with app.uow() as uow:
                s = uow.session
                a = s.get(CreditAssessment, assessment_id)
                if a is None or a.status != AssessmentStatus.AWAITING_QUALITATIVE:
                    continue
                customer = s.get(Customer, a.customer_id)
                assert customer is not None and a.qualitative_due_at is not None
                policy = app.policy_body_for(s, a.policy_version)
                ctx = _qualitative_context(a, customer, policy, reminder=True)
                _, created = notices.enqueue(
                    s,
                    app.renderer,
                    key=f"qualitative-reminder:{a.id}",
                    kind="qualitative_needed",
                    locale="en",
                    recipients=[_email_or_team(app, a.analyst or a.requested_by)],
                    customer_id=customer.id,
                    context=ctx,
                )
                sent["reminders"] += created
                if now - a.qualitative_due_at >= timedelta(
                    hours=policy.scorecard.qualitative.due_hours
                ):
                    _, created = notices.enqueue(
                        s,
                        app.renderer,
                        key=f"qualitative-escalation:{a.id}",
                        kind="qualitative_needed",
                        locale="en",
                        recipients=[
                            app.directory.teams.credit,
                            _email_or_team(app, a.requested_by),
                        ],
                        customer_id=customer.id,
                        context=ctx,
                    )
                    sent["escalations"] += created
                uow.commit()
        except (ServiceError, notices.NoticeError) as exc:
            log.error("reminder for assessment %s not sent: %s", assessment_id, exc)
    return sent


def reassign_analyst(app: App, *, customer_code: str, to: str, by: str, reason: str) -> int:
    """Give a waiting qualitative rating to another analyst (audited); they are asked at once."""
    person_email(app, to)
    person_email(app, by)
    if not reason.strip():
        raise ServiceError("a reason is required: say why")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        a = _waiting(s, customer)
        before = {"analyst": a.analyst}
        a.analyst = to
        a.qualitative_due_at = utcnow() + timedelta(
            hours=app.policy_body_for(s, a.policy_version).scorecard.qualitative.due_hours
        )
        s.add(a)
        audit.record(
            s,
            actor=by,
            action="assessment.reassign",
            entity_type="customer",
            entity_id=customer.code,
            before=before,
            after={"analyst": to, "assessment_id": a.id},
            reason=reason,
            policy_version=a.policy_version,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"qualitative-needed:{a.id}:{to}",
            kind="qualitative_needed",
            locale="en",
            recipients=[person_email(app, to)],
            customer_id=customer.id,
            context=_qualitative_context(
                a, customer, app.policy_body_for(s, a.policy_version), reminder=False
            ),
        )
        uow.commit()
        return saved_id(a)


def cancel_research(app: App, *, customer_code: str, by: str, reason: str) -> int:
    """Abandon a review waiting for its qualitative rating (audited), so a new one can start."""
    person_email(app, by)
    if not reason.strip():
        raise ServiceError("a reason is required: say why")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        a = _waiting(s, customer)
        a.status = "cancelled"
        s.add(a)
        audit.record(
            s,
            actor=by,
            action="assessment.cancel",
            entity_type="customer",
            entity_id=customer.code,
            before={"status": AssessmentStatus.AWAITING_QUALITATIVE, "assessment_id": a.id},
            after={"status": "cancelled"},
            reason=reason,
            policy_version=a.policy_version,
        )
        uow.commit()
        return saved_id(a)


def _waiting(s: Session, customer: Customer) -> CreditAssessment:
    a = s.exec(
        select(CreditAssessment).where(
            CreditAssessment.customer_id == customer.id,
            col(CreditAssessment.status).in_([AssessmentStatus.AWAITING_QUALITATIVE, COLLECTED]),
        )
    ).first()
    if a is None:
        raise ServiceError(
            f"customer {customer.code} has no assessment waiting for a qualitative rating"
        )
    return a


def waiting_assessments(app: App) -> list[dict[str, Any]]:
    """Assessments waiting for an analyst's qualitative rating."""
    with app.uow() as uow:
        rows = uow.session.exec(
            select(CreditAssessment, Customer)
            .join(Customer, col(Customer.id) == col(CreditAssessment.customer_id))
            .where(CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE)
            .order_by(col(CreditAssessment.qualitative_due_at))
        ).all()
        return [
            {
                "assessment_id": a.id,
                "customer": c.code,
                "analyst": a.analyst,
                "requested_by": a.requested_by,
                "quantitative_score": str(a.quantitative_score),
                "due_at": a.qualitative_due_at.isoformat() if a.qualitative_due_at else "",
            }
            for a, c in rows
        ]
