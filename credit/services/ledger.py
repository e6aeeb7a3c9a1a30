"""Ledger views: open items, exposure and dunning state (the stored data research reads as plain
values is in :mod:`credit.services.ledger_raw`, its names re-exported here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit.db.models import (
    CreditLine,
    Customer,
    Dispute,
    DunningAction,
    Invoice,
    Payment,
    SalesOrder,
)
from credit.domain import dunning
from credit.domain.cleaning import (
    CleaningReport,
    Entry,
    RateTable,
)
from credit.domain.money import ZERO, money
from credit.domain.receivables_status import OrderStatus, PaymentStatus
from credit.services.common import saved_id, table_of
from credit.services.ledger_raw import collect_clean as collect_clean
from credit.services.ledger_raw import load_raw as load_raw
from credit.services.ledger_raw import load_raw_many as load_raw_many
from credit.services.ledger_raw import rate_table as rate_table
from credit.services.ledger_raw import research_ledger_many as research_ledger_many


class BaseView(TypedDict):
    """Exposure and limit in the base currency, and the rate of the customer's currency."""

    exposure: Decimal
    limit: Decimal | None
    customer_currency: str
    customer_rate: Decimal | None
    customer_rate_date: str | None


class OpenOrder(TypedDict):
    number: str
    order_date: date
    amount: Decimal
    currency: str


class CreditExposure(TypedDict):
    """Open receivables and open orders in one currency, against the credit line."""

    currency: str
    receivables: Decimal
    open_orders: Decimal
    exposure: Decimal
    limit: Decimal | None
    headroom: Decimal | None
    orders: list[OpenOrder]
    unvalued: list[str]  # what could not be valued for want of a rate


def open_disputes(session: Session, customer_id: int, as_of: date) -> dict[str, Dispute]:
    """Invoice number -> the dispute open on ``as_of``."""
    rows = session.exec(
        select(Invoice.number, Dispute)
        .join(Dispute, col(Dispute.invoice_id) == col(Invoice.id))
        .where(
            Dispute.customer_id == customer_id,
            Dispute.opened_on <= as_of,
            or_(col(Dispute.resolved_on).is_(None), col(Dispute.resolved_on) > as_of),
        )
    ).all()
    return {number: d for number, d in rows}


def _allocations(as_of: date, customer_ids: list[int] | None = None) -> tuple[Any, Any]:
    """Subqueries: what payments (``paid``) and applied credit notes (``applied``, negative) took
    off each invoice by ``as_of``, per (invoice, customer): only a customer's own payments and
    notes settle its invoices."""
    pay, note = table_of(Payment), table_of(Invoice).alias("note")
    paid = (
        sa_select(pay.c.invoice_id, pay.c.customer_id, func.sum(pay.c.amount).label("paid"))
        .where(
            pay.c.invoice_id.is_not(None),
            pay.c.status == PaymentStatus.RECEIVED,
            pay.c.paid_on <= as_of,
        )
        .group_by(pay.c.invoice_id, pay.c.customer_id)
    )
    applied = (
        sa_select(
            note.c.applies_to_id, note.c.customer_id, func.sum(note.c.amount).label("applied")
        )
        .where(note.c.amount < 0, note.c.applies_to_id.is_not(None), note.c.issue_date <= as_of)
        .group_by(note.c.applies_to_id, note.c.customer_id)
    )
    if customer_ids is not None:
        paid = paid.where(pay.c.customer_id.in_(customer_ids))
        applied = applied.where(note.c.customer_id.in_(customer_ids))
    return paid.subquery("paid"), applied.subquery("applied")


