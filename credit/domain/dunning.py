"""Receivables aging and the dunning schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from credit.domain.money import ZERO
from credit.domain.policy import DunningLevel, PolicyBody

AGING_BUCKETS = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


@dataclass(frozen=True)
class OpenItem:
    """An invoice's open balance (after allocated payments) or an unallocated credit (negative)."""

    number: str
    due_date: date
    open_amount: Decimal

    def days_overdue(self, as_of: date) -> int:
        return max(0, (as_of - self.due_date).days)


@dataclass(frozen=True)
class DunningPosition:
    overdue_items: list[OpenItem]
    overdue_total: Decimal  # overdue invoices less unallocated credits, never below zero
    oldest_days_overdue: int


def dunning_position(items: list[OpenItem], as_of: date) -> DunningPosition:
    """What a customer owes past due as of a date, net of credits not yet allocated."""
    overdue = sorted(
        (i for i in items if i.open_amount > 0 and i.due_date < as_of), key=lambda i: i.due_date
    )
    credits = sum((i.open_amount for i in items if i.open_amount < 0), ZERO)
    total = max(ZERO, sum((i.open_amount for i in overdue), ZERO) + credits)
    oldest = overdue[0].days_overdue(as_of) if overdue else 0
    return DunningPosition(overdue, total, oldest)


def due_level(oldest_days_overdue: int, policy: PolicyBody) -> int:
    """The highest level whose trigger the oldest overdue invoice has reached (0: none)."""
    level = 0
    for lv in policy.dunning.levels:
        if oldest_days_overdue >= lv.days_overdue:
            level = lv.level
    return level


def next_dunning_level(
    *, current_level: int, position: DunningPosition, policy: PolicyBody
) -> DunningLevel | None:
    """The level to send now, or None.

    A customer moves at most one level per run and never skips one, even after days without
    runs; nothing is sent while the overdue total is within the policy's tolerance.
    """
    if position.overdue_total <= policy.dunning.tolerance:
        return None
    target = due_level(position.oldest_days_overdue, policy)
    if target <= current_level or current_level >= len(policy.dunning.levels):
        return None  # nothing due yet, or already at the last level (even of a shorter schedule)
    return policy.dunning_level(current_level + 1)


def aging(items: list[OpenItem], as_of: date) -> dict[str, Decimal]:
    """Open receivables by days overdue bucket (credits count in 'current')."""
    result = {name: ZERO for name, _, _ in AGING_BUCKETS}
    for item in items:
        days = item.days_overdue(as_of) if item.open_amount > 0 else 0
        for name, low, high in AGING_BUCKETS:
            if (low is None or days >= low) and (high is None or days <= high):
                result[name] += item.open_amount
                break
    return result
