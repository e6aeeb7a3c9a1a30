"""A customer's data as stored, before cleaning: financial statements, ledger documents and
payments, in their own currencies. Cleaning turns them into facts; risk signals read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from credit.domain.receivables_status import PaymentStatus as PaymentStatus

# The amounts of a statement, in RawStatement's order (also the columns of financials.csv).
STATEMENT_AMOUNTS = (
    "revenue",
    "net_income",
    "total_assets",
    "total_liabilities",
    "current_assets",
    "current_liabilities",
    "operating_cash_flow",
)


@dataclass(frozen=True)
class RawStatement:
    period_end: date
    currency: str
    revenue: Decimal
    net_income: Decimal
    total_assets: Decimal
    total_liabilities: Decimal
    current_assets: Decimal
    current_liabilities: Decimal
    operating_cash_flow: Decimal


@dataclass(frozen=True)
class RawDocument:
    number: str
    issue_date: date
    due_date: date
    amount: Decimal
    currency: str
    paid_on: date | None
    open_amount: Decimal


@dataclass(frozen=True)
class RawPayment:
    reference: str
    paid_on: date
    amount: Decimal
    currency: str
    method: str
    status: str  # a PaymentStatus value
    invoice_number: str | None