def overdue_customers(
    session: Session, as_of: date, customer_ids: list[int] | None = None
) -> set[int]:
    """Customers with an invoice or charge past due and not fully settled on ``as_of`` (one
    query over the whole ledger, or over ``customer_ids``)."""
    inv = table_of(Invoice)
    paid, applied = _allocations(as_of, customer_ids)
    still_open = inv.c.amount - func.coalesce(paid.c.paid, 0) + func.coalesce(applied.c.applied, 0)
    query = (
        sa_select(inv.c.customer_id)
        .select_from(
            inv.outerjoin(
                paid, and_(paid.c.invoice_id == inv.c.id, paid.c.customer_id == inv.c.customer_id)
            ).outerjoin(
                applied,
                and_(
                    applied.c.applies_to_id == inv.c.id,
                    applied.c.customer_id == inv.c.customer_id,
                ),
            )
        )
        .where(
            inv.c.amount > 0,
            inv.c.due_date < as_of,
            inv.c.issue_date <= as_of,
            still_open > 0,
        )
        .distinct()
    )
    if customer_ids is not None:
        query = query.where(inv.c.customer_id.in_(customer_ids))
    return set(session.execute(query).scalars())


def open_items_many(
    session: Session, customer_ids: list[int], as_of: date
) -> dict[int, dict[str, list[dunning.OpenItem]]]:
    """Open balances per customer and currency, set-based (a handful of queries for a whole batch):
    invoices and charges after the payments made for them and the credit notes applied to them
    (marked when disputed), credit notes not applied and payments on account as negative items.

    An invoice counts from its issue date; a payment or a credit note from its own date; a credit
    note applied to an invoice not yet issued on ``as_of`` is a credit on account until then."""
    ids = sorted(set(customer_ids))
    out: dict[int, dict[str, list[dunning.OpenItem]]] = {}
    if not ids:
        return out
    for r in session.execute(_documents_still_open(ids, as_of)):
        item = _open_document(r)
        if item is not None:
            out.setdefault(r.customer_id, {}).setdefault(r.currency, []).append(item)
    pay = table_of(Payment)
    on_account = sa_select(
        pay.c.customer_id, pay.c.reference, pay.c.paid_on, pay.c.amount, pay.c.currency
    ).where(
        pay.c.customer_id.in_(ids),
        pay.c.invoice_id.is_(None),
        pay.c.status == PaymentStatus.RECEIVED,
        pay.c.paid_on <= as_of,
    )
    for r in session.execute(on_account):
        out.setdefault(r.customer_id, {}).setdefault(r.currency, []).append(
            dunning.OpenItem(r.reference, r.paid_on, -r.amount, dunning.PAYMENT)
        )
    return out


def _documents_still_open(ids: list[int], as_of: date) -> Any:
    """The query behind :func:`open_items_many`: each document issued by ``as_of`` with what was
    paid on it, the credit notes applied to it, the invoice it applies to (issued by then) and
    whether a dispute is open on it."""
    inv, disp = table_of(Invoice), table_of(Dispute)
    target = inv.alias("target")
    paid, applied = _allocations(as_of, ids)
    disputed = (
        sa_select(disp.c.invoice_id)
        .where(
            disp.c.customer_id.in_(ids),
            disp.c.opened_on <= as_of,
            or_(disp.c.resolved_on.is_(None), disp.c.resolved_on > as_of),
        )
        .distinct()
        .subquery("disputed")
    )
    return (
        sa_select(
            inv.c.customer_id,
            inv.c.number,
            inv.c.due_date,
            inv.c.amount,
            inv.c.currency,
            inv.c.kind,
            paid.c.paid,
            applied.c.applied,
            target.c.id.label("target_id"),
            disputed.c.invoice_id.label("disputed_id"),
        )
        .select_from(
            inv.outerjoin(
                paid, and_(paid.c.invoice_id == inv.c.id, paid.c.customer_id == inv.c.customer_id)
            )
            .outerjoin(
                applied,
                and_(
                    applied.c.applies_to_id == inv.c.id,
                    applied.c.customer_id == inv.c.customer_id,
                ),
            )
            .outerjoin(
                target,
                and_(
                    target.c.id == inv.c.applies_to_id,
                    target.c.customer_id == inv.c.customer_id,
                    target.c.issue_date <= as_of,
                ),
            )
            .outerjoin(disputed, disputed.c.invoice_id == inv.c.id)
        )
        .where(inv.c.customer_id.in_(ids), inv.c.issue_date <= as_of)
    )


