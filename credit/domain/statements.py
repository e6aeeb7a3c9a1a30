"""A bank statement as the bank sent it, whatever its format (camt.053, MT940): what the
parsers in ``credit.importers.statements`` produce and cash application reads. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


class EntryKind(StrEnum):
    CREDIT = "credit"  # money in: becomes a received payment
    RETURN = "return"  # a credit reversed (a bounced direct debit, a returned transfer)
    DEBIT = "debit"  # money out that is not a return: not ours to apply, kept for the record


@dataclass(frozen=True)
class Remittance:
    """One remittance of an entry (a batch booking carries several, each with its own amount)."""

    amount: Decimal | None  # None: the entry's whole amount
    currency: str | None
    structured: str | None = None  # the creditor reference quoted (RF... or another scheme)
    text: str = ""  # unstructured remittance information, lines joined with a space
    end_to_end: str | None = None  # the payer's end-to-end id (a return quotes it)
    payer_name: str | None = None
    payer_iban: str | None = None
    # In another currency than the account: what was instructed and the bank's rate
    # (account currency per unit of the instructed currency).
    instructed_amount: Decimal | None = None
    instructed_currency: str | None = None
    rate: Decimal | None = None


@dataclass(frozen=True)
class Entry:
    """One booked entry of a statement."""

    ref: str  # unique within the statement: the bank's reference (AcctSvcrRef / field 61 ref)
    line: int  # where in the file it starts (line number), for messages
    kind: EntryKind
    booked_on: date
    value_on: date | None
    amount: Decimal  # positive, in the account's currency
    currency: str
    remittances: tuple[Remittance, ...] = ()
    bank_code: str = ""  # the bank transaction code (e.g. PMNT/RCDT/ESCT, NTRF, RTRN)
    original_ref: str | None = None  # a return: the reference of what it returns, if given
    return_reason: str | None = None  # a return: the bank's reason code (AM04, MS03, ...), if given


@dataclass(frozen=True)
class Statement:
    """A statement of one of the company's accounts."""

    format: str  # "camt.053" | "mt940"
    statement_id: str  # the bank's id of the statement (camt Stmt/Id, MT940 :20:/:28C:)
    account_iban: str  # the company's account it is about
    currency: str
    created_on: date | None
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    entries: tuple[Entry, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StatementProblem:
    """What is wrong with a file, located: the line, the field (an XML path or an MT940 tag),
    the value and why."""

    line: int | None
    field: str
    value: str
    reason: str

    def message(self, file: str) -> str:
        where = f"{file}, line {self.line}" if self.line else file
        return f"{where}, {self.field}: {self.value!r} {self.reason}"
