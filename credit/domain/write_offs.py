"""Write-offs: the levels that approve one by amount, and what the analytics count as bad debt.

Routing is the authority matrix's rule on the policy's ``plans.write_off_levels`` (or on the
matrix's own levels when the policy names none): every level up to the first whose ``up_to``
covers the amount in the base currency; an amount without a rate to the base currency needs
every level (the matrix never under-approves)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from credit.domain.money import ZERO
from credit.domain.policy import PolicyBody


@dataclass(frozen=True)
class RouteLevel:
    level: int
    role: str
    cap: Decimal | None
    reason: str


def route(policy: PolicyBody, *, amount: Decimal | None, currency: str) -> list[RouteLevel]:
    """The levels a write-off of ``amount`` (in the base currency; None: no rate from
    ``currency``) needs."""
    levels = [
        (lv.level, lv.role, lv.up_to)
        for lv in (policy.plans.write_off_levels or policy.authority.levels)
    ]
    if amount is None:
        why = f"amount in {currency} without a rate to {policy.base_currency}: every level"
        return [RouteLevel(n, role, up_to, why) for n, role, up_to in levels]
    chain = []
    for n, role, up_to in levels:
        chain.append(RouteLevel(n, role, up_to, f"a write-off of {amount:,.2f} needs level {n}"))
        if up_to is not None and amount <= up_to:
            break
    return chain


@dataclass(frozen=True)
class WrittenOff:
    """An approved write-off in the base currency: the day it was booked, the customer and its
    rating then."""

    booked_on: date
    customer: str
    rating: str
    amount: Decimal


@dataclass(frozen=True)
class BadDebt:
    written_off: Decimal
    write_offs: int
    by_month: dict[str, Decimal]  # YYYY-MM
    by_rating: dict[str, Decimal]


def bad_debt(written_off: Sequence[WrittenOff], *, start: date, end: date) -> BadDebt:
    """Bad debt written off after ``start`` up to ``end`` included: the total, the count, per
    month and per rating."""
    window = [w for w in written_off if start < w.booked_on <= end]
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    by_rating: dict[str, Decimal] = defaultdict(Decimal)
    for w in window:
        by_month[w.booked_on.strftime("%Y-%m")] += w.amount
        by_rating[w.rating] += w.amount
    return BadDebt(
        written_off=sum((w.amount for w in window), ZERO),
        write_offs=len(window),
        by_month=dict(sorted(by_month.items())),
        by_rating=dict(sorted(by_rating.items())),
    )
