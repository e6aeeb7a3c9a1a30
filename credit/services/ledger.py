"""Ledger views: a customer's stored data for research, open items, exposure and dunning state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit.db.models import (
    CreditLine,
    Customer,
    Dispute,
    DunningAction,
    FinancialStatement,
    FxRate,
    Invoice,
    Payment,
    SalesOrder,
)
from credit.domain import dunning
from credit.domain.cleaning import (
    CleaningReport,
    Entry,
    RateTable,
    RawDocument,
    RawPayment,
    RawStatement,
)
from credit.domain.money import ZERO, money
from credit.services.common import saved_id, table_of


def rate_table(session: Session, base_currency: str) -> RateTable:
    """Every stored exchange rate to the base currency."""
    table: dict[str, list[tuple[date, Decimal]]] = {}
    for r in session.exec(select(FxRate)):
        table.setdefault(r.currency, []).append((r.rate_date, r.rate_to_base))
    return RateTable(base_currency, table)


def research_ledger_many(
    session: Session, customer_ids: list[int], as_of: date, tolerance: Decimal = ZERO
) -> dict[int, tuple[list[RawDocument], list[RawPayment], dict[str, Decimal]]]:
    """What research reads of each customer's ledger, from one read of it (the one place
    payments are allocated to invoices): the trade documents (invoices and credit notes, with the
    day each invoice was settled within ``tolerance`` and what is still open on ``as_of``) and
    payments, and the exposure per currency (everything
    still open, charges included, less payments on account: what :func:`exposure` gives)."""
    ids = sorted(set(customer_ids))
    invoices, payments, numbers = _read_ledger(session, ids, as_of)
    out = {}
    for cid in ids:
        own, paid = invoices.get(cid, []), payments.get(cid, [])
        documents, raw_payments = _allocate(
            [i for i in own if i.kind == "invoice"], paid, numbers, tolerance
        )
        everything, _ = _allocate(own, paid, numbers, ZERO)
        owed: dict[str, Decimal] = defaultdict(Decimal)
        for d in everything:
            if d.open_amount != 0:
                owed[d.currency] += d.open_amount
        for p in paid:
            if p.invoice_id is None and p.status == "received":
                owed[p.currency] -= p.amount
        out[cid] = (documents, raw_payments, dict(owed))
    return out


def _read_ledger(
    session: Session, ids: list[int], as_of: date
) -> tuple[dict[int, list[Any]], dict[int, list[Any]], dict[int, str]]:
    """The batch's documents issued by ``as_of`` (invoices, credit notes, late fees and
    interest) and payments made by then, per customer, and the number of every
    invoice a payment names."""
    invoices: dict[int, list[Any]] = defaultdict(list)
    payments: dict[int, list[Any]] = defaultdict(list)
    numbers: dict[int, str] = {}
    if not ids:
        return invoices, payments, numbers
    inv, pay = table_of(Invoice), table_of(Payment)
    query = sa_select(
        inv.c.customer_id,
        inv.c.id,
        inv.c.number,
        inv.c.issue_date,
        inv.c.due_date,
        inv.c.amount,
        inv.c.currency,
        inv.c.kind,
        inv.c.applies_to_id,
    ).where(inv.c.customer_id.in_(ids), inv.c.issue_date <= as_of)
    for r in session.execute(query.order_by(inv.c.customer_id, inv.c.id)):
        invoices[r.customer_id].append(r)
    for r in session.execute(
        sa_select(
            pay.c.customer_id,
            pay.c.invoice_id,
            pay.c.reference,
            pay.c.paid_on,
            pay.c.amount,
            pay.c.currency,
            pay.c.method,
            pay.c.status,
        )
        .where(pay.c.customer_id.in_(ids), pay.c.paid_on <= as_of)
        .order_by(pay.c.customer_id, pay.c.paid_on, pay.c.id)
    ):
        payments[r.customer_id].append(r)
    numbers.update((i.id, i.number) for rows in invoices.values() for i in rows)
    later = {
        p.invoice_id
        for rows in payments.values()
        for p in rows
        if p.invoice_id and p.invoice_id not in numbers
    }
    # A payment of an invoice issued after as_of (paid ahead), or of a charge research leaves
    # out, is still allocated: never "on account".
    for chunk in _chunks(sorted(later)):
        numbers.update(
            (r.id, r.number)
            for r in session.execute(sa_select(inv.c.id, inv.c.number).where(inv.c.id.in_(chunk)))
        )
    return invoices, payments, numbers


def _chunks(values: list[Any], size: int = 1000) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _allocate(
    invoices: list[Any], payments: list[Any], numbers: dict[int, str], tolerance: Decimal
) -> tuple[list[RawDocument], list[RawPayment]]:
    """Payments made for an invoice and credit notes applied to it, in date order (payments
    first on the same day): what each document still has open and the day each invoice was
    settled (within ``tolerance``)."""
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    paid_on: dict[int, date] = {}
    by_id = {i.id: i for i in invoices}
    settlements = sorted(
        [
            (p.paid_on, 0, p.invoice_id, p.amount)
            for p in payments
            if p.invoice_id in by_id and p.status == "received"
        ]
        + [
            (i.issue_date, 1, i.applies_to_id, -i.amount)
            for i in invoices
            if i.amount < 0 and i.applies_to_id in by_id
        ],
        key=lambda t: (t[0], t[1]),
    )
    for day, _, invoice_id, amount in settlements:
        allocated[invoice_id] += amount
        if (
            invoice_id not in paid_on
            and allocated[invoice_id] >= by_id[invoice_id].amount - tolerance
        ):
            paid_on[invoice_id] = day

    def still_open(i: Any) -> Decimal:
        if i.amount > 0:
            return i.amount - allocated.get(i.id, ZERO)
        return ZERO if i.applies_to_id in by_id else i.amount  # applied, or a credit on account

    documents = [
        RawDocument(
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            amount=i.amount,
            currency=i.currency,
            paid_on=paid_on.get(i.id),
            open_amount=still_open(i),
        )
        for i in invoices
    ]
    raw_payments = [
        RawPayment(
            reference=p.reference,
            paid_on=p.paid_on,
            amount=p.amount,
            currency=p.currency,
            method=p.method,
            status=p.status,
            invoice_number=numbers.get(p.invoice_id) if p.invoice_id else None,
        )
        for p in payments
    ]
    return documents, raw_payments


def load_raw(
    session: Session, customer: Customer, as_of: date, tolerance: Decimal = ZERO
) -> tuple[list[RawStatement], list[RawDocument], list[RawPayment]]:
    """Everything stored about a customer up to a date (see :func:`load_raw_many`)."""
    return load_raw_many(session, [customer], as_of, tolerance)[saved_id(customer)][0]


def load_raw_many(
    session: Session, customers: list[Customer], as_of: date, tolerance: Decimal = ZERO
) -> dict[
    int, tuple[tuple[list[RawStatement], list[RawDocument], list[RawPayment]], dict[str, Decimal]]
]:
    """Everything stored about each customer up to a date, as plain values for cleaning and
    signals, and the exposure per currency, read set-based for a batch:
    ``{customer id: ((statements, documents, payments), exposure)}``.

    An invoice counts as paid on the day what is still open falls within ``tolerance`` (the policy's
    dunning tolerance): a short payment of a few cents does not make it late forever.

    Each invoice carries the date it was fully paid and what was still open on ``as_of``;
    bounced payments are listed but pay nothing.
    """
    ids = sorted(saved_id(c) for c in customers)
    st = table_of(FinancialStatement)
    statements: dict[int, list[RawStatement]] = defaultdict(list)
    for chunk in _chunks(ids):
        for s in session.execute(
            sa_select(st).where(st.c.customer_id.in_(chunk)).order_by(st.c.customer_id, st.c.id)
        ):
            statements[s.customer_id].append(
                RawStatement(
                    period_end=s.period_end,
                    currency=s.currency,  # the statement's own
                    revenue=s.revenue,
                    net_income=s.net_income,
                    total_assets=s.total_assets,
                    total_liabilities=s.total_liabilities,
                    current_assets=s.current_assets,
                    current_liabilities=s.current_liabilities,
                    operating_cash_flow=s.operating_cash_flow,
                )
            )
    ledger = research_ledger_many(session, ids, as_of, tolerance)
    return {
        cid: ((statements.get(cid, []), ledger[cid][0], ledger[cid][1]), ledger[cid][2])
        for cid in ids
    }


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
            pay.c.status == "received",
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
    inv, pay, disp = table_of(Invoice), table_of(Payment), table_of(Dispute)
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
    query = (
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
    for r in session.execute(query):
        if r.amount > 0:
            still_open = r.amount - (r.paid or ZERO) + (r.applied or ZERO)
        else:  # a credit note: used up where it is applied, otherwise a credit on account
            still_open = ZERO if r.target_id is not None else r.amount
        if still_open == 0:
            continue
        kind = (
            r.kind
            if r.kind != "invoice"
            else (dunning.INVOICE if r.amount > 0 else dunning.CREDIT_NOTE)
        )
        out.setdefault(r.customer_id, {}).setdefault(r.currency, []).append(
            dunning.OpenItem(
                r.number, r.due_date, still_open, kind, disputed=r.disputed_id is not None
            )
        )
    on_account = sa_select(
        pay.c.customer_id, pay.c.reference, pay.c.paid_on, pay.c.amount, pay.c.currency
    ).where(
        pay.c.customer_id.in_(ids),
        pay.c.invoice_id.is_(None),
        pay.c.status == "received",
        pay.c.paid_on <= as_of,
    )
    for r in session.execute(on_account):
        out.setdefault(r.customer_id, {}).setdefault(r.currency, []).append(
            dunning.OpenItem(r.reference, r.paid_on, -r.amount, dunning.PAYMENT)
        )
    return out


def open_items(
    session: Session, customer_id: int, as_of: date
) -> dict[str, list[dunning.OpenItem]]:
    """One customer's open balances per currency (see :func:`open_items_many`)."""
    return open_items_many(session, [customer_id], as_of).get(customer_id, {})


