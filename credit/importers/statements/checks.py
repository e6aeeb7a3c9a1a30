"""What both statement parsers check, collected instead of raised: every problem of a file is
reported at once, located (line, field, value, reason), and the file is refused whole."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from credit.domain.money import MAX_AMOUNT, MAX_DOCUMENT_AMOUNT, check_amount, check_currency
from credit.domain.money import parse_amount as parse_plain_amount
from credit.domain.statements import Entry, EntryKind, StatementProblem

EARLIEST_BOOKING = date(2000, 1, 1)
LATEST_AHEAD = timedelta(days=366)  # a booking at most a year after the statement was made
# German banks' transaction codes (GVC: MT940 :86: and camt ``Prtry/Cd`` such as ``NDDT+109``)
# of a returned direct debit (009, 109 core, 119 B2B) or a returned transfer (159).
RETURN_GVC = frozenset({"009", "109", "119", "159"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IBAN_SHAPED = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9 ]{8,40}")


class StatementRejected(ValueError):
    """The file is not read: ``problems`` says where and why, one line each."""

    def __init__(self, file: str, problems: list[StatementProblem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.message(file) for p in problems))


class Problems:
    """The problems found in one file so far."""

    def __init__(self) -> None:
        self.items: list[StatementProblem] = []

    def add(self, line: int | None, field: str, value: str, reason: str) -> None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        self.items.append(StatementProblem(line, field, shown, reason))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Located:
    """Where a value comes from (line and field) and the problems it reports to: what the checks
    below need to say where a bad value is."""

    def __init__(self, problems: Problems, line: int | None, field: str) -> None:
        self.problems, self.line, self.field = problems, line, field

    def fail(self, value: str, reason: str) -> None:
        self.problems.add(self.line, self.field, value, reason)


def currency_code(raw: str | None, at: Located) -> str | None:
    """An ISO 4217 code of a currency in use, or None (reported)."""
    if raw is None or raw.strip() == "":
        at.fail("", "missing: a currency code is required (e.g. EUR)")
        return None
    why = check_currency(raw.strip())
    if why:
        at.fail(raw, f"unknown currency: {why}")
        return None
    return raw.strip()


def amount_value(
    raw: str | None,
    currency: str | None,
    at: Located,
    *,
    balance: bool = False,
    entry: bool = False,
    shown: str | None = None,
) -> Decimal | None:
    """A non-negative amount in plain decimal notation with no more decimals than ``currency``
    has (a balance may be larger than one document; an entry's is more than zero), or None
    (reported with ``shown``, the value as the file writes it, when given)."""
    if raw is None or raw.strip() == "":
        at.fail(shown or "", "missing: an amount is required")
        return None
    as_written = raw if shown is None else shown
    maximum = MAX_AMOUNT if balance else MAX_DOCUMENT_AMOUNT
    try:
        value = parse_plain_amount(raw, maximum=maximum)
    except ValueError as exc:
        at.fail(as_written, f"not an amount: {exc}")
        return None
    if value < 0:
        at.fail(
            as_written, "negative: amounts are positive, the credit/debit mark says the direction"
        )
        return None
    if entry and value == 0:
        at.fail(as_written, "zero: a booked entry moves money")
        return None
    why = check_amount(value, currency, maximum=maximum)
    if why:
        at.fail(as_written, why)
        return None
    return value


def iso_day(raw: str | None, at: Located, *, required: bool = True) -> date | None:
    """A date written YYYY-MM-DD, or a date and time (ISO 8601) whose date is taken."""
    if raw is None or raw.strip() == "":
        if required:
            at.fail("", "missing: a date is required")
        return None
    text = raw.strip()
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        at.fail(raw, "not a date (YYYY-MM-DD, or a date and time such as 2026-12-02T18:30:00)")
        return None


def plausible_day(day: date | None, raw: str, reference: date | None, at: Located) -> date | None:
    """``day`` unless it is before 2000 or more than a year after the statement was created."""
    if day is None:
        return None
    if day < EARLIEST_BOOKING:
        at.fail(raw, f"implausible date: before {EARLIEST_BOOKING.isoformat()}")
        return None
    if reference is not None and day > reference + LATEST_AHEAD:
        at.fail(
            raw,
            f"implausible date: more than a year after the statement's date "
            f"{reference.isoformat()}",
        )
        return None
    return day


def iban_value(raw: str | None, at: Located) -> str | None:
    """The IBAN, compact (``DE89370400440532013000``), or None (reported when invalid)."""
    if raw is None or raw.strip() == "":
        return None
    try:
        return str(IBAN(raw.strip()).compact)
    except SchwiftyException as exc:
        at.fail(raw, f"not a valid IBAN: {exc}")
        return None


def looks_like_iban(raw: str) -> bool:
    """Whether a free-form account number is meant as an IBAN (country letters, check digits)."""
    return bool(_IBAN_SHAPED.fullmatch(raw.strip().upper()))


def unique_refs(entries: Iterable[Entry], problems: Problems, field: str) -> None:
    """Each entry reference once per statement (it is how a re-import finds the entry)."""
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.ref in seen:
            problems.add(
                entry.line,
                field,
                entry.ref,
                f"duplicate entry reference within the statement (also on line {seen[entry.ref]})",
            )
        else:
            seen[entry.ref] = entry.line


def signed(entry: Entry) -> Decimal:
    """The entry's effect on the balance: credits add, debits and returns subtract."""
    return entry.amount if entry.kind is EntryKind.CREDIT else -entry.amount


def balances_add_up(
    opening: Decimal | None,
    closing: Decimal | None,
    entries: Iterable[Entry],
    at: Located,
    *,
    shown: str | None = None,
) -> None:
    """The closing balance is the opening balance plus the entries (else entries are missing:
    a truncated or edited file); ``shown``: the closing balance as the file writes it."""
    if opening is None or closing is None:
        return
    moved = sum((signed(e) for e in entries), Decimal(0))
    if opening + moved != closing:
        at.fail(
            shown or f"{closing}",
            f"the closing balance is not the opening balance {opening} plus the entries "
            f"{moved:+} (= {opening + moved}): entries are missing or altered",
        )
