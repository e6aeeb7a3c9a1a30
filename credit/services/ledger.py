"""Ledger views: a customer's facts for scoring, open items, exposure and dunning state."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from credit.db.models import (
    Customer,
    DunningAction,
    FinancialStatement,
    Invoice,
    Payment,
)
from credit.domain import dunning, scoring
from credit.domain.money import ZERO


def load_facts(session: Session, customer: Customer, as_of: date) -> scoring.CustomerFacts:
    """The customer's statements and documents (with the date each invoice was fully paid)."""
    statements = [
        scoring.StatementFacts(
            period_end=s.period_end,
            revenue=s.revenue,
            net_income=s.net_income,
            total_assets=s.total_assets,
            total_liabilities=s.total_liabilities,
            current_assets=s.current_assets,
            current_liabilities=s.current_liabilities,
            operating_cash_flow=s.operating_cash_flow,
        )
        for s in session.exec(
            select(FinancialStatement).where(
                FinancialStatement.customer_id == customer.id,
                FinancialStatement.period_end <= as_of,
            )
        )
    ]
    invoices = list(
        session.exec(
            select(Invoice).where(Invoice.customer_id == customer.id, Invoice.issue_date <= as_of)
        )
    )
    payments = list(
        session.exec(
            select(Payment)
            .where(Payment.customer_id == customer.id, Payment.paid_on <= as_of)
            .order_by(col(Payment.paid_on), col(Payment.id))
        )
    )
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    paid_on: dict[int, date] = {}
    by_id = {i.id: i for i in invoices}
    for p in payments:
        if p.invoice_id in by_id:
            allocated[p.invoice_id] += p.amount
            if (
                p.invoice_id not in paid_on
                and allocated[p.invoice_id] >= by_id[p.invoice_id].amount
            ):
                paid_on[p.invoice_id] = p.paid_on
    documents = [
        scoring.DocumentFacts(
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            amount=i.amount,
            paid_on=paid_on.get(i.id),
        )  # type: ignore[arg-type]
        for i in invoices
    ]
    return scoring.CustomerFacts(
        registered_on=customer.registered_on, statements=statements, documents=documents
    )


def open_items(
    session: Session, customer_id: int, as_of: date
) -> dict[str, list[dunning.OpenItem]]:
    """Open balances per currency: invoices after allocated payments, credit notes and unallocated
    payments as negative items."""
    invoices = list(
        session.exec(
            select(Invoice).where(Invoice.customer_id == customer_id, Invoice.issue_date <= as_of)
        )
    )
    payments = list(
        session.exec(
            select(Payment).where(Payment.customer_id == customer_id, Payment.paid_on <= as_of)
        )
    )
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    items: dict[str, list[dunning.OpenItem]] = defaultdict(list)
    for p in payments:
        if p.invoice_id is not None:
            allocated[p.invoice_id] += p.amount
        else:
            items[p.currency].append(
                dunning.OpenItem(f"payment {p.reference}", p.paid_on, -p.amount)
            )
    for inv in invoices:
        balance = inv.amount - allocated.get(inv.id, ZERO)  # type: ignore[arg-type]
        if balance != 0:
            items[inv.currency].append(dunning.OpenItem(inv.number, inv.due_date, balance))
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
