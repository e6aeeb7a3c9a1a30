"""Ledger views: a customer's stored data for research, open items, exposure and dunning state."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_
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
from credit.domain.money import ZERO


def rate_table(session: Session, base_currency: str) -> RateTable:
    """Every stored exchange rate to the base currency."""
    table: dict[str, list[tuple[date, Decimal]]] = {}
    for r in session.exec(select(FxRate)):
        table.setdefault(r.currency, []).append((r.rate_date, r.rate_to_base))
    return RateTable(base_currency, table)


def ledger_documents(
    session: Session,
    customer_id: int,
    as_of: date,
    tolerance: Decimal = ZERO,
    *,
    charges: bool = False,
) -> tuple[list[RawDocument], list[RawPayment]]:
    """A customer's invoices and credit notes (with the date each invoice was settled and what is
    still open on ``as_of``) and payments; the one place payments are allocated to invoices.

    Late fees and interest charged by dunning are receivables too (``charges=True``) but not
    trade: research leaves them out of payment behaviour."""
    query = select(Invoice).where(Invoice.customer_id == customer_id, Invoice.issue_date <= as_of)
    if not charges:
        query = query.where(Invoice.kind == "invoice")
    invoices = list(session.exec(query))
    payments = list(
        session.exec(
            select(Payment)
            .where(Payment.customer_id == customer_id, Payment.paid_on <= as_of)
            .order_by(col(Payment.paid_on), col(Payment.id))
        )
    )
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    paid_on: dict[int, date] = {}
    by_id = {i.id: i for i in invoices}
    # What settles an invoice, in date order: payments made for it and credit notes applied to it.
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
        allocated[invoice_id] += amount  # type: ignore[index]
        if (
            invoice_id not in paid_on
            and allocated[invoice_id] >= by_id[invoice_id].amount - tolerance  # type: ignore[index]
        ):
            paid_on[invoice_id] = day  # type: ignore[index]

    def still_open(i: Invoice) -> Decimal:
        if i.amount > 0:
            return i.amount - allocated.get(i.id, ZERO)  # type: ignore[arg-type]
        return ZERO if i.applies_to_id in by_id else i.amount  # applied, or a credit on account

    documents = [
        RawDocument(
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            amount=i.amount,
            currency=i.currency,
            paid_on=paid_on.get(i.id),  # type: ignore[arg-type]
            open_amount=still_open(i),
        )
        for i in invoices
    ]
    numbers = {i.id: i.number for i in invoices}
    later = {p.invoice_id for p in payments if p.invoice_id and p.invoice_id not in numbers}
    # A payment of an invoice issued after as_of (paid ahead), or of a charge research leaves
    # out, is still allocated: never "on account".
    if later:
        numbers.update(
            session.exec(select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(later))).all()
        )
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
    """Everything stored about a customer up to a date, as plain values for cleaning and signals.

    An invoice counts as paid on the day what is still open falls within ``tolerance`` (the policy's
    dunning tolerance): a short payment of a few cents does not make it late forever.

    Each invoice carries the date it was fully paid and what was still open on ``as_of``;
    bounced payments are listed but pay nothing.
    """
    statements = [
        RawStatement(
            period_end=s.period_end,
            currency=customer.currency,
            revenue=s.revenue,
            net_income=s.net_income,
            total_assets=s.total_assets,
            total_liabilities=s.total_liabilities,
            current_assets=s.current_assets,
            current_liabilities=s.current_liabilities,
            operating_cash_flow=s.operating_cash_flow,
        )
        for s in session.exec(
            select(FinancialStatement).where(FinancialStatement.customer_id == customer.id)
        )
    ]
    documents, raw_payments = ledger_documents(session, customer.id, as_of, tolerance)  # type: ignore[arg-type]
    return statements, documents, raw_payments


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


def open_items(
    session: Session, customer_id: int, as_of: date
) -> dict[str, list[dunning.OpenItem]]:
    """Open balances per currency: invoices and charges after allocated payments (marked when
    disputed), credit notes and unallocated payments as negative items."""
    documents, payments = ledger_documents(session, customer_id, as_of, charges=True)
    kinds = dict(
        session.exec(
            select(Invoice.number, Invoice.kind).where(
                Invoice.customer_id == customer_id, Invoice.kind != "invoice"
            )
        ).all()
    )
    disputed = open_disputes(session, customer_id, as_of)
    items: dict[str, list[dunning.OpenItem]] = defaultdict(list)
    for p in payments:
        if p.invoice_number is None and p.status == "received":
            items[p.currency].append(
                dunning.OpenItem(p.reference, p.paid_on, -p.amount, dunning.PAYMENT)
            )
    for d in documents:
        if d.open_amount != 0:
            kind = kinds.get(d.number, dunning.INVOICE if d.amount > 0 else dunning.CREDIT_NOTE)
            items[d.currency].append(
                dunning.OpenItem(
                    d.number, d.due_date, d.open_amount, kind, disputed=d.number in disputed
                )
            )
    return dict(items)


def exposure(session: Session, customer_id: int, as_of: date) -> dict[str, Decimal]:
    return {
        cur: sum((i.open_amount for i in its), ZERO)
        for cur, its in open_items(session, customer_id, as_of).items()
    }


def _dunning_state(
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
    exposure_base = ZERO
    for currency, amount in exposure(s, customer.id, as_of).items():  # type: ignore[arg-type]
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
    session: Session, customer: Customer, as_of: date, policy: Any
) -> tuple[Any, CleaningReport, list[RawDocument], list[RawPayment]]:
    """The customer's data as the scorecard and the signals see it: cleaned base-currency facts,
    the cleaning report, and the raw documents and payments."""
    from credit.domain.cleaning import clean

    raw_statements, raw_documents, raw_payments = load_raw(
        session, customer, as_of, policy.dunning.tolerance
    )
    facts, report = clean(
        registered_on=customer.registered_on,
        statements=raw_statements,
        documents=raw_documents,
        payments=raw_payments,
        rates=rate_table(session, policy.base_currency),
        as_of=as_of,
        max_statement_age_months=policy.max_statement_age_months,
    )
    return facts, report, raw_documents, raw_payments
