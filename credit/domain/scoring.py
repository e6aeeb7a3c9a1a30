"""Scorecard: turn a customer's facts into metrics, factor points, a total score and a rating."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from credit.domain.money import ZERO, fmt_money, money, ratio
from credit.domain.policy import (
    SEVERITIES,
    Factor,
    LimitRule,
    MissingData,
    PolicyBody,
    Rating,
    Severity,
)
from credit.domain.signals import InForce


@dataclass(frozen=True)
class StatementFacts:
    period_end: date
    revenue: Decimal
    net_income: Decimal
    total_assets: Decimal
    total_liabilities: Decimal
    current_assets: Decimal
    current_liabilities: Decimal
    operating_cash_flow: Decimal

    @property
    def equity(self) -> Decimal:
        return self.total_assets - self.total_liabilities


@dataclass(frozen=True)
class DocumentFacts:
    """An invoice (positive) or credit note (negative), with the day it was fully paid if it was."""

    number: str
    issue_date: date
    due_date: date
    amount: Decimal
    paid_on: date | None = None
    open_amount: Decimal = ZERO  # what is still unpaid as of the research date


@dataclass(frozen=True)
class CustomerFacts:
    registered_on: date | None
    statements: list[StatementFacts] = field(default_factory=list)
    documents: list[DocumentFacts] = field(default_factory=list)


@dataclass(frozen=True)
class FactorScore:
    name: str
    label: str
    metric: str
    value: Decimal | None
    band: str
    points: Decimal
    weight: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class ScoreResult:
    metrics: dict[str, Decimal | None]
    factors: list[FactorScore]
    total: Decimal
    rating: str
    cannot_rate: list[str]


def latest_statement(facts: CustomerFacts, as_of: date) -> StatementFacts | None:
    known = [s for s in facts.statements if s.period_end <= as_of]
    return max(known, key=lambda s: s.period_end) if known else None


UNBOUNDED = Decimal("999")


def cover_ratio(numerator: Decimal, liabilities: Decimal) -> Decimal | None:
    """A ratio over liabilities; with no liabilities at all, something positive covers them
    without bound (the best band), not 'missing data'."""
    if liabilities == 0:
        if numerator == 0:
            return None
        return UNBOUNDED if numerator > 0 else -UNBOUNDED
    return ratio(numerator, liabilities)


def compute_metrics(facts: CustomerFacts, as_of: date) -> dict[str, Decimal | None]:
    """Every metric the policy's factors can use; None where the data is missing."""
    invoices = [d for d in facts.documents if d.amount > 0 and d.issue_date <= as_of]
    paid = [d for d in invoices if d.paid_on is not None and d.paid_on <= as_of]
    overdue_open = [d for d in invoices if d not in paid and d.due_date < as_of]
    settled_or_due = paid + overdue_open
    on_time = [d for d in paid if d.paid_on is not None and d.paid_on <= d.due_date]
    days_late = [max(0, ((d.paid_on or as_of) - d.due_date).days) for d in settled_or_due]

    recent = [d for d in invoices if (as_of - d.issue_date).days < 365]
    sales = sum((d.amount for d in recent), ZERO)
    receivables = sum((d.open_amount for d in facts.documents if d.issue_date <= as_of), ZERO)
    dso = None
    if sales > 0:
        dso = (max(ZERO, receivables) / sales * 365).quantize(Decimal("0.1"))

    st = latest_statement(facts, as_of)
    years = None
    if facts.registered_on is not None and facts.registered_on <= as_of:
        years = (Decimal((as_of - facts.registered_on).days) / Decimal("365.25")).quantize(
            Decimal("0.01")
        )
    return {
        "on_time_payment_ratio": ratio(Decimal(len(on_time)), Decimal(len(settled_or_due)))
        if settled_or_due
        else None,
        "avg_days_beyond_terms": ratio(Decimal(sum(days_late)), Decimal(len(days_late)))
        if days_late
        else None,
        "dso": dso,
        "current_ratio": cover_ratio(st.current_assets, st.current_liabilities) if st else None,
        "debt_ratio": ratio(st.total_liabilities, st.total_assets) if st else None,
        "net_margin": ratio(st.net_income, st.revenue) if st else None,
        "operating_cash_flow_ratio": cover_ratio(st.operating_cash_flow, st.current_liabilities)
        if st
        else None,
        "revenue": st.revenue if st else None,
        "years_registered": years,
    }


def _band_label(factor: Factor, value: Decimal) -> tuple[str, Decimal] | None:
    for band in factor.bands:
        if band.contains(value):
            low = "" if band.min is None else f"{band.min}"
            high = "" if band.max is None else f"{band.max}"
            return f"[{low}, {high})", band.points
    return None


