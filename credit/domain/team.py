"""The collections team's rules: who a new case goes to, how cases rank, when a dispute is due
and when its owner is reminded (pure; the policy's ``team`` section says the figures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.domain.policy_team import CollectorRule, DisputeCode, Team

PRIORITY_DIVISOR = Decimal(1000)


@dataclass(frozen=True)
class CaseFacts:
    """What the collector rules look at: the customer's country, the case's currency, the credit
    line's rating (None without a line) and the amount overdue in the base currency (None when
    the currency has no exchange rate: a size condition then does not match)."""

    country: str
    currency: str
    rating: str | None
    overdue_base: Decimal | None


def rule_matches(rule: CollectorRule, facts: CaseFacts) -> bool:
    if rule.countries and facts.country not in rule.countries:
        return False
    if rule.currencies and facts.currency not in rule.currencies:
        return False
    if rule.ratings and facts.rating not in rule.ratings:
        return False
    sized = rule.min_overdue is not None or rule.max_overdue is not None
    amount = facts.overdue_base
    if sized and amount is None:
        return False
    if rule.min_overdue is not None and amount is not None and amount < rule.min_overdue:
        return False
    return not (rule.max_overdue is not None and amount is not None and amount >= rule.max_overdue)


def describe_rule(rule: CollectorRule) -> str:
    """``countries DE, AT; overdue from 10000`` (what the rule asks for, in words)."""
    parts = [
        f"{what} {', '.join(values)}"
        for what, values in (
            ("countries", rule.countries),
            ("currencies", rule.currencies),
            ("ratings", rule.ratings),
        )
        if values
    ]
    if rule.min_overdue is not None or rule.max_overdue is not None:
        low = f"from {rule.min_overdue}" if rule.min_overdue is not None else ""
        high = f"below {rule.max_overdue}" if rule.max_overdue is not None else ""
        parts.append(" ".join(p for p in ("overdue", low, high) if p))
    return "; ".join(parts) or "any case"


@dataclass(frozen=True)
class Pick:
    collector: str | None
    why: str  # which rule (1-based) matched, the default, or that nothing did


def pick_collector(team: Team, facts: CaseFacts) -> Pick:
    """The first rule that matches wins; else the default collector; else nobody."""
    for n, rule in enumerate(team.collector_rules, start=1):
        if rule_matches(rule, facts):
            return Pick(rule.collector, f"collector rule {n} ({describe_rule(rule)})")
    if team.default_collector:
        return Pick(team.default_collector, "the default collector (no rule matched)")
    return Pick(None, "no collector rule matched and the policy names no default collector")


def case_priority(amount_base: Decimal | None, days: int, weight: Decimal) -> int | None:
    """Overdue amount in the base currency x days the oldest overdue item is late x the risk
    weight of the customer's rating / 1,000, rounded down (None without an exchange rate): EUR
    10,000 for 30 days scores 300 at weight 1, 600 at weight 2."""
    if amount_base is None:
        return None
    return int(amount_base * days * weight / PRIORITY_DIVISOR)


def dispute_due(opened_on: date, code: DisputeCode) -> date:
    return opened_on + timedelta(days=code.days)


def dispute_reminder_due(due_on: date, as_of: date) -> bool:
    """The owner is reminded once the due date has passed (the day after it, or later)."""
    return as_of > due_on


def dispute_escalation_due(due_on: date, as_of: date, after_days: int | None) -> bool:
    """The credit team hears of a dispute ``after_days`` after its due date (never without it)."""
    return after_days is not None and (as_of - due_on).days >= after_days


def _show(value: object) -> str:
    return "none" if value is None else str(value)


def team_changes(old: Team, new: Team) -> list[str]:
    """What the policy's ``team`` section changes, in words (``credit policy diff``)."""
    out = []
    rules_old = [f"{r.collector} for {describe_rule(r)}" for r in old.collector_rules]
    rules_new = [f"{r.collector} for {describe_rule(r)}" for r in new.collector_rules]
    for n in range(max(len(rules_old), len(rules_new))):
        before = rules_old[n] if n < len(rules_old) else None
        after = rules_new[n] if n < len(rules_new) else None
        if before != after:
            out.append(f"collector rule {n + 1}: {_show(before)} → {_show(after)}")
    for name in ("default_collector", "default_dispute_code", "dispute_escalate_after_days"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            out.append(f"{name.replace('_', ' ')} {_show(before)} → {_show(after)}")
    for grade in sorted(old.risk_weights.keys() | new.risk_weights.keys()):
        w_old, w_new = old.risk_weights.get(grade), new.risk_weights.get(grade)
        if w_old != w_new:
            out.append(f"risk weight of rating {grade} {_show(w_old)} → {_show(w_new)}")
    codes_old = {c.code: f"{c.label}, {c.days} days" for c in old.dispute_codes}
    codes_new = {c.code: f"{c.label}, {c.days} days" for c in new.dispute_codes}
    for code in sorted(codes_old.keys() | codes_new.keys()):
        if codes_old.get(code) != codes_new.get(code):
            out.append(
                f"dispute code {code}: {_show(codes_old.get(code))} → {_show(codes_new.get(code))}"
            )
    return out
