"""The matcher's view of the receivables (:class:`Ledger`), what it reads and what it says:
a payment as booked, an open item, an RF reference of ours, a customer, the tolerance, an
allocation, a rule's step, a conversion, a suggestion and the outcome. Pure; see
:mod:`credit.domain.matching` for the rules."""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from credit.domain import rf
from credit.domain.cleaning import RateTable
from credit.domain.money import ZERO, fmt_money, minor_units

RULE_RF = "rf"
RULE_INVOICE = "invoice_number"
RULE_IBAN_AMOUNT = "iban_amount"  # one open item of the amount
RULE_IBAN_ITEMS = "iban_items"  # a set of open items adding up to the amount
RULE_MANUAL = "manual"  # a person chose the items (or confirmed a suggestion)
RULE_RETURN = "return"  # a return found the payment it takes back
RULES = (RULE_RF, RULE_INVOICE, RULE_IBAN_AMOUNT, RULE_IBAN_ITEMS, RULE_MANUAL, RULE_RETURN)

MAX_WINDOW = 8  # words of remittance text joined to find one invoice number
MIN_PART = 5  # characters of a number without its prefix ("20240017") to be looked for alone
SEARCHED = 2000  # a customer's oldest open items (per currency) an amount is looked for among
PAIRS_OVER = 500  # the oldest items searched for two that add up to the amount
TRIPLES_OVER = 25  # ... for three
SUGGESTIONS = 5
NAME_CANDIDATES = 8  # customers compared by name per payment (most words shared first)
COMMON_TOKEN = 1000  # a name word shared by more customers than this finds nobody
AMOUNT_NEIGHBOURS = 6  # open items of the nearest amounts looked at per payment
# Words of company names that say nothing about which company it is.
LEGAL_FORMS = frozenset(
    "AG BV CO CORP GMBH INC KG KGAA LLC LTD NV OHG PLC SA SARL SAS SE SPA SRL THE UG AND".split()
)
_WORDS = re.compile(r"[A-Z0-9]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True, slots=True)
class Incoming:
    """One payment as the bank booked it (a batch booking's remittance is one of its own)."""

    key: str  # names it in explanations (the entry key)
    amount: Decimal  # positive, in ``currency`` (the account's)
    currency: str
    booked_on: date
    structured: str | None = None  # the creditor reference quoted
    text: str = ""  # unstructured remittance information
    payer_name: str | None = None
    payer_iban: str | None = None
    instructed_amount: Decimal | None = None
    instructed_currency: str | None = None
    rate: Decimal | None = None  # the bank's: account currency per unit of the instructed one


@dataclass(frozen=True, slots=True)
class Item:
    """A receivable (invoice, late fee, interest) and what was open on it when the ledger was
    read (zero: settled; kept so that a payment quoting it is told it is paid already)."""

    invoice_id: int
    number: str
    customer_id: int
    currency: str
    due_date: date
    open_amount: Decimal


@dataclass(frozen=True, slots=True)
class RfTarget:
    """What an RF reference of ours stands for: the letter's customer, currency and items."""

    rf: str
    customer_id: int
    currency: str
    invoice_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Party:
    """A customer as explanations and suggestions name it."""

    code: str
    name: str


@dataclass(frozen=True)
class Tolerance:
    """How far an amount may be from the items it pays and still match by IBAN and amount: the
    smaller of ``absolute`` and ``pct`` percent of the amount."""

    absolute: Decimal = Decimal("1.00")
    pct: Decimal = Decimal("0.5")

    def of(self, amount: Decimal) -> Decimal:
        return min(self.absolute, abs(amount) * self.pct / 100)


@dataclass(frozen=True, slots=True)
class Allocation:
    """What a payment pays on one item, or (``invoice_id`` None) keeps on account."""

    invoice_id: int | None
    number: str | None
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Step:
    """One rule tried on a payment: whether it applied, and why (or why not)."""

    rule: str
    applied: bool
    why: str


@dataclass(frozen=True, slots=True)
class Conversion:
    """A payment valued in another currency than the account's."""

    amount: Decimal  # in ``currency``
    currency: str
    source: str  # "statement" (the bank's figures) | "fx_rate" (the rates table)
    rate: Decimal  # units of the payment's currency per unit of ``currency``
    rate_date: date | None  # the rates table's day (None: the statement's)

    def describe(self, paid: Incoming) -> str:
        where = (
            "the statement's instructed amount and rate"
            if self.source == "statement"
            else f"the exchange rates of {self.rate_date.isoformat() if self.rate_date else '?'}"
        )
        return (
            f"{fmt_money(paid.amount, paid.currency)} = {fmt_money(self.amount, self.currency)} "
            f"at {self.rate.normalize():f} {paid.currency}/{self.currency} ({where})"
        )


@dataclass(frozen=True, slots=True)
class Fx:
    """How a converted payment came out against the items it pays: ``difference`` is the
    converted amount less the items' open total (negative: left open; positive: on account)."""

    conversion: Conversion
    difference: Decimal


@dataclass(frozen=True, slots=True)
class Suggestion:
    customer_id: int
    customer: str  # its code
    invoice_ids: tuple[int, ...]
    numbers: tuple[str, ...]
    amount: Decimal  # what is open on those items
    currency: str
    score: int  # 0-100
    why: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What the rules made of a payment: matched (``rule`` set) with its allocations, or not, with
    suggestions. ``steps`` say what each rule found."""

    rule: str | None
    customer_id: int | None
    allocations: tuple[Allocation, ...]
    steps: tuple[Step, ...]
    suggestions: tuple[Suggestion, ...] = ()
    fx: Fx | None = None
    learn_iban: bool = False  # a reference named the customer: its IBAN may be learned

    @property
    def matched(self) -> bool:
        return self.rule is not None


@dataclass(frozen=True, slots=True)
class Hint:
    """Why a customer is worth suggesting: ``kind`` reference | iban | name | amount."""

    kind: str
    why: str
    invoice_ids: tuple[int, ...] = ()  # the items it points at (a quoted number, an RF's)


# What each kind of reason adds to a suggestion's score (each kind counts once).
POINTS = {"reference": 30, "iban": 40}


def alnum(text: str) -> str:
    """Letters and digits only, upper case: how numbers are compared."""
    return _NOT_ALNUM.sub("", text.upper())


def number_keys(number: str) -> tuple[str, ...]:
    """The forms an item's number is found under in remittance text: whole (``INV20240017``),
    and without its letter prefix (``20240017``) when that leaves at least MIN_PART characters
    starting with a digit."""
    whole = alnum(number)
    if not whole:
        return ()
    part = whole.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if part != whole and len(part) >= MIN_PART and part[0].isdigit():
        return (whole, part)
    return (whole,)


def normalize_iban(iban: str | None) -> str | None:
    text = alnum(iban or "")
    return text or None


def name_tokens(name: str) -> frozenset[str]:
    """The words of a name that tell companies apart (no legal forms, no single letters)."""
    return frozenset(w for w in _WORDS.findall(name.upper()) if len(w) > 1 and w not in LEGAL_FORMS)


def _quantum(currency: str) -> Decimal:
    try:
        return Decimal(1).scaleb(-minor_units(currency))
    except (ValueError, LookupError):
        return Decimal("0.01")


def in_units(amount: Decimal, currency: str) -> Decimal:
    """An amount rounded (half up) to the currency's minor units."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def _prefixed(text: str, spans: list[tuple[str, int, int]], i: int) -> bool:
    """Whether word ``i`` carries a prefix of letters written onto it (``CN-1007``, ``CN1007``
    split before: ``CN/1007``): the letters word right before it, joined by nothing or a hyphen
    or slash."""
    if i == 0 or not spans[i - 1][0].isalpha():
        return False
    gap = text[spans[i - 1][2] : spans[i][1]]
    return gap in ("", "-", "/")


class Ledger:
    """The open items, references, known IBANs and customers one statement is matched against,
    indexed for lookups; matched payments are recorded on it (:meth:`record`), so a later payment
    of the same statement sees what an earlier one paid."""

    def __init__(
        self,
        items: Iterable[Item],
        *,
        customers: Mapping[int, Party],
        references: Iterable[RfTarget] = (),
        ibans: Mapping[str, int] | None = None,
        rates: RateTable | None = None,
    ) -> None:
        self.items: dict[int, Item] = {}
        self.customers = customers
        self.rates = rates
        self._paid: dict[int, Decimal] = {}  # what payments recorded here took off each item
        self._open: dict[tuple[int, str], list[Item]] = {}  # open at the start, oldest first
        self._currencies: dict[int, list[str]] = {}
        self._whole: dict[str, int] = {}
        self._part: dict[str, list[int]] = {}
        for item in items:
            self.items[item.invoice_id] = item
            keys = number_keys(item.number)
            if keys:
                self._whole[keys[0]] = item.invoice_id
                for k in keys[1:]:
                    self._part.setdefault(k, []).append(item.invoice_id)
            if item.open_amount > 0:
                self._open.setdefault((item.customer_id, item.currency), []).append(item)
        for (cid, cur), its in self._open.items():
            its.sort(key=lambda i: (i.due_date, i.number, i.invoice_id))
            self._currencies.setdefault(cid, []).append(cur)
        for curs in self._currencies.values():
            curs.sort()
        self.references: dict[str, RfTarget] = {}
        self._rf_bodies: dict[str, RfTarget] = {}
        for ref in references:
            self.references[ref.rf] = ref
            self._rf_bodies[ref.rf[4:]] = ref
        self.ibans: dict[str, int] = dict(ibans or {})
        self._amounts: dict[str, tuple[list[int], list[int]]] | None = None
        # (customer, currency) -> an amount index of its open items (matching_amounts.Search),
        # kept until a payment recorded here changes them
        self.searches: dict[tuple[int, str], dict[int, object]] = {}
        self._names: tuple[dict[str, list[int]], dict[int, frozenset[str]]] | None = None

    # ------------------------------------------------------------------ reading

    def open_amount(self, invoice_id: int) -> Decimal:
        item = self.items[invoice_id]
        return item.open_amount - self._paid.get(invoice_id, ZERO)

    def open_items(self, customer_id: int, currency: str) -> list[Item]:
        """A customer's items still open in a currency, oldest due date first."""
        return [
            i
            for i in self._open.get((customer_id, currency), [])
            if self.open_amount(i.invoice_id) > 0
        ]

    def oldest_open(self, customer_id: int, currency: str, limit: int) -> list[Item]:
        """A customer's oldest ``limit`` items still open in a currency."""
        out = []
        for i in self._open.get((customer_id, currency), []):
            if self.open_amount(i.invoice_id) > 0:
                out.append(i)
                if len(out) == limit:
                    break
        return out

    def any_open(self, customer_id: int, currency: str) -> bool:
        return any(
            self.open_amount(i.invoice_id) > 0 for i in self._open.get((customer_id, currency), [])
        )

    def currencies_of(self, customer_id: int) -> list[str]:
        return self._currencies.get(customer_id, [])

    def code(self, customer_id: int) -> str:
        party = self.customers.get(customer_id)
        return party.code if party else f"customer {customer_id}"

    def find_numbers(self, text: str) -> tuple[list[int], list[str]]:
        """The items whose numbers the text quotes (in order, each once), and the words that
        matched more than one item's number without its prefix (ambiguous). A number without
        its prefix does not count where another prefix is written onto it (``CN-1007-001`` is
        a credit note, not invoice ``INV-1007-001``)."""
        upper = rf.strip_all(text).upper()
        spans = [(m.group(0), m.start(), m.end()) for m in _WORDS.finditer(upper)]
        words = [w for w, _, _ in spans]
        found: list[int] = []
        ambiguous: list[str] = []
        i = 0
        while i < len(words):
            hit = 0
            for n in range(min(MAX_WINDOW, len(words) - i), 0, -1):
                key = "".join(words[i : i + n])
                if len(key) < 3 or not any(ch.isdigit() for ch in key):
                    continue
                whole = self._whole.get(key)
                if whole is not None:
                    found.append(whole)
                    hit = n
                    break
                parts = self._part.get(key)
                if parts is not None and not _prefixed(upper, spans, i):
                    if len(parts) == 1:
                        found.append(parts[0])
                    else:
                        ambiguous.append(key)
                    hit = n
                    break
            i += hit or 1
        return list(dict.fromkeys(found)), ambiguous

    def reference_by_body(self, ref: str) -> RfTarget | None:
        """One of our references with the same body as ``ref`` (whose check digits are wrong)."""
        return self._rf_bodies.get(rf.normalize(ref)[4:])

    def near_amounts(self, currency: str, amount: Decimal, k: int) -> list[Item]:
        """Open items in ``currency`` of the amounts nearest ``amount`` (about ``k``). The index
        (built on first use) orders amounts as whole ten-thousandths: exact, and fast to sort."""
        if self._amounts is None:
            by_cur: dict[str, list[tuple[int, int]]] = {}
            for item in self.items.values():
                if item.open_amount > 0:
                    by_cur.setdefault(item.currency, []).append(
                        (int(item.open_amount.scaleb(4)), item.invoice_id)
                    )
            self._amounts = {}
            for cur, rows in by_cur.items():
                rows.sort()
                self._amounts[cur] = ([a for a, _ in rows], [i for _, i in rows])
        amounts, ids = self._amounts.get(currency, ([], []))
        at = bisect.bisect_left(amounts, int(amount.scaleb(4)))
        lo, hi = max(0, at - k // 2), min(len(amounts), at + k - k // 2)
        return [self.items[i] for i in ids[lo:hi] if self.open_amount(i) > 0]

    def like_named(self, name: str) -> list[tuple[int, Decimal]]:
        """Customers whose names are like ``name``: (id, similarity 0-1), most alike first."""
        if self._names is None:
            index: dict[str, list[int]] = {}
            tokens: dict[int, frozenset[str]] = {}
            for cid, party in self.customers.items():
                tokens[cid] = name_tokens(party.name)
                for t in tokens[cid]:
                    index.setdefault(t, []).append(cid)
            self._names = (index, tokens)
        index, tokens = self._names
        wanted = name_tokens(name)
        if not wanted:
            return []
        shared: dict[int, int] = {}
        for t in wanted:
            holders = index.get(t, [])
            if len(holders) <= COMMON_TOKEN:
                for cid in holders:
                    shared[cid] = shared.get(cid, 0) + 1
        ranked = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:NAME_CANDIDATES]
        out = []
        for cid, _ in ranked:
            theirs = tokens[cid]
            jaccard = Decimal(len(wanted & theirs)) / Decimal(len(wanted | theirs))
            spelled = difflib.SequenceMatcher(
                None, " ".join(sorted(wanted)), " ".join(sorted(theirs))
            ).ratio()
            similarity = max(jaccard, Decimal(str(round(spelled, 2))))
            out.append((cid, similarity.quantize(Decimal("0.01"))))
        return sorted(out, key=lambda t: (-t[1], t[0]))

    # ------------------------------------------------------------------ recording

    def record(self, allocations: Iterable[Allocation]) -> None:
        """What a matched payment paid: later payments see it."""
        for a in allocations:
            if a.invoice_id is not None:
                self._paid[a.invoice_id] = self._paid.get(a.invoice_id, ZERO) + a.amount
                item = self.items[a.invoice_id]
                self.searches.pop((item.customer_id, item.currency), None)

    def learn_iban(self, iban: str, customer_id: int) -> bool:
        """Remember the payer's IBAN for a customer; False when it is known for another one."""
        known = self.ibans.get(iban)
        if known is not None and known != customer_id:
            return False
        self.ibans[iban] = customer_id
        return True