def score_factor(factor: Factor, value: Decimal | None, policy: PolicyBody) -> FactorScore:
    """Points for one factor; missing data gets the policy's stated treatment, never silent zero."""
    card = policy.scorecard
    if value is None:
        if factor.missing is MissingData.NEUTRAL:
            band, points = "missing: neutral", card.neutral_points
        elif factor.missing is MissingData.PENALTY:
            band, points = "missing: penalty", card.penalty_points
        else:
            band, points = "missing: cannot rate", ZERO
    else:
        found = _band_label(factor, value)
        if found is None:
            band, points = "outside every band: neutral", card.neutral_points
        else:
            band, points = found
    return FactorScore(
        name=factor.name,
        label=factor.label,
        metric=factor.metric,
        value=value,
        band=band,
        points=points,
        weight=factor.weight,
        weighted=(points * factor.weight).quantize(Decimal("0.01")),
    )


def rate(total: Decimal, policy: PolicyBody) -> str:
    for r in policy.ratings:
        if total >= r.min_score:
            return r.grade
    return policy.ratings[-1].grade  # pragma: no cover - the last band starts at 0 (validated)


def score_customer(facts: CustomerFacts, as_of: date, policy: PolicyBody) -> ScoreResult:
    """Score every policy factor, add the weighted points and rate the total."""
    metrics = compute_metrics(facts, as_of)
    factors = [score_factor(f, metrics[f.metric], policy) for f in policy.scorecard.factors]
    total = sum((f.weighted for f in factors), ZERO).quantize(Decimal("0.01"))
    cannot = [
        f.name
        for f, s in zip(policy.scorecard.factors, factors, strict=True)
        if f.missing is MissingData.CANNOT_RATE and s.value is None
    ]
    grade = policy.unrated.grade if cannot else rate(total, policy)
    return ScoreResult(
        metrics=metrics, factors=factors, total=total, rating=grade, cannot_rate=cannot
    )


@dataclass(frozen=True)
class QualitativeScore:
    name: str
    label: str
    score: Decimal
    weight: Decimal
    weighted: Decimal


def score_qualitative(
    scores: dict[str, Decimal], policy: PolicyBody
) -> tuple[Decimal, list[QualitativeScore]]:
    """Weighted total of the analyst's 0-100 ratings; every policy factor must be rated."""
    factors = policy.scorecard.qualitative.factors
    missing = [f.name for f in factors if f.name not in scores]
    unknown = sorted(set(scores) - {f.name for f in factors})
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(unknown)}")
        raise ValueError(f"qualitative ratings: {'; '.join(problems)}")
    rows = []
    for f in factors:
        value = Decimal(scores[f.name])
        if not 0 <= value <= 100:
            raise ValueError(f"qualitative rating {f.name}={value}: must be between 0 and 100")
        rows.append(
            QualitativeScore(
                f.name, f.label, value, f.weight, (value * f.weight).quantize(Decimal("0.01"))
            )
        )
    return sum((r.weighted for r in rows), ZERO).quantize(Decimal("0.01")), rows


def combined_score(
    quantitative: Decimal, qualitative: Decimal | None, policy: PolicyBody
) -> Decimal:
    """quantitative x its weight + qualitative x its weight (the policy's split, adding up to 1)."""
    card = policy.scorecard
    total = quantitative * card.quantitative_weight
    if card.qualitative.weight > 0:
        if qualitative is None:
            raise ValueError("the policy weighs a qualitative assessment, and none was given")
        total += qualitative * card.qualitative.weight
    return total.quantize(Decimal("0.01"))


def rate_combined(result: ScoreResult, total: Decimal, policy: PolicyBody) -> str:
    """The grade of a combined total; a missing 'cannot rate' factor still means unrated."""
    return policy.unrated.grade if result.cannot_rate else rate(total, policy)


@dataclass(frozen=True)
class Recommendation:
    rating: str
    limit: Decimal
    terms_days: int
    conditions: list[str]
    review_months: int
    basis: str


