"""Money in: the payment references letters carry (and, with cash application, bank statements,
their entries and how each was matched)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from credit.db.types import Money, Rate


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _money(*, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=Money, nullable=nullable, **kw)


class PaymentReference(SQLModel, table=True):
    """An ISO 11649 creditor reference (``RF…``) printed on a letter: a payment quoting it is
    for these items of this customer (the matcher's first rule)."""

    __tablename__ = "payment_reference"

    id: int | None = Field(default=None, primary_key=True)
    rf: str = Field(unique=True, index=True, max_length=25)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    invoice_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    amount: Decimal = _money()  # what the letter asked for
    purpose: str = Field(max_length=20)  # dunning | terms | statement
    notice_key: str | None = Field(default=None, unique=True, max_length=200)
    issued_on: date
    created_at: datetime = Field(default_factory=_utcnow)


class BankStatement(SQLModel, table=True):
    """A statement of one of the company's accounts, as imported (once: ``statement_key`` is
    the account's IBAN and the bank's id of the statement). A statement sent again with more
    entries adds only the new ones; ``entries`` counts all it brought."""

    __tablename__ = "bank_statement"

    id: int | None = Field(default=None, primary_key=True)
    statement_key: str = Field(unique=True, max_length=120)
    format: str = Field(max_length=10)  # camt.053 | mt940
    statement_id: str = Field(max_length=80)
    account_iban: str = Field(max_length=34, index=True)
    currency: str = Field(max_length=3)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    created_on: date | None = None
    imported_at: datetime = Field(default_factory=_utcnow)
    imported_by: str = Field(max_length=60)
    entries: int = 0


class BankEntry(SQLModel, table=True):
    """One payment on a bank statement: a booked entry, or one remittance of a batch booking
    (each is a payment of its own). A matched credit is one :class:`~credit.db.models.Payment`
    per item it pays (and one on account for what is left over), linked by ``bank_entry_id``."""

    __tablename__ = "bank_entry"

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="bank_statement.id", index=True)
    # statement key / the bank's entry reference [/ the remittance's number in a batch booking]
    entry_key: str = Field(unique=True, max_length=255)
    entry_ref: str = Field(max_length=120)
    part: int | None = None  # 1, 2, ... for the remittances of a batch booking
    line: int = 0  # where the entry starts in its file
    kind: str = Field(max_length=10)  # credit | return | debit
    booked_on: date = Field(index=True)
    value_on: date | None = None
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    payer_name: str | None = Field(default=None, max_length=140)
    payer_iban: str | None = Field(default=None, max_length=34, index=True)
    structured_ref: str | None = Field(default=None, max_length=140)
    remittance: str = Field(default="", sa_column=Column(Text, nullable=False))
    end_to_end: str | None = Field(default=None, max_length=140, index=True)
    bank_code: str = Field(default="", max_length=60)
    original_ref: str | None = Field(default=None, max_length=140)  # a return: what it returns
    instructed_amount: Decimal | None = _money(nullable=True, default=None)
    instructed_currency: str | None = Field(default=None, max_length=3)
    rate: Decimal | None = Field(default=None, sa_type=Rate, nullable=True)
    status: str = Field(max_length=20, index=True)  # a BankEntryStatus
    matched_rule: str | None = Field(default=None, max_length=20)  # rf | invoice_number | ...
    matched_by: str | None = Field(default=None, max_length=60)  # "matcher" or who confirmed
    matched_at: datetime | None = None
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    # The rules tried, each with why it did or did not apply; a person's match adds its own.
    explanation: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Ranked {customer, invoices, amount, currency, score, why} while unmatched.
    suggestions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Paid in another currency than the items: the converted amount less the items' open total
    # (in fx_currency; negative: left open, positive: kept on account).
    fx_difference: Decimal | None = _money(nullable=True, default=None)
    fx_currency: str | None = Field(default=None, max_length=3)
    # A return: the credit entry it takes back, or a payment imported from a file it bounced.
    returns_id: int | None = Field(default=None, foreign_key="bank_entry.id")
    # (a payment's id; no foreign key: payment points at bank_entry, and a cycle of keys would
    # leave the tables without an order to create them in)
    returns_payment_id: int | None = None
    created_at: datetime = Field(default_factory=_utcnow)


class CustomerBankAccount(SQLModel, table=True):
    """An IBAN a customer pays from: learned when a payment from it was matched by a reference
    (RF or invoice number) or confirmed by a person; the matcher's IBAN rule reads it."""

    __tablename__ = "customer_bank_account"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    iban: str = Field(unique=True, max_length=34)
    learned_from_id: int | None = Field(default=None, foreign_key="bank_entry.id")
    learned_by: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=_utcnow)
