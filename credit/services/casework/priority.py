"""A case's priority: the amount overdue in the base currency x the days the oldest overdue item
is late x the risk weight of the customer's rating (the policy's ``team.risk_weights``, 1 for a
grade not listed or a customer without a credit line) / 1,000."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from credit.db.models import CreditLine
from credit.domain.policy import PolicyBody
from credit.domain.team import case_priority
from credit.services.ledger import converter

PRIORITY_RULE = (
    "Priority = the amount overdue in {base} (other currencies at the latest exchange rate) x "
    "the days the oldest overdue invoice is late x the risk weight of the customer's rating "
    "(policy team.risk_weights; 1 when not listed) / 1,000: {base} 10,000 overdue for 30 days "
    "scores 300 at weight 1, as does {base} 5,000 for 60 days. Highest first; a case whose "
    "currency has no exchange rate comes after the others."
)


@dataclass(frozen=True)
class Valuation:
    """What ranks cases on one day: amounts in the base currency and each customer's weight."""

    to_base: Callable[[Decimal, str], Decimal | None]
    ratings: dict[int, str]  # customer id -> the credit line's rating
    weights: dict[str, Decimal]

    def weight(self, customer_id: int) -> Decimal:
        return self.weights.get(self.ratings.get(customer_id, ""), Decimal(1))

    def priority(self, customer_id: int, amount_base: Decimal | None, days: int) -> int | None:
        return case_priority(amount_base, days, self.weight(customer_id))


def valuation(s: Session, policy: PolicyBody, as_of: date) -> Valuation:
    ratings: dict[int, str] = {}
    if policy.team.risk_weights:  # one query, only when some rating weighs other than 1
        ratings = {
            cid: grade for cid, grade in s.exec(select(CreditLine.customer_id, CreditLine.rating))
        }
    return Valuation(
        to_base=converter(s, policy.base_currency, policy.base_currency, as_of),
        ratings=ratings,
        weights=dict(policy.team.risk_weights),
    )
