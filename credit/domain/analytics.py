"""Portfolio analytics for the credit policy's research step: aging, DSO, collection rate and the
collection effectiveness index (CEI) per month, late payment and bad-debt exposure by rating,
limit utilisation and concentration. Pure: plain values in, Decimals out.

Definitions (month m = the days after ``start`` up to and including ``end``):
- receivables AR(d): documents issued by d (invoices, charges, credit notes negative) less all
  payments received by d (allocated or on account);
- sales are invoices less credit notes: late fees and interest are receivables, not sales;
- current C(d): what is still open on d of invoices not yet due on d;
- sales S(m): documents issued in m; collections P(m): payments received in m;
- DSO(m) = AR(end) / S(m) x days in m;
- collection rate(m) = P(m) / (AR(start) + S(m));
- CEI(m) = (AR(start) + S(m) - AR(end)) / (AR(start) + S(m) - C(end)).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from credit.domain.dunning import INVOICE, aging_bucket, empty_aging
from credit.domain.money import ZERO

PCT = Decimal("0.1")
DAYS = Decimal("0.1")


@dataclass(frozen=True)
class Document:
    """An invoice or charge (positive) or a credit note (negative), in the base currency."""

    number: str
    customer: str
    rating: str
    issue_date: date
    due_date: date
    amount: Decimal
    # What settled it: (date, amount, is_payment). Credit notes applied to it are not payments.
    settlements: tuple[tuple[date, Decimal, bool], ...] = ()
    kind: str = INVOICE  # invoice (credit notes too) | fee | interest (charged by dunning)

    def open_on(self, day: date) -> Decimal:
        return self.amount - sum((a for d, a, _ in self.settlements if d <= day), ZERO)

    def settled_on(self, tolerance: Decimal = ZERO) -> date | None:
        running = ZERO
        for d, a, _ in sorted(self.settlements):
            running += a
            if running >= self.amount - tolerance:
                return d
        return None


@dataclass(frozen=True)
class Ledger:
    documents: list[Document]
    on_account: list[tuple[date, Decimal]] = field(default_factory=list)  # unallocated payments

    def receivables(self, day: date) -> Decimal:
        issued = sum((d.amount for d in self.documents if d.issue_date <= day), ZERO)
        return issued - self.payments(date.min, day)

    def current(self, day: date) -> Decimal:
        return sum(
            (
                d.open_on(day)
                for d in self.documents
                if d.amount > 0 and d.issue_date <= day and d.due_date >= day
            ),
            ZERO,
        )

    def sales(self, start: date, end: date) -> Decimal:
        """Credit sales: invoices less credit notes; late fees and interest are not sales."""
        return sum(
            (d.amount for d in self.documents if start < d.issue_date <= end and d.kind == INVOICE),
            ZERO,
        )

    def charges(self, start: date, end: date) -> Decimal:
        """Late fees and interest booked by dunning: receivables, but not sales."""
        return sum(
            (d.amount for d in self.documents if start < d.issue_date <= end and d.kind != INVOICE),
            ZERO,
        )

    def payments(self, start: date, end: date) -> Decimal:
        allocated = sum(
            (
                a
                for doc in self.documents
                for d, a, paid in doc.settlements
                if paid and start < d <= end
            ),
            ZERO,
        )
        return allocated + sum((a for d, a in self.on_account if start < d <= end), ZERO)


def _q(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_UP)


def month_ends(as_of: date, months: int) -> list[tuple[date, date]]:
    """(start, end) of the last ``months`` calendar months up to ``as_of`` (the last one may be
    partial and ends on ``as_of``); start is the day before the month's first day."""
    out = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        first = date(year, month, 1)
        last = min(date(year, month, calendar.monthrange(year, month)[1]), as_of)
        out.append((first - timedelta(days=1), last))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(out))


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    receivables_start: Decimal
    sales: Decimal
    charges: Decimal  # late fees and interest: start + sales + charges - collections = end
    collections: Decimal
    receivables_end: Decimal
    current_end: Decimal
    dso: Decimal | None  # days
    collection_rate: Decimal | None  # percent
    cei: Decimal | None  # percent