def limit_from_rule(rule: LimitRule, statement: StatementFacts | None) -> tuple[Decimal, str]:
    """Smallest of share of equity, share of revenue and the cap; no statement: the cap is 0."""
    if rule.cap == 0:
        return ZERO, "the rating allows no unsecured credit"
    if statement is None:
        return ZERO, "no financial statement: no unsecured limit"

    def pct(share: Decimal) -> str:
        return f"{(share * 100).normalize():f}%"

    candidates = {
        f"{pct(rule.share_of_equity)} of equity": max(ZERO, statement.equity)
        * rule.share_of_equity,
        f"{pct(rule.share_of_revenue)} of revenue": max(ZERO, statement.revenue)
        * rule.share_of_revenue,
        "policy cap": rule.cap,
    }
    basis, amount = min(candidates.items(), key=lambda kv: kv[1])
    # Limits are granted in whole hundreds, rounded down.
    rounded = (money(amount) // 100) * 100
    return Decimal(rounded).quantize(Decimal("0.01")), basis


def recommend(grade: str, facts: CustomerFacts, as_of: date, policy: PolicyBody) -> Recommendation:
    """The policy's limit, terms, conditions and review frequency for a rating."""
    rating: Rating = policy.rating(grade)
    limit, basis = limit_from_rule(rating.limit, latest_statement(facts, as_of))
    return Recommendation(
        rating=rating.grade,
        limit=limit,
        terms_days=rating.terms_days,
        conditions=list(rating.conditions),
        review_months=rating.review.months,
        basis=basis,
    )


@dataclass(frozen=True)
class RiskOutcome:
    """What the signals in force did to a recommendation, with the lines that explain it."""

    signals: list[InForce]
    rating_before: str
    rating: str
    limit_before: Decimal
    limit: Decimal
    limit_cut_pct: Decimal
    conditions_added: list[str]
    lines: list[str]  # one sentence per effect, with the signals that caused it
    summary: str  # the effects in one line ("" when the signals changed nothing)


def _named(signals: list[InForce], severity: str) -> str:
    kinds = [s.kind for s in signals if s.severity == severity]
    return f"{severity} signal{'s' if len(kinds) > 1 else ''} {', '.join(kinds)}"


@dataclass(frozen=True)
class _Effects:
    """What the severities present do, each with the severity that does it: the rating cap, the
    limit cut, the conditions added (condition, severity)."""

    capped: str
    capped_by: Severity | None
    cut: Decimal
    cut_by: Severity | None
    added: list[tuple[str, Severity]]


def _gravest_effects(
    grade: str, present: list[Severity], policy: PolicyBody, rec: Callable[[str], Recommendation]
) -> tuple[Recommendation, _Effects]:
    """The capped rating's recommendation and the effects of the severities ``present`` (gravest
    first): the gravest cap, the largest cut, and every condition the recommendation lacks."""
    capped, capped_by = grade, None
    cut, cut_by = Decimal(0), None
    for sev in present:
        effect = policy.risk.effects.get(sev)
        if effect is None:
            continue
        if effect.max_rating is not None and policy.rating_rank(capped) < policy.rating_rank(
            effect.max_rating
        ):
            capped, capped_by = effect.max_rating, sev
        if effect.limit_cut_pct > cut:
            cut, cut_by = effect.limit_cut_pct, sev
    recommendation = rec(capped)
    added: list[tuple[str, Severity]] = []
    for sev in present:
        effect = policy.risk.effects.get(sev)
        for condition in effect.conditions if effect is not None else []:
            if condition not in recommendation.conditions and condition not in [
                c for c, _ in added
            ]:
                added.append((condition, sev))
    return recommendation, _Effects(capped, capped_by, cut, cut_by, added)


def _effect_lines(
    grade: str, signals: list[InForce], effects: _Effects, limits: tuple[Decimal, Decimal, str]
) -> tuple[list[str], list[str]]:
    """One sentence per effect with the signals that caused it, and the short forms of them.
    ``limits``: the limit before the cut, after it, and their currency."""
    before, after, currency = limits
    pct = f"{effects.cut.normalize():f}%"
    lines, short = [], []
    if effects.capped != grade:
        lines.append(
            f"rating {grade} capped to {effects.capped} by "
            f"{_named(signals, effects.capped_by or '')}"
        )
        short.append(lines[-1])
    if effects.cut > 0 and before > 0:
        lines.append(
            f"limit cut {pct} by {_named(signals, effects.cut_by or '')}: "
            f"{fmt_money(before, currency)} → {fmt_money(after, currency)}"
        )
        short.append(f"limit cut {pct}")
    for added_condition, added_by in effects.added:
        lines.append(f"condition added: {added_condition} (by {_named(signals, added_by)})")
        short.append(f"condition added: {added_condition}")
    return lines, short


def apply_signal_effects(  # noqa: PLR0917  # research and the unit tests pass all five by position
    grade: str,
    signals: list[InForce],
    policy: PolicyBody,
    recommend_for: Callable[[str], Recommendation],
    currency: str,
) -> tuple[Recommendation, RiskOutcome]:
    """The policy's ``risk.effects`` applied to a rating and its recommendation.

    The gravest cap among the severities present caps the rating (a rating already at or below
    it stays); the recommendation is that of the capped rating; the largest cut among them cuts
    its limit (rounded down to hundreds); the conditions of every severity present are added to
    the rating's own. ``recommend_for(grade)``: the recommendation of a grade, in ``currency``.
    """
    present = [sev for sev in reversed(SEVERITIES) if any(s.severity == sev for s in signals)]
    rec, effects = _gravest_effects(grade, present, policy, recommend_for)
    cut = effects.cut
    limit = rec.limit
    if cut > 0 and rec.limit > 0:
        limit = (money(rec.limit * (100 - cut) / 100) // 100 * 100).quantize(Decimal("0.01"))
    lines, short = _effect_lines(grade, signals, effects, (rec.limit, limit, currency))
    added = [c for c, _ in effects.added]
    outcome = RiskOutcome(
        signals=list(signals),
        rating_before=grade,
        rating=effects.capped,
        limit_before=rec.limit,
        limit=limit,
        limit_cut_pct=cut,
        conditions_added=added,
        lines=lines,
        summary="; ".join(short),
    )
    if limit != rec.limit or added:
        pct = f"{cut.normalize():f}%"
        basis = rec.basis + (f"; less {pct} for risk signals" if limit != rec.limit else "")
        rec = replace(rec, limit=limit, conditions=[*rec.conditions, *added], basis=basis[:200])
    return rec, outcome
