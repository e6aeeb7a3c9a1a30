"""Amounts in cash application: a payment valued in the items' currency, paid onto items
oldest first, and the sets of open items an amount adds up to (bounded searches). Pure."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from credit.domain.cleaning import RateTable
from credit.domain.matching_ledger import (
    PAIRS_OVER,
    SEARCHED,
    TRIPLES_OVER,
    Allocation,
    Conversion,
    Fx,
    Incoming,
    Item,
    Ledger,
    in_units,
)
from credit.domain.money import ZERO, fmt_money


def convert(paid: Incoming, currency: str, rates: RateTable | None) -> Conversion | str:
    """The payment in ``currency``: the statement's figures when the payer instructed that
    currency, else the rates table on the booking day. A string says why it cannot be."""
    if (
        paid.instructed_currency == currency
        and paid.instructed_amount is not None
        and paid.instructed_amount > 0
    ):
        rate = paid.rate or (paid.amount / paid.instructed_amount)
        return Conversion(paid.instructed_amount, currency, "statement", rate, None)
    if paid.instructed_currency == currency and paid.rate:
        amount = in_units(paid.amount / paid.rate, currency)
        return Conversion(amount, currency, "statement", paid.rate, None)
    if rates is None:
        return f"no exchange rates to value {paid.currency} in {currency}"
    src, dst = rates.lookup(paid.currency, paid.booked_on), rates.lookup(currency, paid.booked_on)
    if src is None or dst is None:
        missing = paid.currency if src is None else currency
        return (
            f"no exchange rate for {missing} on or before {paid.booked_on.isoformat()}: "
            f"{paid.currency} cannot be valued in {currency}"
        )
    rate = (dst[0] / src[0]).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    amount = in_units(paid.amount * src[0] / dst[0], currency)
    return Conversion(amount, currency, "fx_rate", rate, min(src[1], dst[1]))


def value_in(
    paid: Incoming, currency: str, ledger: Ledger
) -> tuple[Decimal, Conversion | None] | str:
    if currency == paid.currency:
        return paid.amount, None
    found = convert(paid, currency, ledger.rates)
    if isinstance(found, str):
        return found
    return found.amount, found


def allocate(
    amount: Decimal, items: Sequence[Item], ledger: Ledger, currency: str
) -> list[Allocation]:
    """Pay ``items`` oldest due date first, each up to what is open on it; the rest on account."""
    out = []
    left = amount
    for item in sorted(items, key=lambda i: (i.due_date, i.number, i.invoice_id)):
        if left <= 0:
            break
        take = min(left, ledger.open_amount(item.invoice_id))
        if take > 0:
            out.append(Allocation(item.invoice_id, item.number, take, currency))
            left -= take
    if left > 0:
        out.append(Allocation(None, None, left, currency))
    return out


def fx_of(
    conversion: Conversion | None, allocations: Sequence[Allocation], ledger: Ledger
) -> Fx | None:
    if conversion is None:
        return None
    owed = sum(
        (ledger.open_amount(a.invoice_id) for a in allocations if a.invoice_id is not None), ZERO
    )
    return Fx(conversion, conversion.amount - owed)


def listing(allocations: Sequence[Allocation]) -> str:
    parts = [
        f"{a.number} {fmt_money(a.amount, a.currency)}"
        if a.invoice_id is not None
        else f"{fmt_money(a.amount, a.currency)} on account"
        for a in allocations
    ]
    return ", ".join(parts) or "nothing"


def find_items(
    amount: Decimal, items: Sequence[Item], ledger: Ledger, slack: Decimal
) -> tuple[list[Item], str] | None:
    """Open items whose open total is within ``slack`` of ``amount`` (see :class:`Search`)."""
    return Search(items, [ledger.open_amount(i.invoice_id) for i in items]).find(amount, slack)


def searcher(ledger: Ledger, customer_id: int, currency: str, depth: int = SEARCHED) -> Search:
    """The amount index of a customer's oldest ``depth`` open items in a currency, kept on the
    ledger until a payment recorded there changes them."""
    kept = ledger.searches.setdefault((customer_id, currency), {})
    search = kept.get(depth)
    if not isinstance(search, Search):
        items = ledger.oldest_open(customer_id, currency, depth)
        search = Search(items, [ledger.open_amount(i.invoice_id) for i in items])
        kept[depth] = search
    return search


def find_open(  # noqa: PLR0913  # the amount, where to look and how far
    amount: Decimal,
    ledger: Ledger,
    *,
    customer_id: int,
    currency: str,
    slack: Decimal,
    depth: tuple[int, int, int] = (SEARCHED, PAIRS_OVER, TRIPLES_OVER),
) -> tuple[list[Item], str] | None:
    """:func:`find_items` over a customer's oldest open items in a currency (``depth``: how many
    are looked at for one item or a run, for pairs, for triples)."""
    search = searcher(ledger, customer_id, currency, depth[0])
    return search.find(amount, slack, depth[1:])


class Search:
    """Items (oldest first) with what is open on each, indexed by amount: which of them add up
    to an amount within a slack. In this order: one item (the oldest of that amount), the oldest
    N (running sums), two of the oldest PAIRS_OVER, three of the oldest TRIPLES_OVER (the set
    whose youngest item is oldest). Each step is a dict or sorted lookup per item, never all
    subsets: a customer with thousands of open items costs a millisecond."""

    def __init__(self, items: Sequence[Item], owed: list[Decimal]) -> None:
        self.items = items
        self.owed = owed
        self.ordered = sorted((a, n) for n, a in enumerate(owed))
        self.amounts = [a for a, _ in self.ordered]
        self.running = list(itertools.accumulate(owed))
        self.first: dict[Decimal, int] = {}
        for n, a in enumerate(owed[:PAIRS_OVER]):
            self.first.setdefault(a, n)

    def _near(self, need: Decimal, slack: Decimal, before: int) -> int | None:
        """The oldest index below ``before`` whose amount is within ``slack`` of ``need``
        (among the 50 nearest amounts from below)."""
        if slack == 0 and before <= PAIRS_OVER:
            n = self.first.get(need)
            return n if n is not None and n < before else None
        at = bisect.bisect_left(self.amounts, need - slack)
        best = None
        for a, n in self.ordered[at : at + 50]:
            if a > need + slack:
                break
            if n < before and (best is None or n < best):
                best = n
        return best

    def find(
        self,
        amount: Decimal,
        slack: Decimal,
        subsets: tuple[int, ...] = (PAIRS_OVER, TRIPLES_OVER),
    ) -> tuple[list[Item], str] | None:
        one = self._near(amount, slack, len(self.owed))
        if one is not None:
            return [self.items[one]], "one item"
        n = bisect.bisect_left(self.running, amount - slack)
        if 0 < n < len(self.running) and self.running[n] <= amount + slack:
            return list(self.items[: n + 1]), f"the {n + 1} oldest items"
        pool = min(len(self.owed), subsets[0], PAIRS_OVER)
        for j in range(1, pool):
            k = self._near(amount - self.owed[j], slack, j)
            if k is not None:
                return [self.items[k], self.items[j]], "two items"
        head = min(len(self.owed), subsets[1], TRIPLES_OVER)
        for c in range(2, head):
            for b in range(1, c):
                k = self._near(amount - self.owed[c] - self.owed[b], slack, b)
                if k is not None:
                    return [self.items[k], self.items[b], self.items[c]], "three items"
        return None
