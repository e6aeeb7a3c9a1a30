"""Cash application: which open items a payment on a bank statement pays, and why.

A payment (one credit entry of a statement, or one remittance of a batch booking) is tried
against the rules below, in this order; the first that applies matches it, and every rule tried
leaves a step saying why it did or did not apply:

1. **Structured creditor reference** (ISO 11649 ``RF…``, what our letters ask the customer to
   quote): the entry's structured reference and any RF found in its remittance text. A reference
   whose check digits are wrong is explained and skipped; a well-formed one that is not ours is
   explained. One of ours names the customer and the items the letter was about.
2. **Invoice numbers in the remittance text**, tolerant of spaces, case, punctuation and a
   missing prefix: both sides are reduced to letters and digits, and a number is found with its
   prefix (``INV20240017``) or without it (``20240017``), across up to eight words of the text
   (``inv 2024 0017``). Only a number of an item still open counts; one already paid is explained.
   Numbers of more than one customer are ambiguous: explained, not used.
3. **The payer's IBAN known for one customer** (learned from earlier payments matched by
   reference or confirmed by a person) **and an amount** equal to one open item, else to a set of
   them: the oldest-first running sums, then pairs and triples of the oldest items (bounded
   work); exactly first, then within the policy's tolerance (``cash_application``: the smaller of
   an amount and a percentage of the payment).
4. Otherwise the payment waits, **unmatched**, with ranked suggestions: customers found by the
   payer's IBAN, by a name like the payer's, by references that could not be used (an item
   already paid, an RF with wrong check digits) and by open items of about the amount, each with
   the items the amount would pay and a score.

Allocation: the items a rule names are paid oldest due date first, each up to what is still open
on it; a payment short of them leaves the rest open (partial payment); what is left over is kept
on account (an allocation without an invoice).

A payment in another currency than the items is converted: at the statement's own figures when the
payer instructed the items' currency (the instructed amount, or the amount at the bank's rate),
else at the exchange rates to the base currency on the booking day (the latest rate on or before
it). The conversion and what it left short or over is shown (:attr:`Outcome.fx`). Without a rate
the rule cannot apply, and says so.

Everything here is pure: the caller builds a :class:`Ledger` (dict indexes over the open items, the
RF references, the known IBANs and the customers) once per statement; each payment then costs a
handful of dictionary lookups, so 100,000 payments against 1,000,000 open items take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from credit.domain import rf
from credit.domain.matching_amounts import (
    allocate,
    convert,
    find_items,
    find_open,
    fx_of,
    listing,
    value_in,
)
from credit.domain.matching_ledger import (
    RULE_IBAN_AMOUNT,
    RULE_IBAN_ITEMS,
    RULE_INVOICE,
    RULE_MANUAL,
    RULE_RETURN,
    RULE_RF,
    RULES,
    Allocation,
    Conversion,
    Fx,
    Hint,
    Incoming,
    Item,
    Ledger,
    Outcome,
    Party,
    RfTarget,
    Step,
    Suggestion,
    Tolerance,
    alnum,
    in_units,
    normalize_iban,
    number_keys,
)
from credit.domain.matching_suggestions import suggest
from credit.domain.money import ZERO, fmt_money

__all__ = [
    "RULES",
    "RULE_IBAN_AMOUNT",
    "RULE_IBAN_ITEMS",
    "RULE_INVOICE",
    "RULE_MANUAL",
    "RULE_RETURN",
    "RULE_RF",
    "Allocation",
    "Conversion",
    "Fx",
    "Hint",
    "Incoming",
    "Item",
    "Ledger",
    "Outcome",
    "Party",
    "RfTarget",
    "Step",
    "Suggestion",
    "Tolerance",
    "allocate",
    "alnum",
    "convert",
    "find_items",
    "in_units",
    "match",
    "normalize_iban",
    "number_keys",
    "suggest",
]


@dataclass
class _Trail:
    """What the rules found on the way: their steps, and customers worth suggesting (why)."""

    steps: list[Step] = field(default_factory=list)
    hints: dict[int, list[Hint]] = field(default_factory=dict)

    def step(self, rule: str, applied: bool, why: str) -> None:
        self.steps.append(Step(rule, applied, why))

    def hint(
        self, customer_id: int, why: str, kind: str = "reference", items: Sequence[int] = ()
    ) -> None:
        self.hints.setdefault(customer_id, []).append(Hint(kind, why, tuple(items)))


def _matched(
    paid: Incoming,
    ledger: Ledger,
    trail: _Trail,
    *,
    rule: str,
    customer_id: int,
    items: Sequence[Item],
    currency: str,
    why: str,
) -> Outcome | None:
    """The outcome of a rule that named a customer and items in ``currency`` (None when the
    payment cannot be valued in that currency: the step says why)."""
    valued = value_in(paid, currency, ledger)
    if isinstance(valued, str):
        trail.step(rule, False, f"{why}; but {valued}")
        trail.hint(customer_id, why, items=[i.invoice_id for i in items])
        return None
    amount, conversion = valued
    allocations = allocate(amount, items, ledger, currency)
    fx = fx_of(conversion, allocations, ledger)
    said = f"{why}: {listing(allocations)}"
    if conversion is not None:
        said += f" ({conversion.describe(paid)})"
    trail.step(rule, True, said)
    return Outcome(
        rule=rule,
        customer_id=customer_id,
        allocations=tuple(allocations),
        steps=tuple(trail.steps),
        fx=fx,
        learn_iban=rule in (RULE_RF, RULE_INVOICE),
    )


def _quoted_references(paid: Incoming) -> list[str]:
    found = []
    if paid.structured and rf.normalize(paid.structured).startswith("RF"):
        found.append(rf.normalize(paid.structured))
    found += rf.find_all(paid.text)
    return list(dict.fromkeys(found))


def _by_reference(paid: Incoming, ledger: Ledger, trail: _Trail) -> Outcome | None:
    refs = _quoted_references(paid)
    if not refs:
        quoted = (
            f" (the structured reference {paid.structured!r} is not one)" if paid.structured else ""
        )
        trail.step(RULE_RF, False, f"no RF creditor reference quoted{quoted}")
        return None
    ours: list[RfTarget] = []
    for ref in refs:
        if not rf.is_valid(ref):
            body = ledger.reference_by_body(ref)
            if body is not None:
                trail.hint(
                    body.customer_id,
                    f"{ref} looks like our {body.rf} (check digits wrong)",
                    items=body.invoice_ids,
                )
            trail.step(RULE_RF, False, f"{ref}: the check digits are wrong (ignored)")
        elif ref not in ledger.references:
            trail.step(RULE_RF, False, f"{ref} is not a reference we issued")
        else:
            ours.append(ledger.references[ref])
    if not ours:
        return None
    customers = sorted({t.customer_id for t in ours})
    if len(customers) > 1:
        for t in ours:
            trail.hint(t.customer_id, f"{t.rf} quoted", items=t.invoice_ids)
        trail.step(
            RULE_RF,
            False,
            "references of several customers quoted ("
            + ", ".join(f"{t.rf}: {ledger.code(t.customer_id)}" for t in ours)
            + "): not used",
        )
        return None
    currency = ours[0].currency
    ids = list(dict.fromkeys(i for t in ours for i in t.invoice_ids if t.currency == currency))
    items = [ledger.items[i] for i in ids if i in ledger.items]
    still_open = [i for i in items if ledger.open_amount(i.invoice_id) > 0]
    refs_text = ", ".join(t.rf for t in ours)
    who = ledger.code(customers[0])
    if items and not still_open:
        why = f"{refs_text} of {who}: its items are paid already, the payment is kept on account"
    else:
        why = f"{refs_text} of {who}"
    return _matched(
        paid,
        ledger,
        trail,
        rule=RULE_RF,
        customer_id=customers[0],
        items=still_open,
        currency=currency,
        why=why,
    )


def _by_invoice_numbers(paid: Incoming, ledger: Ledger, trail: _Trail) -> Outcome | None:
    text = " ".join(t for t in (paid.structured or "", paid.text) if t)
    ids, ambiguous = ledger.find_numbers(text)
    for key in ambiguous:
        trail.step(RULE_INVOICE, False, f"{key!r} is the number of several items (ambiguous)")
    if not ids:
        if not ambiguous:
            trail.step(RULE_INVOICE, False, "no invoice number of ours in the remittance text")
        return None
    open_items: list[Item] = []
    for i in ids:
        item = ledger.items[i]
        if ledger.open_amount(i) > 0:
            open_items.append(item)
        else:
            trail.hint(item.customer_id, f"{item.number} quoted (paid already)")
            trail.step(
                RULE_INVOICE,
                False,
                f"{item.number} ({ledger.code(item.customer_id)}) is paid already",
            )
    if not open_items:
        return None
    customers = sorted({i.customer_id for i in open_items})
    if len(customers) > 1:
        for item in open_items:
            trail.hint(item.customer_id, f"{item.number} quoted", items=[item.invoice_id])
        trail.step(
            RULE_INVOICE,
            False,
            "numbers of several customers quoted ("
            + ", ".join(f"{i.number}: {ledger.code(i.customer_id)}" for i in open_items)
            + "): not used",
        )
        return None
    currencies = sorted({i.currency for i in open_items})
    currency = paid.currency if paid.currency in currencies else currencies[0]
    if len(currencies) > 1:
        trail.step(
            RULE_INVOICE,
            False,
            f"items in {' and '.join(currencies)} quoted: only the {currency} ones are paid",
        )
    chosen = [i for i in open_items if i.currency == currency]
    why = f"{', '.join(i.number for i in chosen)} of {ledger.code(customers[0])} quoted"
    return _matched(
        paid,
        ledger,
        trail,
        rule=RULE_INVOICE,
        customer_id=customers[0],
        items=chosen,
        currency=currency,
        why=why,
    )


def _by_iban(paid: Incoming, ledger: Ledger, tolerance: Tolerance, trail: _Trail) -> Outcome | None:
    iban = normalize_iban(paid.payer_iban)
    if iban is None:
        trail.step(RULE_IBAN_AMOUNT, False, "the bank gave no payer IBAN")
        return None
    cid = ledger.ibans.get(iban)
    if cid is None:
        trail.step(RULE_IBAN_AMOUNT, False, f"the payer's IBAN {iban} is not known for a customer")
        return None
    who = ledger.code(cid)
    trail.hint(cid, f"payer IBAN known for {who}", "iban")
    currencies = sorted(
        ledger.currencies_of(cid),
        key=lambda c: (c != paid.currency, c != paid.instructed_currency, c),
    )
    tried = []
    for exact in (True, False):
        for currency in currencies:
            if not ledger.any_open(cid, currency):
                continue
            valued = value_in(paid, currency, ledger)
            if isinstance(valued, str):
                if exact:
                    trail.step(RULE_IBAN_AMOUNT, False, f"{who}'s {currency} items: {valued}")
                continue
            amount, _ = valued
            slack = ZERO if exact else in_units(tolerance.of(amount), currency)
            found = find_open(amount, ledger, customer_id=cid, currency=currency, slack=slack)
            if found is None:
                tried.append(currency)
                continue
            chosen, how = found
            rule = RULE_IBAN_AMOUNT if len(chosen) == 1 else RULE_IBAN_ITEMS
            total = sum((ledger.open_amount(i.invoice_id) for i in chosen), ZERO)
            within = "" if exact else f" within the tolerance {fmt_money(slack, currency)}"
            why = (
                f"payer IBAN known for {who}; the amount equals {how} "
                f"({fmt_money(total, currency)}){within}"
            )
            return _matched(
                paid,
                ledger,
                trail,
                rule=rule,
                customer_id=cid,
                items=chosen,
                currency=currency,
                why=why,
            )
    trail.step(
        RULE_IBAN_AMOUNT,
        False,
        f"payer IBAN known for {who}, but no open item or set of open items of "
        f"{fmt_money(paid.amount, paid.currency)}"
        + (" (nor within the tolerance)" if tried else " (nothing open)"),
    )
    return None


def match(paid: Incoming, ledger: Ledger, tolerance: Tolerance) -> Outcome:
    """The rules in order (see the module's docstring); the first that applies matches. Pure:
    the caller records a match on the ledger (:meth:`Ledger.record`)."""
    trail = _Trail()
    found = (
        _by_reference(paid, ledger, trail)
        or _by_invoice_numbers(paid, ledger, trail)
        or _by_iban(paid, ledger, tolerance, trail)
    )
    if found is not None:
        return found
    suggestions = suggest(paid, ledger, tolerance, trail.hints)
    trail.step(
        "unmatched",
        False,
        f"no rule applied: waits for a collector ({len(suggestions)} suggestion"
        f"{'' if len(suggestions) == 1 else 's'})",
    )
    return Outcome(
        rule=None,
        customer_id=None,
        allocations=(),
        steps=tuple(trail.steps),
        suggestions=suggestions,
    )
