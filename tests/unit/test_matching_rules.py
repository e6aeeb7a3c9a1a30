"""Cash application's rules, pure and table-driven: each payment against one small ledger, the
rule that matched it (or none), what it paid and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from credit.domain import matching, rf
from credit.domain.cleaning import RateTable
from credit.domain.matching import Incoming, Item, Ledger, Party, RfTarget, Tolerance

BOOKED = date(2027, 3, 1)
NORDWIND, ATLAS, BRIGHT, OTHER = 1, 2, 3, 4
NORDWIND_RF = rf.make("C100100000001")  # our letter to Nordwind: INV-2024-0017 and -0018
ATLAS_RF = rf.make("C100200000002")  # our letter to Atlas in USD: INV-2024-0021
PAID_RF = rf.make("C100100000003")  # a letter to Nordwind whose item is paid since
BRIGHT_IBAN = "FR7630006000011234567890189"
WRONG_RF = NORDWIND_RF[:2] + f"{(int(NORDWIND_RF[2:4]) + 1) % 100:02d}" + NORDWIND_RF[4:]


def eur(value: str) -> Decimal:
    return Decimal(value)


ITEMS = [  # invoice id, number, customer, currency, due, open
    (17, "INV-2024-0017", NORDWIND, "EUR", date(2027, 1, 10), "1190.00"),
    (18, "INV-2024-0018", NORDWIND, "EUR", date(2027, 1, 20), "500.00"),
    (19, "INV-2024-0019", NORDWIND, "EUR", date(2027, 2, 1), "250.00"),
    (10, "INV-2024-0010", NORDWIND, "EUR", date(2026, 12, 1), "0"),  # paid already
    (20, "INV-2024-0020", ATLAS, "EUR", date(2027, 1, 15), "800.00"),
    (21, "INV-2024-0021", ATLAS, "USD", date(2027, 2, 15), "1200.00"),
    (22, "INV-2024-0022", ATLAS, "GBP", date(2027, 2, 15), "100.00"),  # no GBP rate
    (30, "INV-2024-0030", BRIGHT, "EUR", date(2027, 1, 5), "300.00"),
    (31, "INV-2024-0031", BRIGHT, "EUR", date(2027, 1, 25), "450.00"),
    (32, "INV-2024-0032", BRIGHT, "EUR", date(2027, 2, 5), "99.60"),
    (40, "INV-2024-0040", OTHER, "EUR", date(2027, 2, 5), "800.00"),
]
CUSTOMERS = {
    NORDWIND: Party("C-1001", "Nordwind Logistik GmbH"),
    ATLAS: Party("C-1002", "Atlas Office Supplies BV"),
    BRIGHT: Party("C-1003", "Brightline Retail SARL"),
    OTHER: Party("C-1004", "Quickstart Ventures GmbH"),
}


def ledger() -> Ledger:
    return Ledger(
        [Item(i, n, c, cur, due, Decimal(a)) for i, n, c, cur, due, a in ITEMS],
        customers=CUSTOMERS,
        references=[
            RfTarget(NORDWIND_RF, NORDWIND, "EUR", (17, 18)),
            RfTarget(ATLAS_RF, ATLAS, "USD", (21,)),
            RfTarget(PAID_RF, NORDWIND, "EUR", (10,)),
        ],
        ibans={BRIGHT_IBAN: BRIGHT},
        rates=RateTable("EUR", {"USD": [(date(2027, 1, 1), Decimal("0.9200"))]}),
    )


def paid(amount: str, **kw: object) -> Incoming:
    return Incoming(key="t", amount=Decimal(amount), currency="EUR", booked_on=BOOKED, **kw)  # type: ignore[arg-type]


@dataclass
class Case:
    name: str
    payment: Incoming
    rule: str | None
    pays: dict[str, str]  # invoice number (or "account") -> amount
    customer: int | None = None
    says: list[str] = field(default_factory=list)  # in the steps' explanations
    first_suggestion: tuple[str, tuple[str, ...]] | None = None


CASES = [
    Case("an RF of ours names the customer and its items, oldest first",
         paid("1690.00", structured=NORDWIND_RF), matching.RULE_RF,
         {"INV-2024-0017": "1190.00", "INV-2024-0018": "500.00"}, NORDWIND),
    Case("an RF found in the text, grouped and in lower case, pays what it covers",
         paid("1190.00", text=f"Zahlung {rf.grouped(NORDWIND_RF).lower()} danke"), matching.RULE_RF,
         {"INV-2024-0017": "1190.00"}, NORDWIND),
    Case("an RF with wrong check digits is explained, skipped, and its customer suggested",
         paid("1690.00", structured=WRONG_RF), None, {},
         says=[f"{WRONG_RF}: the check digits are wrong"],
         first_suggestion=("C-1001", ("INV-2024-0017", "INV-2024-0018"))),
    Case("a well-formed RF that is not ours is explained",
         paid("10.00", structured=rf.make("999999")), None, {},
         says=[f"{rf.make('999999')} is not a reference we issued"]),
    Case("an RF whose items are paid keeps the money on account",
         paid("75.00", structured=PAID_RF), matching.RULE_RF, {"account": "75.00"}, NORDWIND,
         says=["paid already, the payment is kept on account"]),
    Case("two invoice numbers in the text, one messy",
         paid("1690.00", text="Rechnungen INV-2024-0017 und inv 2024 0018"),
         matching.RULE_INVOICE, {"INV-2024-0017": "1190.00", "INV-2024-0018": "500.00"}, NORDWIND),
    Case("a number without its prefix, with other punctuation",
         paid("250.00", text="Re. 2024/0019, thanks"), matching.RULE_INVOICE,
         {"INV-2024-0019": "250.00"}, NORDWIND),
    Case("an invoice quoted that is paid already is explained; the payment waits",
         paid("100.00", text="INV-2024-0010"), None, {},
         says=["INV-2024-0010 (C-1001) is paid already"],
         first_suggestion=("C-1001", ("INV-2024-0017",))),
    Case("numbers of two customers are ambiguous",
         paid("1990.00", text="INV-2024-0017 INV-2024-0020"), None, {},
         says=["numbers of several customers quoted"]),
    Case("a partial payment of a quoted invoice leaves the rest open",
         paid("1000.00", text="INV-2024-0017"), matching.RULE_INVOICE,
         {"INV-2024-0017": "1000.00"}, NORDWIND),
    Case("an overpayment keeps the rest on account",
         paid("300.00", text="INV-2024-0019"), matching.RULE_INVOICE,
         {"INV-2024-0019": "250.00", "account": "50.00"}, NORDWIND),
    Case("a known IBAN and the amount of one open item",
         paid("450.00", payer_iban=BRIGHT_IBAN), matching.RULE_IBAN_AMOUNT,
         {"INV-2024-0031": "450.00"}, BRIGHT),
    Case("a known IBAN and the amount of the oldest open items",
         paid("750.00", payer_iban=BRIGHT_IBAN), matching.RULE_IBAN_ITEMS,
         {"INV-2024-0030": "300.00", "INV-2024-0031": "450.00"}, BRIGHT, says=["the 2 oldest items"]),
    Case("a known IBAN and the amount of two items that are not the oldest",
         paid("399.60", payer_iban=BRIGHT_IBAN), matching.RULE_IBAN_ITEMS,
         {"INV-2024-0030": "300.00", "INV-2024-0032": "99.60"}, BRIGHT, says=["two items"]),
    Case("a known IBAN and three items",
         paid("849.60", payer_iban=BRIGHT_IBAN), matching.RULE_IBAN_ITEMS,
         {"INV-2024-0030": "300.00", "INV-2024-0031": "450.00", "INV-2024-0032": "99.60"}, BRIGHT),
    Case("a known IBAN within the tolerance: short, the rest stays open",
         paid("449.50", payer_iban=BRIGHT_IBAN), matching.RULE_IBAN_AMOUNT,
         {"INV-2024-0031": "449.50"}, BRIGHT, says=["within the tolerance EUR 1.00"]),
    Case("a known IBAN beyond the tolerance waits",
         paid("445.00", payer_iban=BRIGHT_IBAN), None, {},
         says=["no open item or set of open items"], first_suggestion=("C-1003", ("INV-2024-0030", "INV-2024-0031"))),
    Case("an unknown IBAN is explained",
         paid("450.00", payer_iban="DE02120300000000202051"), None, {},
         says=["DE02120300000000202051 is not known for a customer"]),
    Case("another currency at the day's rate: EUR 1,104.00 is USD 1,200.00 at 0.92",
         paid("1104.00", text="INV-2024-0021"), matching.RULE_INVOICE,
         {"INV-2024-0021": "1200.00"}, ATLAS, says=["EUR 1,104.00 = USD 1,200.00"]),
    Case("another currency at the statement's figures (the instructed amount)",
         paid("1098.00", structured=ATLAS_RF, instructed_amount=Decimal("1200.00"),
              instructed_currency="USD", rate=Decimal("0.915")),
         matching.RULE_RF, {"INV-2024-0021": "1200.00"}, ATLAS,
         says=["the statement's instructed amount and rate"]),
    Case("another currency without a rate waits, with the reason",
         paid("115.00", text="INV-2024-0022"), None, {},
         says=["no exchange rate for GBP"], first_suggestion=("C-1002", ("INV-2024-0022",))),
    Case("nothing to go by: suggestions by name and amount, best first",
         paid("800.00", payer_name="ATLAS OFFICE SUPPLIES B.V."), None, {},
         first_suggestion=("C-1002", ("INV-2024-0020",))),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_rule_and_edge(case: Case):
    out = matching.match(case.payment, ledger(), Tolerance(Decimal("1.00"), Decimal("0.5")))
    steps = " | ".join(s.why for s in out.steps)
    assert out.rule == case.rule, steps
    assert {a.number or "account": f"{a.amount:.2f}" for a in out.allocations} == case.pays, steps
    assert out.customer_id == case.customer
    for text in case.says:
        assert text in steps, steps
    if case.first_suggestion is not None:
        assert out.suggestions, steps
        best = out.suggestions[0]
        assert (best.customer, best.numbers) == case.first_suggestion, out.suggestions
    if out.rule is None:
        assert out.steps[-1].rule == "unmatched"


def test_every_rule_tried_says_why_it_did_not_apply():
    out = matching.match(
        paid("12.34", text="thanks", payer_iban="NL91ABNA0417164300"), ledger(), Tolerance()
    )
    assert [s.rule for s in out.steps] == ["rf", "invoice_number", "iban_amount", "unmatched"]
    assert not any(s.applied for s in out.steps)


def test_a_second_payment_of_the_same_invoice_in_one_statement_finds_it_paid():
    book = ledger()
    first = matching.match(paid("1190.00", text="INV-2024-0017"), book, Tolerance())
    book.record(first.allocations)
    second = matching.match(paid("1190.00", text="INV-2024-0017"), book, Tolerance())
    assert second.rule is None
    assert "INV-2024-0017 (C-1001) is paid already" in " ".join(s.why for s in second.steps)


def test_a_credit_notes_number_is_not_read_as_the_invoice_with_the_same_digits():
    out = matching.match(
        paid("1190.00", text="INV-2024-0017 less CN-2024-0010"), ledger(), Tolerance()
    )
    assert out.rule == matching.RULE_INVOICE
    assert [a.number for a in out.allocations] == ["INV-2024-0017"]
    assert "INV-2024-0010" not in " ".join(s.why for s in out.steps)
    # written apart from its digits, a number without its prefix still counts
    out = matching.match(paid("250.00", text="Rechnung Nr. 2024-0019"), ledger(), Tolerance())
    assert [a.number for a in out.allocations] == ["INV-2024-0019"]


def test_a_foreign_currency_payment_shows_what_the_exchange_left_short():
    out = matching.match(paid("1100.00", text="INV-2024-0021"), ledger(), Tolerance())
    assert out.fx is not None
    assert (out.fx.conversion.amount, out.fx.conversion.currency) == (Decimal("1195.65"), "USD")
    assert out.fx.difference == Decimal("-4.35")  # left open on INV-2024-0021


def test_suggestions_are_ranked_and_explained():
    out = matching.match(paid("800.00", payer_name="Atlas Office Supplies"), ledger(), Tolerance())
    scores = [s.score for s in out.suggestions]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 2
    best = out.suggestions[0]
    assert best.customer == "C-1002" and best.score > out.suggestions[1].score
    assert any("like 'Atlas Office Supplies BV'" in w for w in best.why)
    assert any("equals one item" in w for w in best.why)
    # C-1004 has an item of the same amount, but no other reason: ranked below.
    assert any(s.customer == "C-1004" for s in out.suggestions[1:])


@pytest.mark.parametrize(
    ("number", "keys"),
    [
        ("INV-2024-0017", ("INV20240017", "20240017")),
        ("inv 2024 0017", ("INV20240017", "20240017")),
        ("2024-0017", ("20240017",)),
        ("FEE-C-1001-EUR-E1-L3", ("FEEC1001EURE1L3", "1001EURE1L3")),
        ("AB-12", ("AB12",)),
    ],
)
def test_numbers_are_compared_as_letters_and_digits_with_and_without_their_prefix(number, keys):
    assert matching.number_keys(number) == keys


def test_the_tolerance_is_the_smaller_of_an_amount_and_a_percentage():
    t = Tolerance(Decimal("1.00"), Decimal("0.5"))
    assert t.of(Decimal("100")) == Decimal("0.5")
    assert t.of(Decimal("10000")) == Decimal("1.00")


def test_finding_a_set_of_items_in_a_large_ledger_is_bounded():
    import time

    items = [
        Item(i, f"N-{i:06d}", 9, "EUR", date(2027, 1, 1), Decimal(1000 + 3 * i))
        for i in range(3000)
    ]
    book = Ledger(items, customers={9: Party("C-9", "Big Customer")})
    started = time.perf_counter()
    two = matching.find_items(Decimal("3497"), items, book, Decimal(0))  # no single, no run
    assert two is not None and two[1] == "two items"
    assert sum(i.open_amount for i in two[0]) == Decimal("3497")
    assert matching.find_items(Decimal("9997"), items, book, Decimal(0))[1] == "one item"
    # two items beyond the oldest 500 are not searched: the work stays bounded
    assert matching.find_items(Decimal("16997"), items, book, Decimal(0)) is None
    assert time.perf_counter() - started < 1.0
