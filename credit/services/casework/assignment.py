"""Who a new collection case goes to: the collector already working the customer's open cases,
else the policy's collector rules (first match wins, then the default), checked against the
directory (a collector or credit manager)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import CollectionCase, CreditLine, Customer
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import CaseStatus
from credit.domain.team import CaseFacts, Pick, pick_collector
from credit.services.casework.shared import WORKS_CASES, roles_under
from credit.services.ledger import converter


def case_collector(  # noqa: PLR0913  # the facts of a case as a dunning step has them, each named
    app: App,
    s: Session,
    policy: PolicyBody,
    *,
    customer: Customer,
    currency: str,
    overdue: Decimal,
    line: CreditLine | None,
    as_of: date,
) -> Pick:
    """The collector a case of ``customer`` in ``currency`` opens with, and why."""
    working = s.exec(
        select(CollectionCase.collector)
        .where(
            CollectionCase.customer_id == customer.id,
            CollectionCase.status == CaseStatus.OPEN,
            col(CollectionCase.collector).is_not(None),
        )
        .order_by(col(CollectionCase.id).desc())
    ).first()
    if working:
        return Pick(working, f"{working} works the customer's open case")
    to_base = converter(s, policy.base_currency, policy.base_currency, as_of)
    facts = CaseFacts(
        country=customer.country,
        currency=currency,
        rating=line.rating if line is not None else None,
        overdue_base=to_base(overdue, currency),
    )
    pick = pick_collector(policy.team, facts)
    if pick.collector is not None and not roles_under(app, policy, pick.collector) & WORKS_CASES:
        return Pick(
            None,
            f"{pick.why} names {pick.collector}, who does not work collection cases "
            "(not a collector or credit manager in the directory): left unassigned",
        )
    return pick