def exposure(session: Session, customer_id: int, as_of: date) -> dict[str, Decimal]:
    return exposure_of(open_items(session, customer_id, as_of))


def last_dunning_state(
    session: Session, customer_id: int, currency: str, as_of: date | None = None
) -> tuple[int, int, date | None]:
    """(episode, current level, date of the last action) for a customer's currency, optionally as
    of a date; level 0 means not in dunning."""
    query = select(DunningAction).where(
        DunningAction.customer_id == customer_id, DunningAction.currency == currency
    )
    if as_of is not None:
        query = query.where(DunningAction.as_of <= as_of)
    last = session.exec(query.order_by(col(DunningAction.id).desc())).first()
    if last is None:
        return 1, 0, None
    if last.level == 0:
        return last.episode + 1, 0, last.as_of
    return last.episode, last.level, last.as_of


def base_view(
    s: Session,
    customer: Customer,
    line: CreditLine | None,
    rates: RateTable,
    as_of: date,
    report: CleaningReport | None = None,
) -> dict[str, Any]:
    """Exposure and limit in the base currency at the research date's rates, and the rate of the
    customer's currency, so that limits, utilisation and authority compare like with like."""
    return base_view_of(
        exposure(s, saved_id(customer), as_of),
        customer,
        line,
        rates,
        as_of,
        report,
    )