def _open_document(r: Any) -> dunning.OpenItem | None:
    """A row of :func:`_documents_still_open` as an open item, or None when nothing is open."""
    if r.amount > 0:
        still_open = r.amount - (r.paid or ZERO) + (r.applied or ZERO)
    else:  # a credit note: used up where it is applied, otherwise a credit on account
        still_open = ZERO if r.target_id is not None else r.amount
    if still_open == 0:
        return None
    kind = (
        r.kind
        if r.kind != dunning.INVOICE
        else (dunning.INVOICE if r.amount > 0 else dunning.CREDIT_NOTE)
    )
    return dunning.OpenItem(
        r.number, r.due_date, still_open, kind, disputed=r.disputed_id is not None
    )


def open_items(
    session: Session, customer_id: int, as_of: date
) -> dict[str, list[dunning.OpenItem]]:
    """One customer's open balances per currency (see :func:`open_items_many`); inside
    :func:`read_ahead` for this customer and date, as read there."""
    ahead = session.info.get(_READ_AHEAD)
    if ahead is not None and ahead[0] == as_of and customer_id in ahead[1]:
        return {currency: list(items) for currency, items in ahead[1][customer_id].items()}
    return open_items_many(session, [customer_id], as_of).get(customer_id, {})


# The session.info key of what read_ahead read: (as of, {customer id: open items}).
_READ_AHEAD = "credit.ledger.read_ahead"


@contextmanager
def read_ahead(session: Session, customer_ids: list[int], as_of: date) -> Iterator[None]:
    """Read the open items of a batch's customers as of ``as_of`` in one go, for a block that
    does not change their ledger (a periodic review drafting and routing a batch of requests:
    each approval notice shows the customer's exposure). :func:`open_items` and :func:`exposure`
    of one of them on that date answer from it."""
    found = open_items_many(session, customer_ids, as_of)
    session.info[_READ_AHEAD] = (as_of, {cid: found.get(cid, {}) for cid in customer_ids})
    try:
        yield
    finally:
        session.info.pop(_READ_AHEAD, None)


def exposure(session: Session, customer_id: int, as_of: date) -> dict[str, Decimal]:
    return exposure_of(open_items(session, customer_id, as_of))


def dunning_state(
    session: Session, customer_id: int, currency: str, as_of: date | None = None
) -> dunning.DunningState:
    """Where a customer's currency stands in dunning (episode, level, day of the last step),
    optionally as of a date."""
    query = select(DunningAction).where(
        DunningAction.customer_id == customer_id, DunningAction.currency == currency
    )
    if as_of is not None:
        query = query.where(DunningAction.as_of <= as_of)
    last = session.exec(query.order_by(col(DunningAction.id).desc())).first()
    if last is None:
        return dunning.DunningState()
    return dunning.DunningState.after_step(episode=last.episode, level=last.level, on=last.as_of)


def base_view(
    s: Session,
    customer: Customer,
    *,
    line: CreditLine | None,
    rates: RateTable,
    as_of: date,
    report: CleaningReport | None = None,
) -> BaseView:
    """Exposure and limit in the base currency at the research date's rates, and the rate of the
    customer's currency, so that limits, utilisation and authority compare like with like."""
    return base_view_of(
        exposure(s, saved_id(customer), as_of),
        customer,
        line=line,
        rates=rates,
        as_of=as_of,
        report=report,
    )


def exposure_of(items: dict[str, list[dunning.OpenItem]]) -> dict[str, Decimal]:
    """Open balance per currency of :func:`open_items_many`'s items for one customer."""
    return {cur: sum((i.open_amount for i in its), ZERO) for cur, its in items.items()}


