"""The order check: may a new order ship on credit?"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, select

from credit.app import App
from credit.db.models import (
    CreditLine,
    Customer,
    DunningAction,
    LineStatus,
)
from credit.domain import dunning
from credit.domain.money import ZERO, fmt_money, money
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import (
    OrderDecision,
)
from credit.domain.words import counted, said
from credit.services.common import ServiceError, get_customer, saved_id
from credit.services.ledger import converter, credit_exposure, dunning_state, open_items
from credit.services.limits.groups import GroupOrderCheck, order_group_check
from credit.services.receivables.order_release import order_controls


class OrderCheck(TypedDict):
    customer: str
    decision: str  # an OrderDecision
    reasons: list[str]
    currency: str
    order_amount: str
    receivables: str
    open_orders: str
    exposure: str
    limit: str | None
    headroom: str | None
    line_status: str | None
    oldest_overdue_days: int
    in_dunning: list[str]
    order: str | None  # the order's reference (--order), when given
    allowed_by: str | None  # an exemption or a release: ALLOW although ``reasons`` would hold
    notes: list[str]  # an exemption or a release that no longer applies, and why
    group: GroupOrderCheck | None  # the customer's group: its exposure + this order vs its limit


def check_order(  # noqa: PLR0913  # the order's parts, each named by the callers
    app: App,
    *,
    customer_code: str,
    amount: Decimal,
    as_of: date,
    currency: str | None = None,
    order_ref: str | None = None,
) -> OrderCheck:
    """Whether a new order may ship on credit: ``allow`` or ``hold`` with every reason.

    Exposure = open receivables (undisputed and disputed alike, net of credits) + open orders +
    this order, in the credit line's currency at the latest rates; a line on hold, no line, or an
    invoice overdue beyond the policy's ``orders.max_days_overdue`` also hold the order. An
    exemption in force, or an approved release of the order ``order_ref`` (used up here), allows
    it all the same (:mod:`credit.services.receivables.order_release`).
    """
    if amount <= 0:
        raise ServiceError(f"the order amount {amount} must be positive")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        version, policy = app.published_policy(s)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        cur = (currency or (line.currency if line else customer.currency)).upper()
        target = line.currency if line else cur
        items = open_items(s, saved_id(customer), as_of)
        reasons, receivables, orders = _receivables_and_orders(
            s, policy, customer=customer, line=line, target=target, as_of=as_of, items=items
        )
        oldest, oldest_invoice = _oldest_overdue(items, as_of, policy.dunning.tolerance)
        this = converter(s, policy.base_currency, target, as_of)(amount, cur)
        if this is None:
            reasons.append(f"no exchange rate {cur}->{target}: cannot value this order")
            this = ZERO
        exposure = money(receivables + orders + this)
        limit = line.limit if line else None
        reasons += _line_reasons(line)
        reasons += _over_limit(target, limit, receivables=receivables, orders=orders, this=this)
        group = order_group_check(
            s, policy.base_currency, customer=customer, amount=amount, currency=cur, as_of=as_of
        )
        reasons += group["reasons"] if group else []
        if oldest > policy.orders.max_days_overdue:
            reasons.append(
                f"invoice {oldest_invoice} is {counted(oldest, 'day')} overdue "
                f"(policy allows {policy.orders.max_days_overdue})"
            )
        controls = order_controls(
            s, customer_id=saved_id(customer), order_ref=order_ref, amount=amount, currency=cur,
            as_of=as_of, held=bool(reasons), policy_version=version,
        )  # fmt: skip
        check: OrderCheck = {
            "customer": customer.code,
            "decision": OrderDecision.ALLOW
            if controls.allowed_by or not reasons
            else OrderDecision.HOLD,
            "reasons": reasons,
            "currency": target,
            "order_amount": str(money(this)),
            "receivables": str(money(receivables)),
            "open_orders": str(money(orders)),
            "exposure": str(exposure),
            "limit": str(money(limit)) if limit is not None else None,
            "headroom": str(money(limit - exposure)) if limit is not None else None,
            "line_status": line.status if line else None,
            "oldest_overdue_days": oldest,
            "in_dunning": _currencies_in_dunning(s, customer),
            "order": order_ref, "allowed_by": controls.allowed_by, "notes": controls.notes,
            "group": group,
        }  # fmt: skip
        if controls.used:
            uow.commit()  # a release used up
        return check


def _over_limit(
    target: str, limit: Decimal | None, *, receivables: Decimal, orders: Decimal, this: Decimal
) -> list[str]:
    """Why the exposure with this order is over the customer's own limit (or nothing)."""
    exposure = money(receivables + orders + this)
    if limit is None or exposure <= limit:
        return []

    def m(value: Decimal) -> str:
        return fmt_money(value, target)

    return [
        f"exposure {m(exposure)} (receivables {m(receivables)} + open orders {m(orders)} "
        f"+ this order {m(this)}) exceeds the limit {m(limit)} by {m(exposure - limit)}"
    ]


def _receivables_and_orders(
    s: Session,
    policy: PolicyBody,
    *,
    customer: Customer,
    line: CreditLine | None,
    target: str,
    as_of: date,
    items: dict[str, list[dunning.OpenItem]],
) -> tuple[list[str], Decimal, Decimal]:
    """Open receivables and open orders in ``target``, and why any of them cannot be valued."""
    known = credit_exposure(
        s, base_currency=policy.base_currency, customer=customer, line=line, as_of=as_of,
        items=items,
    )  # fmt: skip
    reasons = [f"cannot value {what}" for what in known["unvalued"]]
    receivables, orders = known["receivables"], known["open_orders"]
    if known["currency"] != target:  # no line: in the order's own currency
        convert = converter(s, policy.base_currency, target, as_of)
        valued = convert(receivables, known["currency"]), convert(orders, known["currency"])
        if valued[0] is None or valued[1] is None:
            reasons.append(f"no exchange rate {known['currency']}->{target}: cannot value")
        receivables, orders = valued[0] or ZERO, valued[1] or ZERO
    return reasons, receivables, orders


def _oldest_overdue(
    items: dict[str, list[dunning.OpenItem]], as_of: date, tolerance: Decimal
) -> tuple[int, str]:
    """Days overdue and number of the oldest overdue invoice, in a currency whose overdue total
    is beyond the tolerance (0 and "" when there is none)."""
    oldest, oldest_invoice = 0, ""
    for items_of_currency in items.values():
        position = dunning.dunning_position(items_of_currency, as_of)
        if position.overdue_total > tolerance and position.oldest_days_overdue > oldest:
            oldest, oldest_invoice = (
                position.oldest_days_overdue,
                position.overdue_items[0].number,
            )
    return oldest, oldest_invoice


def _line_reasons(line: CreditLine | None) -> list[str]:
    if line is None:
        return ["no credit line: prepayment or cash in advance only"]
    if line.status != LineStatus.ACTIVE:
        return [f"credit line is {said(line.status)} ({line.hold_reason or 'no reason'})"]
    return []


def _currencies_in_dunning(s: Session, customer: Customer) -> list[str]:
    currencies = {
        a.currency
        for a in s.exec(select(DunningAction).where(DunningAction.customer_id == customer.id))
    }
    return sorted(c for c in currencies if dunning_state(s, saved_id(customer), c).in_dunning)
