"""The ledger folded for the dashboard (see :mod:`credit.services.portfolio`).

Three grouped queries read the sums per day (documents by issue and due date, payments by day
and the document they settle, applied credit notes by day and the invoice they reduce); here
each day moves to the first day the analytics functions ask about on or after it (a month end,
the day before the first month, or ``as_of``), and due dates those functions cannot tell apart
share one. The result is a ledger of a few hundred documents with the same figures."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit.db.models import Invoice, Payment
from credit.domain import analytics
from credit.domain.cleaning import RateTable
from credit.domain.dunning import INVOICE, aging_bucket
from credit.domain.receivables_status import PaymentStatus
from credit.services.common import table_of
from credit.services.ledger import rate_table

# (issue day, due class, positive, a sale): the documents the analytics cannot tell apart
Key = tuple[int, tuple[int, str], bool, bool]


@dataclass
class ToBase:
    """Amounts in the base currency at the rates of ``as_of`` (a currency without a rate is
    left out, with a warning), as the research report converts them."""

    rates: RateTable
    as_of: date
    warnings: list[str] = field(default_factory=list)
    factor: dict[str, Decimal | None] = field(default_factory=dict)

    @classmethod
    def of(cls, s: Session, base: str, as_of: date) -> ToBase:
        return cls(rate_table(s, base), as_of)

    def __call__(self, amount: Decimal, currency: str) -> Decimal | None:
        if currency not in self.factor:
            found = self.rates.lookup(currency, self.as_of)
            self.factor[currency] = found[0] if found else None
            if found is None:
                self.warnings.append(f"no {currency} rate to {self.rates.base}: left out")
        f = self.factor[currency]
        return None if f is None else amount * f


@dataclass
class Fold:
    """The documents folded by :data:`Key`, each with what settled it per (day, a payment)."""

    as_of: date
    days: list[date]  # the days the analytics ask about, in order
    amount: dict[Key, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    due: dict[Key, date] = field(default_factory=dict)
    settled: dict[Key, dict[tuple[int, bool], Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    on_account: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    @classmethod
    def of(cls, as_of: date, months: int) -> Fold:
        windows = analytics.month_ends(as_of, months)
        return cls(as_of, sorted({d for w in windows for d in w} | {as_of}))

    def day(self, on: date) -> int:
        """The first day asked about on or after ``on`` (every date read is on or before
        ``as_of``, the last of them)."""
        return bisect.bisect_left(self.days, on)

    def key(self, issued: date, due: date | None, *, positive: bool, sale: bool) -> Key:
        """Due dates with the same days asked about on or before them and the same aging
        bucket on ``as_of`` fold together (a credit is current whatever its due date)."""
        if positive and due is not None:
            due_class = (
                bisect.bisect_right(self.days, due),
                aging_bucket(max(0, (self.as_of - due).days)),
            )
        else:
            due_class = (-1, "")
        k = (self.day(issued), due_class, positive, sale)
        self.due.setdefault(k, due or self.as_of)
        return k

    def settle(self, k: Key, on: date, value: Decimal, *, paid: bool) -> None:
        self.settled[k][(self.day(on), paid)] += value

    def ledger(self) -> analytics.Ledger:
        docs = []
        for n, (k, amount) in enumerate(sorted(self.amount.items())):
            settlements = tuple(
                (self.days[on], value, paid)
                for (on, paid), value in sorted(self.settled[k].items())
            )
            docs.append(
                analytics.Document(
                    number=f"fold-{n}",
                    customer="",
                    rating="",
                    issue_date=self.days[k[0]],
                    due_date=self.due[k],
                    amount=amount,
                    settlements=settlements,
                    kind=INVOICE if k[3] else "fee",
                )
            )
        on_account = [(self.days[on], v) for on, v in sorted(self.on_account.items())]
        return analytics.Ledger(docs, on_account)


def _sum_where(condition: object, amount: object) -> object:
    return func.sum(case((condition, amount)))  # type: ignore[arg-type]  # a column condition


def fold_documents(s: Session, fold: Fold, to_base: ToBase) -> None:
    """Documents issued by ``as_of``: sums per (issue date, due date, currency), split into
    sales and charges, debits and credits."""
    inv = table_of(Invoice)
    sale, debit = inv.c.kind == INVOICE, inv.c.amount > 0
    parts = {
        (True, True): _sum_where(and_(sale, debit), inv.c.amount),
        (False, True): _sum_where(and_(sale, ~debit), inv.c.amount),
        (True, False): _sum_where(and_(~sale, debit), inv.c.amount),
        (False, False): _sum_where(and_(~sale, ~debit), inv.c.amount),
    }
    for r in s.execute(
        sa_select(inv.c.issue_date, inv.c.due_date, inv.c.currency, *parts.values())
        .where(inv.c.issue_date <= fold.as_of)
        .group_by(inv.c.issue_date, inv.c.due_date, inv.c.currency)
    ):
        for (positive, is_sale), amount in zip(parts, r[3:], strict=True):
            value = None if amount is None else to_base(amount, r.currency)
            if value is not None:
                key = fold.key(r.issue_date, r.due_date, positive=positive, sale=is_sale)
                fold.amount[key] += value


def fold_payments(s: Session, fold: Fold, to_base: ToBase) -> None:
    """Payments received by ``as_of`` settle the invoice they name (issued by then) or sit on
    account."""
    pay, t = table_of(Payment), table_of(Invoice).alias("t")
    keys = (
        pay.c.paid_on,
        pay.c.currency,
        t.c.id.is_(None),
        t.c.issue_date,
        t.c.due_date,
        t.c.amount > 0,
        t.c.kind == INVOICE,
    )
    for r in s.execute(
        sa_select(*keys, func.sum(pay.c.amount))
        .select_from(
            pay.outerjoin(t, and_(t.c.id == pay.c.invoice_id, t.c.issue_date <= fold.as_of))
        )
        .where(pay.c.status == PaymentStatus.RECEIVED, pay.c.paid_on <= fold.as_of)
        .group_by(*keys)
    ):
        paid_on, currency, on_account, issued, due, positive, is_sale, amount = r
        value = to_base(amount, currency)
        if value is None:
            continue
        if on_account:
            fold.on_account[fold.day(paid_on)] += value
        else:
            key = fold.key(issued, due, positive=bool(positive), sale=bool(is_sale))
            fold.settle(key, paid_on, value, paid=True)


def fold_credit_notes(s: Session, fold: Fold, to_base: ToBase) -> None:
    """A credit note applied to an invoice (both issued by ``as_of``) settles that invoice on
    the note's date and is itself used up."""
    note, t = table_of(Invoice).alias("note"), table_of(Invoice).alias("t")
    keys = (
        note.c.issue_date,
        note.c.kind == INVOICE,
        note.c.currency,
        t.c.issue_date,
        t.c.due_date,
        t.c.amount > 0,
        t.c.kind == INVOICE,
    )
    for r in s.execute(
        sa_select(*keys, func.sum(note.c.amount))
        .select_from(note.join(t, t.c.id == note.c.applies_to_id))
        .where(note.c.amount < 0, note.c.issue_date <= fold.as_of, t.c.issue_date <= fold.as_of)
        .group_by(*keys)
    ):
        on, note_sale, currency, issued, due, positive, is_sale, amount = r
        value = to_base(amount, currency)
        if value is None:
            continue
        itself = fold.key(on, None, positive=False, sale=bool(note_sale))
        fold.settle(itself, on, value, paid=False)
        target = fold.key(issued, due, positive=bool(positive), sale=bool(is_sale))
        fold.settle(target, on, -value, paid=False)


def folded_ledger(s: Session, *, as_of: date, months: int, to_base: ToBase) -> analytics.Ledger:
    """Every document and payment up to ``as_of`` in the base currency, folded for the
    analytics of the last ``months`` months."""
    fold = Fold.of(as_of, months)
    fold_documents(s, fold, to_base)
    fold_payments(s, fold, to_base)
    fold_credit_notes(s, fold, to_base)
    return fold.ledger()
