"""What research, scoring and signals read of the ledger: the stored statements, documents and
payments of each customer as plain values (payments allocated to invoices here, and only here),
and the exchange rates."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from credit.db.models import Customer, FinancialStatement, FxRate, Invoice, Payment
from credit.db.tables import among
from credit.domain import dunning
from credit.domain.cleaning import (
    CleaningReport,
    RateTable,
    RawDocument,
    RawPayment,
    RawStatement,
)
from credit.domain.money import ZERO
from credit.domain.receivables_status import PaymentStatus
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
            [i for i in own if i.kind == dunning.INVOICE], paid, numbers, tolerance
        )
        owed: dict[str, Decimal] = defaultdict(Decimal)
        allocated, _, by_id = _settle(own, paid, ZERO)  # everything: no documents built
        for i in own:
            open_amount = _still_open(i, allocated, by_id)
            if open_amount != 0:
                owed[i.currency] += open_amount
        for p in paid:
            if p.invoice_id is None and p.status == PaymentStatus.RECEIVED:
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
    ).where(among(session, inv.c.customer_id, ids), inv.c.issue_date <= as_of)
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
        .where(
            among(session, pay.c.customer_id, ids),
            pay.c.paid_on <= as_of,
            pay.c.status != PaymentStatus.REVERSED,  # a match undone: no payment at all
        )
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
            for r in session.execute(
                sa_select(inv.c.id, inv.c.number).where(among(session, inv.c.id, chunk))
            )
        )
    return invoices, payments, numbers


def _chunks(values: list[Any], size: int = 1000) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _settle(
    invoices: list[Any], payments: list[Any], tolerance: Decimal
) -> tuple[dict[int, Decimal], dict[int, date], dict[int, Any]]:
    """Payments made for an invoice and credit notes applied to it, in date order (payments
    first on the same day): (what is allocated to each document, the day each invoice was
    settled within ``tolerance``, the documents by id)."""
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    paid_on: dict[int, date] = {}
    by_id = {i.id: i for i in invoices}
    settlements = sorted(
        [
            (p.paid_on, 0, p.invoice_id, p.amount)
            for p in payments
            if p.invoice_id in by_id and p.status == PaymentStatus.RECEIVED
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
    return allocated, paid_on, by_id


def _still_open(i: Any, allocated: dict[int, Decimal], by_id: dict[int, Any]) -> Decimal:
    if i.amount > 0:
        return i.amount - allocated.get(i.id, ZERO)
    return ZERO if i.applies_to_id in by_id else i.amount  # applied, or a credit on account


def _allocate(
    invoices: list[Any], payments: list[Any], numbers: dict[int, str], tolerance: Decimal
) -> tuple[list[RawDocument], list[RawPayment]]:
    """The documents with what each still has open and the day each invoice was settled (see
    :func:`_settle`), and the payments with the invoice each names."""
    allocated, paid_on, by_id = _settle(invoices, payments, tolerance)
    documents = [
        RawDocument(
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            amount=i.amount,
            currency=i.currency,
            paid_on=paid_on.get(i.id),
            open_amount=_still_open(i, allocated, by_id),
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
            sa_select(st)
            .where(among(session, st.c.customer_id, chunk))
            .order_by(st.c.customer_id, st.c.id)
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


def collect_clean(
    session: Session,
    customer: Customer,
    as_of: date,
    policy: Any,
    *,
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
