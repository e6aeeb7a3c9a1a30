"""Suggestions for a payment no rule matched: the customers it may be from, ranked, each with
the items its amount would pay. Bounded work per payment (no scan of the ledger). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from credit.domain.matching_amounts import allocate, find_open, searcher, value_in
from credit.domain.matching_ledger import (
    AMOUNT_NEIGHBOURS,
    POINTS,
    SUGGESTIONS,
    Hint,
    Incoming,
    Item,
    Ledger,
    Suggestion,
    Tolerance,
    in_units,
)
from credit.domain.money import ZERO, fmt_money

CANDIDATES = 8  # customers whose open items are weighed per payment (the best reasons first)
# A suggestion's items are looked for among the customer's oldest 200 open items (pairs among
# 40, triples among 10): a guess need not search as far as a rule.
DEPTH = (200, 40, 10)


def suggest(
    paid: Incoming,
    ledger: Ledger,
    tolerance: Tolerance,
    hints: Mapping[int, Sequence[Hint]] | None = None,
) -> tuple[Suggestion, ...]:
    """Customers the payment may be from, best first (at most SUGGESTIONS), each with the items
    its amount would pay. Points (at most 100), each kind of reason once: a reference pointing at
    the customer 30, the payer's IBAN known for it 40, a name like the payer's up to 30, the
    amount equal to one or a set of its open items 30 (within the tolerance 25, else at most 20,
    less the further off). Candidates: the customers the rules pointed at, those with names like
    the payer's and those with open items of the nearest amounts (bounded: no scan of the
    ledger)."""
    out = []
    named = {cid: [i for h in found for i in h.invoice_ids] for cid, found in (hints or {}).items()}
    found, near = _candidates(paid, ledger, hints or {})
    ranked_first = sorted(found, key=lambda c: (-sum(p for p, _ in found[c].values()), c))
    for cid in ranked_first[:CANDIDATES]:
        kept = found[cid]
        if not kept and cid in near:  # only an item of about the amount: that item
            points, why, items, currency = _near_item(paid, ledger, tolerance, near[cid])
        else:
            points, why, items, currency = _named(
                paid, ledger, tolerance, named.get(cid, [])
            ) or _proposal(paid, ledger, tolerance, cid)
        ranked = sorted(kept.values(), key=lambda t: -t[0])
        score = min(100, sum(p for p, _ in ranked) + points)
        if score <= 0:
            continue
        out.append(
            Suggestion(
                customer_id=cid,
                customer=ledger.code(cid),
                invoice_ids=tuple(i.invoice_id for i in items),
                numbers=tuple(i.number for i in items),
                amount=sum((ledger.open_amount(i.invoice_id) for i in items), ZERO),
                currency=currency,
                score=score,
                why=tuple(w for _, w in ranked) + ((why,) if why else ()),
            )
        )
    out.sort(key=lambda s: (-s.score, s.customer, s.customer_id))
    return tuple(out[:SUGGESTIONS])


def _candidates(
    paid: Incoming, ledger: Ledger, hints: Mapping[int, Sequence[Hint]]
) -> tuple[dict[int, dict[str, tuple[int, str]]], dict[int, Item]]:
    """Customer -> kind of reason -> (points, why), the best of each kind; and the customers
    with an open item of about the amount, with that item."""
    reasons: dict[int, dict[str, tuple[int, str]]] = {}

    def add(cid: int, kind: str, points: int, why: str) -> None:
        kept = reasons.setdefault(cid, {})
        if kind not in kept or kept[kind][0] < points:
            kept[kind] = (points, why)

    for cid, found in hints.items():
        for h in found:
            add(cid, h.kind, POINTS.get(h.kind, 30), h.why)
    for cid, similarity in ledger.like_named(paid.payer_name or ""):
        if similarity >= Decimal("0.5"):
            name = ledger.customers[cid].name
            why = f"payer {paid.payer_name!r} like {name!r} ({similarity})"
            add(cid, "name", int(similarity * 30), why)
    near: dict[int, Item] = {}
    for item in ledger.near_amounts(paid.currency, paid.amount, AMOUNT_NEIGHBOURS):
        reasons.setdefault(item.customer_id, {})
        best = near.get(item.customer_id)
        if best is None or abs(item.open_amount - paid.amount) < abs(
            best.open_amount - paid.amount
        ):
            near[item.customer_id] = item
    return reasons, near


def _near_item(
    paid: Incoming, ledger: Ledger, tolerance: Tolerance, item: Item
) -> tuple[int, str, list[Item], str]:
    """The proposal of an item found by its amount (in the payment's currency)."""
    owed = ledger.open_amount(item.invoice_id)
    points, word = _points(paid.amount, owed, in_units(tolerance.of(paid.amount), item.currency))
    money = fmt_money(owed, item.currency)
    return points, f"the amount {word} {item.number} ({money} open)", [item], item.currency


def _points(amount: Decimal, total: Decimal, slack: Decimal) -> tuple[int, str]:
    """Points for how close ``total`` (what items have open) comes to ``amount``."""
    if total == amount:
        return 30, "equals"
    if abs(total - amount) <= slack:
        return 25, "is within the tolerance of"
    off = abs(total - amount) / amount if amount else Decimal(1)
    return max(0, int(20 * (1 - off * 5))), "would pay"


def _named(
    paid: Incoming, ledger: Ledger, tolerance: Tolerance, ids: Sequence[int]
) -> tuple[int, str, list[Item], str] | None:
    """The proposal for items a reference pointed at (those still open, in one currency)."""
    items = [ledger.items[i] for i in dict.fromkeys(ids) if i in ledger.items]
    items = [i for i in items if ledger.open_amount(i.invoice_id) > 0]
    if not items:
        return None
    currency = items[0].currency
    items = [i for i in items if i.currency == currency]
    total = sum((ledger.open_amount(i.invoice_id) for i in items), ZERO)
    listed = f"{', '.join(i.number for i in items)} ({fmt_money(total, currency)} open)"
    valued = value_in(paid, currency, ledger)
    if isinstance(valued, str):
        return 0, f"the items referred to: {listed}; {valued}", items, currency
    amount, _ = valued
    points, word = _points(amount, total, in_units(tolerance.of(amount), currency))
    return points, f"the amount {word} the items referred to: {listed}", items, currency


def _proposal(
    paid: Incoming, ledger: Ledger, tolerance: Tolerance, cid: int
) -> tuple[int, str, list[Item], str]:
    """(points, why, items, currency): what the amount would pay of the customer's open items."""
    currencies = sorted(
        ledger.currencies_of(cid),
        key=lambda c: (c != paid.currency, c != paid.instructed_currency, c),
    )
    fallback: tuple[int, str, list[Item], str] = (0, "", [], paid.currency)
    for currency in currencies[:2]:  # the payment's and the instructed currency first
        valued = value_in(paid, currency, ledger)
        if isinstance(valued, str) or not ledger.any_open(cid, currency):
            continue
        amount, _ = valued
        slack = in_units(tolerance.of(amount), currency)
        found = find_open(  # one search within the tolerance: a guess, not a rule
            amount, ledger, customer_id=cid, currency=currency, slack=slack, depth=DEPTH
        )
        if found is not None:
            chosen, how = found
            total = sum((ledger.open_amount(i.invoice_id) for i in chosen), ZERO)
            points, word = _points(amount, total, slack)
            return (
                points,
                f"the amount {word} {how} ({fmt_money(total, currency)})",
                chosen,
                currency,
            )
        if fallback[2]:
            continue
        items = searcher(ledger, cid, currency, DEPTH[0]).items
        paying = [
            a.invoice_id
            for a in allocate(amount, items, ledger, currency)
            if a.invoice_id is not None
        ]
        chosen = [ledger.items[i] for i in paying]
        total = sum((ledger.open_amount(i) for i in paying), ZERO)
        points = _points(amount, total, slack)[0]
        fallback = (
            points,
            f"the amount would pay the {len(chosen)} oldest open item"
            f"{'' if len(chosen) == 1 else 's'} ({fmt_money(total, currency)} open)",
            chosen,
            currency,
        )
    return fallback
