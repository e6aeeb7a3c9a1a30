"""A customer's statement of account on a day: every open item (due or not), every credit that
reduces the balance (payments on account, credit notes not applied), and the balance per
currency. Produced on demand (``credit customers statement CODE``) and attached to the dunning
notices of the levels whose policy says ``attach_statement: true``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session

from credit.app import App
from credit.db.models import Customer
from credit.domain.money import ZERO
from credit.services.common import get_customer, saved_id
from credit.services.ledger import open_items_many
from credit.services.views import CustomerView, customer_view


class StatementItem(TypedDict):
    number: str
    kind: str  # invoice | fee | interest; a credit: payment (on account) | invoice (credit note)
    due_date: date  # a credit's date
    open_amount: Decimal  # a credit's is negative
    days_overdue: int
    disputed: bool


class CurrencyStatement(TypedDict):
    currency: str
    items: list[StatementItem]  # oldest due first
    credits: list[StatementItem]
    open_total: Decimal  # the open items
    overdue_total: Decimal  # the open items past their due date
    credit_total: Decimal  # negative
    balance: Decimal  # what the customer owes in this currency (negative: we owe them)
    account: dict[str, str] | None  # the company's account for the currency


class AccountStatement(TypedDict):
    customer: CustomerView
    as_of: date
    currencies: list[CurrencyStatement]


def account_statement(app: App, s: Session, customer: Customer, *, as_of: date) -> AccountStatement:
    """The statement of ``customer``'s account on ``as_of`` (read in the caller's session)."""
    by_currency = open_items_many(s, [saved_id(customer)], as_of).get(saved_id(customer), {})
    currencies: list[CurrencyStatement] = []
    for currency in sorted(by_currency):
        lines = [
            StatementItem(
                number=i.number,
                kind=i.kind,
                due_date=i.due_date,
                open_amount=i.open_amount,
                days_overdue=i.days_overdue(as_of) if i.open_amount > 0 else 0,
                disputed=i.disputed,
            )
            for i in by_currency[currency]
        ]
        items = sorted(
            (i for i in lines if i["open_amount"] > 0), key=lambda i: (i["due_date"], i["number"])
        )
        credits = sorted(
            (i for i in lines if i["open_amount"] < 0), key=lambda i: (i["due_date"], i["number"])
        )
        if not items and not credits:
            continue
        open_total = sum((i["open_amount"] for i in items), ZERO)
        credit_total = sum((c["open_amount"] for c in credits), ZERO)
        account = app.bank_accounts.for_currency(currency)
        currencies.append(
            CurrencyStatement(
                currency=currency,
                items=items,
                credits=credits,
                open_total=open_total,
                overdue_total=sum((i["open_amount"] for i in items if i["days_overdue"] > 0), ZERO),
                credit_total=credit_total,
                balance=open_total + credit_total,
                account=account.view() if account is not None else None,
            )
        )
    return AccountStatement(customer=customer_view(customer), as_of=as_of, currencies=currencies)


def customer_statement(app: App, *, customer_code: str, as_of: date) -> AccountStatement:
    """The statement of account of the customer with ``customer_code`` on ``as_of``."""
    with app.uow(read_only=True) as uow:
        customer = get_customer(uow.session, customer_code)
        return account_statement(app, uow.session, customer, as_of=as_of)
