"""Data collection and cleaning: turn a customer's stored data into base-currency facts the
scorecard can trust, with a report of every fix, every rejected value and every flag."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from credit.domain.calendar import add_months
from credit.domain.money import ZERO
from credit.domain.records import STATEMENT_AMOUNTS
from credit.domain.records import RawDocument as RawDocument  # re-exported: what clean() takes
from credit.domain.records import RawPayment as RawPayment
from credit.domain.records import RawStatement as RawStatement
from credit.domain.scoring import CustomerFacts, DocumentFacts, StatementFacts
from credit.domain.words import counted


@dataclass(frozen=True)
class Entry:
    item: str
    field: str
    value: str
    reason: str


@dataclass
class CleaningReport:
    fixes: list[Entry] = field(default_factory=list)
    rejected: list[Entry] = field(default_factory=list)
    flags: list[Entry] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        return {k: [asdict(e) for e in getattr(self, k)] for k in ("fixes", "rejected", "flags")}

    @property
    def stale(self) -> bool:
        return any(e.field == "period_end" and "older than" in e.reason for e in self.flags)


class RateTable:
    """Exchange rates to the base currency; a date takes the latest rate on or before it."""

    def __init__(self, base_currency: str, rates: dict[str, list[tuple[date, Decimal]]]) -> None:
        self.base = base_currency
        self._rates = {cur: sorted(rows) for cur, rows in rates.items()}

    def lookup(self, currency: str, on: date) -> tuple[Decimal, date] | None:
        if currency == self.base:
            return Decimal(1), on
        rows = self._rates.get(currency, [])
        i = bisect.bisect_right(rows, (on, Decimal("Infinity")))
        return (rows[i - 1][1], rows[i - 1][0]) if i else None


def _convert(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def _statement_problems(
    st: RawStatement, found: tuple[Decimal, date] | None, rates: RateTable, as_of: date
) -> list[tuple[str, str, str]]:
    """(field, value, reason) for every reason a statement may not be scored."""
    problems = []
    if st.period_end > as_of:
        problems.append(
            ("period_end", st.period_end.isoformat(), "period ends after the research date")
        )
    for name in ("total_assets", "total_liabilities", "current_assets", "current_liabilities"):
        if getattr(st, name) < 0:
            problems.append((name, str(getattr(st, name)), "must not be negative"))
    if st.current_assets > st.total_assets:
        problems.append(
            (
                "current_assets",
                str(st.current_assets),
                f"larger than total_assets {st.total_assets}",
            )
        )
    if st.current_liabilities > st.total_liabilities:
        problems.append(
            (
                "current_liabilities",
                str(st.current_liabilities),
                f"larger than total_liabilities {st.total_liabilities}",
            )
        )
    if found is None:
        problems.append(
            (
                "currency",
                st.currency,
                f"no {st.currency} rate to {rates.base} on or before {st.period_end.isoformat()}",
            )
        )
    return problems


def _clean_statements(
    statements: list[RawStatement], rates: RateTable, as_of: date, report: CleaningReport
) -> list[StatementFacts]:
    """The statements the scorecard may use, oldest first, converted to the base currency."""
    good: list[StatementFacts] = []
    for st in sorted(statements, key=lambda s: s.period_end):
        item = f"statement {st.period_end.isoformat()}"
        found = rates.lookup(st.currency, st.period_end)
        problems = _statement_problems(st, found, rates, as_of)
        if problems or found is None:  # no rate is one of the problems
            report.rejected += [
                Entry(item, f, v, r + "; statement left out") for f, v, r in problems
            ]
            continue
        rate, rate_date = found
        if st.currency != rates.base:
            report.fixes.append(
                Entry(
                    item,
                    "currency",
                    st.currency,
                    f"converted to {rates.base} at {rate} (rate of {rate_date.isoformat()})",
                )
            )
        good.append(
            StatementFacts(
                period_end=st.period_end,
                **{k: _convert(getattr(st, k), rate) for k in STATEMENT_AMOUNTS},
            )
        )
    return good


def _flag_statements(
    good: list[StatementFacts],
    statements: list[RawStatement],
    *,
    as_of: date,
    max_age_months: int,
    report: CleaningReport,
) -> None:
    """A stale latest statement, or no usable statement at all."""
    if good:
        latest = good[-1].period_end
        age = months_between(latest, as_of)
        if add_months(latest, max_age_months) < as_of:
            report.flags.append(
                Entry(
                    f"statement {latest.isoformat()}",
                    "period_end",
                    latest.isoformat(),
                    f"stale: {age} months old, older than the policy's {max_age_months} months",
                )
            )
    elif statements:
        report.flags.append(
            Entry("statements", "-", str(len(statements)), "no usable financial statement")
        )
    else:
        report.flags.append(Entry("statements", "-", "0", "no financial statement on file"))


def _clean_documents(
    documents: list[RawDocument], rates: RateTable, report: CleaningReport
) -> list[DocumentFacts]:
    """The documents in the base currency at the rate of each issue date (none: left out)."""
    good: list[DocumentFacts] = []
    converted: Counter[str] = Counter()
    for d in documents:
        found = rates.lookup(d.currency, d.issue_date)
        if found is None:
            report.rejected.append(
                Entry(
                    f"document {d.number}",
                    "currency",
                    d.currency,
                    f"no {d.currency} rate to {rates.base} on or before "
                    f"{d.issue_date.isoformat()}; left out of the payment record",
                )
            )
            continue
        rate, _ = found
        if d.currency != rates.base:
            converted[d.currency] += 1
        good.append(
            DocumentFacts(
                number=d.number,
                issue_date=d.issue_date,
                due_date=d.due_date,
                amount=_convert(d.amount, rate),
                paid_on=d.paid_on,
                open_amount=_convert(d.open_amount, rate),
            )
        )
    for cur, n in sorted(converted.items()):
        report.fixes.append(
            Entry(
                counted(n, "document"),
                "currency",
                cur,
                f"converted to {rates.base} at the rate of each issue date",
            )
        )
    return good


def _flag_duplicate_payments(payments: list[RawPayment], report: CleaningReport) -> None:
    """Payments on the same date, of the same amount, method and invoice as an earlier one."""
    seen: dict[tuple[date, Decimal, str, str, str | None], str] = {}
    for p in sorted(payments, key=lambda p: (p.paid_on, p.reference)):
        key = (p.paid_on, p.amount, p.currency, p.method, p.invoice_number)
        if key in seen:
            report.flags.append(
                Entry(
                    f"payment {p.reference}",
                    "reference",
                    p.reference,
                    f"possible duplicate of payment {seen[key]} (same date, amount, method "
                    "and invoice): check the bank import",
                )
            )
        else:
            seen[key] = p.reference


def clean(
    *,
    registered_on: date | None,
    statements: list[RawStatement],
    documents: list[RawDocument],
    payments: list[RawPayment],
    rates: RateTable,
    as_of: date,
    max_statement_age_months: int,
) -> tuple[CustomerFacts, CleaningReport]:
    """Check, convert and select the data the scorecard may use, saying why for all left out."""
    report = CleaningReport()
    if registered_on is not None and registered_on > as_of:
        report.rejected.append(
            Entry(
                "profile",
                "registered_on",
                registered_on.isoformat(),
                "registration date after the research date",
            )
        )
        registered_on = None
    good_statements = _clean_statements(statements, rates, as_of, report)
    _flag_statements(
        good_statements,
        statements,
        as_of=as_of,
        max_age_months=max_statement_age_months,
        report=report,
    )
    good_documents = _clean_documents(documents, rates, report)
    _flag_duplicate_payments(payments, report)
    facts = CustomerFacts(
        registered_on=registered_on, statements=good_statements, documents=good_documents
    )
    return facts, report


def zero_if_none(value: Decimal | None) -> Decimal:
    return ZERO if value is None else value