def monthly_figures(ledger: Ledger, as_of: date, months: int = 12) -> list[MonthFigures]:
    out = []
    for start, end in month_ends(as_of, months):
        ar0, ar1 = ledger.receivables(start), ledger.receivables(end)
        sales, paid = ledger.sales(start, end), ledger.payments(start, end)
        current = ledger.current(end)
        days = Decimal((end - start).days)
        base = ar0 + sales
        out.append(
            MonthFigures(
                month=end.strftime("%Y-%m"),
                receivables_start=ar0,
                sales=sales,
                charges=ledger.charges(start, end),
                collections=paid,
                receivables_end=ar1,
                current_end=current,
                dso=_q(ar1 / sales * days, DAYS) if sales > 0 else None,
                collection_rate=_q(paid / base * 100, PCT) if base > 0 else None,
                cei=_q((base - ar1) / (base - current) * 100, PCT) if base - current > 0 else None,
            )
        )
    return out


def aging(ledger: Ledger, as_of: date) -> dict[str, Decimal]:
    """Open receivables by days past due; payments on account and credit notes count as current."""
    buckets = empty_aging()
    for d in ledger.documents:
        if d.issue_date > as_of:
            continue
        days = max(0, (as_of - d.due_date).days) if d.amount > 0 else 0
        buckets[aging_bucket(days)] += d.open_on(as_of)
    buckets["current"] -= sum((a for day, a in ledger.on_account if day <= as_of), ZERO)
    return buckets


@dataclass(frozen=True)
class RatingFigures:
    rating: str
    invoices_due: int
    paid_late_or_open: int
    late_rate: Decimal | None  # percent of invoices due in the window paid late or still open
    receivables: Decimal
    over_90: Decimal  # open more than 90 days past due: the bad-debt exposure
    bad_debt_rate: Decimal | None  # percent of the rating's receivables


def by_rating(
    ledger: Ledger, as_of: date, window_start: date, tolerance: Decimal = ZERO
) -> list[RatingFigures]:
    groups: dict[str, list[Document]] = defaultdict(list)
    for d in ledger.documents:
        if d.amount > 0 and d.issue_date <= as_of and d.kind == INVOICE:
            groups[d.rating].append(d)
    out = []
    for rating in sorted(groups):
        docs = groups[rating]
        due = [d for d in docs if window_start < d.due_date <= as_of]
        late = 0
        for d in due:
            settled = d.settled_on(tolerance)
            if settled is None or settled > as_of or settled > d.due_date:
                late += 1
        open_total = sum((d.open_on(as_of) for d in docs), ZERO)
        over_90 = sum((d.open_on(as_of) for d in docs if (as_of - d.due_date).days > 90), ZERO)
        out.append(
            RatingFigures(
                rating=rating,
                invoices_due=len(due),
                paid_late_or_open=late,
                late_rate=_q(Decimal(late) / len(due) * 100, PCT) if due else None,
                receivables=open_total,
                over_90=over_90,
                bad_debt_rate=_q(over_90 / open_total * 100, PCT) if open_total > 0 else None,
            )
        )
    return out


def concentration(
    exposure: dict[str, Decimal], top: int = 5
) -> tuple[list[tuple[str, Decimal]], Decimal | None]:
    """The ``top`` customers by exposure and their share of the total positive exposure (%)."""
    positive = {c: v for c, v in exposure.items() if v > 0}
    total = sum(positive.values(), ZERO)
    ranked = sorted(positive.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    share = _q(sum((v for _, v in ranked), ZERO) / total * 100, PCT) if total > 0 else None
    return ranked, share


def utilisation(lines: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Decimal | None]:
    """customer -> exposure / limit in percent (None for a zero limit)."""
    return {
        c: (_q(exposure / limit * 100, PCT) if limit > 0 else None)
        for c, (exposure, limit) in lines.items()
    }