def base_view_of(
    exposure_by_currency: dict[str, Decimal],
    customer: Customer,
    *,
    line: CreditLine | None,
    rates: RateTable,
    as_of: date,
    report: CleaningReport | None = None,
) -> BaseView:
    """:func:`base_view` from an exposure already read."""
    exposure_base = ZERO
    for currency, amount in exposure_by_currency.items():
        found = rates.lookup(currency, as_of)
        if found is None:
            if report is not None:
                report.rejected.append(
                    Entry(
                        f"exposure in {currency}",
                        "currency",
                        currency,
                        f"no {currency} rate to {rates.base}; left out of the exposure",
                    )
                )
            continue
        exposure_base += amount * found[0]
    customer_rate = rates.lookup(customer.currency, as_of)
    limit_base = None
    if line is not None:
        line_rate = rates.lookup(line.currency, as_of)
        limit_base = line.limit * line_rate[0] if line_rate else None
    return {
        "exposure": exposure_base.quantize(Decimal("0.01")),
        "limit": limit_base.quantize(Decimal("0.01")) if limit_base is not None else None,
        "customer_currency": customer.currency,
        "customer_rate": customer_rate[0] if customer_rate else None,
        "customer_rate_date": customer_rate[1].isoformat() if customer_rate else None,
    }


def converter(
    s: Session, base_currency: str, target: str, as_of: date
) -> Callable[[Decimal, str], Decimal | None]:
    """Amounts of any currency in ``target`` at the latest rates on ``as_of`` (through the base
    currency); None for a currency without a rate."""
    rates = rate_table(s, base_currency)

    def convert(value: Decimal, from_cur: str) -> Decimal | None:
        if from_cur == target:
            return value
        a, b = rates.lookup(from_cur, as_of), rates.lookup(target, as_of)
        return None if a is None or b is None else value * a[0] / b[0]

    return convert


def credit_exposure(
    s: Session,
    *,
    base_currency: str,
    customer: Customer,
    line: CreditLine | None,
    as_of: date,
    items: dict[str, list[dunning.OpenItem]],
) -> CreditExposure:
    """The exposure a new order is checked against (``credit orders check``) and ``credit
    customers show`` shows: open receivables + open orders, in the line's currency (the
    customer's without a line) at the latest rates on ``as_of``; what cannot be valued for want
    of a rate is named, not counted."""
    target = line.currency if line else customer.currency
    convert = converter(s, base_currency, target, as_of)
    unvalued: list[str] = []
    receivables = ZERO
    for cur, its in items.items():
        converted = convert(sum((i.open_amount for i in its), ZERO), cur)
        if converted is None:
            unvalued.append(f"open items in {cur}: no exchange rate {cur}->{target} on {as_of}")
        else:
            receivables += converted
    orders, listed = ZERO, list[OpenOrder]()
    for o in s.exec(
        select(SalesOrder)
        .where(SalesOrder.customer_id == customer.id, SalesOrder.status == OrderStatus.OPEN)
        .order_by(col(SalesOrder.order_date), col(SalesOrder.number))
    ):
        listed.append(
            {"number": o.number, "order_date": o.order_date, "amount": o.amount,
             "currency": o.currency}
        )  # fmt: skip
        converted = convert(o.amount, o.currency)
        if converted is None:
            unvalued.append(f"order {o.number}: no exchange rate {o.currency}->{target}")
        else:
            orders += converted
    total = money(receivables + orders)
    limit = line.limit if line else None
    return {
        "currency": target,
        "receivables": money(receivables),
        "open_orders": money(orders),
        "exposure": total,
        "limit": money(limit) if limit is not None else None,
        "headroom": money(limit - total) if limit is not None else None,
        "orders": listed,
        "unvalued": unvalued,
    }