def exposure_of(items: dict[str, list[dunning.OpenItem]]) -> dict[str, Decimal]:
    """Open balance per currency of :func:`open_items_many`'s items for one customer."""
    return {cur: sum((i.open_amount for i in its), ZERO) for cur, its in items.items()}


def base_view_of(
    exposure_by_currency: dict[str, Decimal],
    customer: Customer,
    line: CreditLine | None,
    rates: RateTable,
    as_of: date,
    report: CleaningReport | None = None,
) -> dict[str, Any]:
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


def collect_clean(
    session: Session,
    customer: Customer,
    as_of: date,
    policy: Any,
    rates: RateTable | None = None,
) -> tuple[Any, CleaningReport, list[RawDocument], list[RawPayment]]:
    """The customer's data as the scorecard and the signals see it: cleaned base-currency facts,
    the cleaning report, and the raw documents and payments (``rates``: the caller's rate table,
    read once for several uses)."""
    from credit.domain.cleaning import clean

    raw_statements, raw_documents, raw_payments = load_raw(
        session, customer, as_of, policy.dunning.tolerance
    )
    facts, report = clean(
        registered_on=customer.registered_on,
        statements=raw_statements,
        documents=raw_documents,
        payments=raw_payments,
        rates=rates or rate_table(session, policy.base_currency),
        as_of=as_of,
        max_statement_age_months=policy.max_statement_age_months,
    )
    return facts, report, raw_documents, raw_payments


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
) -> dict[str, Any]:
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
    orders, listed = ZERO, []
    for o in s.exec(
        select(SalesOrder)
        .where(SalesOrder.customer_id == customer.id, SalesOrder.status == "open")
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
