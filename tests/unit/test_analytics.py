"""Portfolio analytics against a small ledger computed by hand (see each figure's working)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from credit.domain.analytics import (
    Document,
    Ledger,
    aging,
    by_rating,
    concentration,
    monthly_figures,
)

AS_OF = date(2027, 3, 31)


def ledger() -> Ledger:
    return Ledger(
        documents=[
            Document("D1", "X", "B", date(2026, 12, 15), date(2027, 1, 14), D("1000"),
                     ((date(2027, 1, 20), D("600"), True), (date(2027, 2, 10), D("400"), True))),
            Document("D2", "X", "B", date(2027, 1, 10), date(2027, 2, 9), D("2000"),
                     ((date(2027, 2, 5), D("2000"), True),)),
            Document("D3", "Y", "C", date(2027, 2, 20), date(2027, 3, 22), D("1500")),
            Document("D4", "Y", "C", date(2027, 3, 15), date(2027, 4, 14), D("800")),
            Document("D5", "Z", "C", date(2026, 10, 1), date(2026, 10, 31), D("500")),
        ],
        on_account=[(date(2027, 3, 25), D("100"))],
    )  # fmt: skip


def test_dso_collection_rate_and_cei_per_month():
    jan, feb, mar = monthly_figures(ledger(), AS_OF, months=3)
    # January: AR 1 Jan = D1 1000 + D5 500 = 1500; sales D2 2000; collected 600 (D1);
    # AR 31 Jan = 1500 + 2000 - 600 = 2900; current = D2 (due 9 Feb) 2000.
    assert (jan.month, jan.receivables_start, jan.sales, jan.collections) == (
        "2027-01",
        D("1500"),
        D("2000"),
        D("600"),
    )
    assert (jan.receivables_end, jan.current_end) == (D("2900"), D("2000"))
    assert jan.dso == D("45.0")  # 2900 / 2000 x 31 = 44.95
    assert jan.collection_rate == D("17.1")  # 600 / 3500
    assert jan.cei == D("40.0")  # (3500 - 2900) / (3500 - 2000)
    # February: sales D3 1500; collected 400 (D1) + 2000 (D2); AR end 2000; current D3 1500.
    assert (feb.receivables_end, feb.current_end) == (D("2000"), D("1500"))
    assert (feb.dso, feb.collection_rate, feb.cei) == (D("37.3"), D("54.5"), D("82.8"))
    # March: sales D4 800; collected 100 on account; AR end 2700; current D4 800.
    assert (mar.receivables_end, mar.current_end) == (D("2700"), D("800"))
    assert (mar.dso, mar.collection_rate, mar.cei) == (D("104.6"), D("3.6"), D("5.0"))


def test_aging_adds_up_to_the_receivables():
    buckets = aging(ledger(), AS_OF)
    # D4 800 not due, less 100 on account; D3 9 days late; D5 151 days late.
    assert buckets == {
        "current": D("700"), "1-30": D("1500"), "31-60": D("0"), "61-90": D("0"), "90+": D("500")
    }  # fmt: skip
    assert sum(buckets.values()) == ledger().receivables(AS_OF) == D("2700")


def test_late_payment_and_bad_debt_by_rating():
    b, c = by_rating(ledger(), AS_OF, window_start=date(2026, 12, 31))
    # B: D1 settled 10 Feb after its 14 Jan due date (late), D2 settled before its due date.
    assert (b.rating, b.invoices_due, b.paid_late_or_open, b.late_rate) == ("B", 2, 1, D("50.0"))
    assert b.receivables == 0 and b.bad_debt_rate is None
    # C: D3 due 22 Mar still open (late); D4 not yet due; D5 due before the window.
    assert (c.invoices_due, c.paid_late_or_open, c.late_rate) == (1, 1, D("100.0"))
    assert (c.receivables, c.over_90, c.bad_debt_rate) == (D("2800"), D("500"), D("17.9"))


def test_concentration_is_the_top_customers_share_of_positive_exposure():
    ranked, share = concentration({"X": D("500"), "Y": D("300"), "Z": D("200"), "W": D("-50")}, 2)
    assert ranked == [("X", D("500")), ("Y", D("300"))] and share == D("80.0")


def test_a_credit_note_applied_to_an_invoice_is_counted_once():
    day = date(2027, 1, 10)
    ledger = Ledger(
        documents=[
            Document("I1", "X", "B", date(2026, 12, 1), date(2026, 12, 31), D("1000"),
                     ((date(2026, 12, 20), D("300"), False),)),
            # the credit note, used up on I1: nothing left open on it
            Document("CN1", "X", "B", date(2026, 12, 20), date(2026, 12, 20), D("-300"),
                     ((date(2026, 12, 20), D("-300"), False),)),
        ]
    )  # fmt: skip
    assert ledger.receivables(day) == D("700")
    assert sum(aging(ledger, day).values()) == D("700")
    assert aging(ledger, day)["1-30"] == D("700")
    assert ledger.payments(date(2026, 12, 1), day) == 0  # a credit note is not a collection
