from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from credit.domain import scoring
from credit.domain.policy import Band

AS_OF = date(2026, 10, 1)


def statement(**kw) -> scoring.StatementFacts:
    base = dict(
        period_end=date(2025, 12, 31),
        revenue=Decimal("10000000"),
        net_income=Decimal("500000"),
        total_assets=Decimal("6000000"),
        total_liabilities=Decimal("2000000"),
        current_assets=Decimal("3000000"),
        current_liabilities=Decimal("1000000"),
        operating_cash_flow=Decimal("450000"),
    )
    base.update(kw)
    return scoring.StatementFacts(**base)


def doc(n: int, due: date, paid: date | None, amount: str = "1000") -> scoring.DocumentFacts:
    return scoring.DocumentFacts(f"I{n}", date(due.year, due.month, 1), due, Decimal(amount), paid)


def test_band_includes_its_minimum_and_excludes_its_maximum():
    band = Band(min=Decimal("1"), max=Decimal("2"), points=Decimal("50"))
    assert band.contains(Decimal("1"))
    assert band.contains(Decimal("1.9999"))
    assert not band.contains(Decimal("2"))


@pytest.mark.parametrize(
    ("value", "points"),
    [
        ("0.95", "100"),
        ("0.9499", "75"),
        ("0.85", "75"),
        ("0.8499", "45"),
        ("0.70", "45"),
        ("0.6999", "10"),
        ("0", "10"),
    ],
)
def test_payment_record_band_edges(policy, value, points):
    factor = next(f for f in policy.scorecard.factors if f.name == "payment_record")
    assert scoring.score_factor(factor, Decimal(value), policy).points == Decimal(points)


def test_missing_data_gets_the_policys_stated_treatment_never_a_silent_zero(policy):
    by_rule = {f.missing.value: f for f in policy.scorecard.factors}
    neutral = scoring.score_factor(by_rule["neutral"], None, policy)
    penalty = scoring.score_factor(by_rule["penalty"], None, policy)
    assert neutral.points == policy.scorecard.neutral_points == Decimal("50")
    assert neutral.band == "missing: neutral"
    assert penalty.points == policy.scorecard.penalty_points
    assert penalty.band == "missing: penalty"


def test_customer_without_registration_date_cannot_be_rated(policy):
    facts = scoring.CustomerFacts(registered_on=None, statements=[statement()])
    result = scoring.score_customer(facts, AS_OF, policy)
    assert result.rating == policy.unrated.grade
    assert result.cannot_rate == ["track_record"]


def test_worked_example_scores_as_computed_by_hand(policy):
    """A customer with 10 settled invoices, 9 on time and 1 paid 20 days late:

    on-time ratio 0.9 -> band [0.85, 0.95) = 75 pts x 0.25 = 18.75
    avg days beyond terms 20/10 = 2 -> band [, 3) = 100 pts x 0.15 = 15.00
    current ratio 3.0 -> 100 x 0.15 = 15.00
    debt ratio 2/6 = 0.3333 -> 100 x 0.15 = 15.00
    net margin 0.05 -> [0.03, 0.08) = 70 x 0.10 = 7.00
    OCF / current liabilities 0.45 -> 100 x 0.10 = 10.00
    revenue 10,000,000 -> [10M, 50M) = 80 x 0.05 = 4.00
    registered 2019-10-01 -> 7.00 years -> [5, 10) = 75 x 0.05 = 3.75
    total = 88.50 -> rating A (>= 80)
    """
    docs = [doc(i, date(2026, i, 15), date(2026, i, 14)) for i in range(1, 10)]
    docs.append(doc(10, date(2025, 12, 15), date(2026, 1, 4)))
    facts = scoring.CustomerFacts(
        registered_on=date(2019, 10, 1), statements=[statement()], documents=docs
    )
    result = scoring.score_customer(facts, AS_OF, policy)
    assert result.metrics["on_time_payment_ratio"] == Decimal("0.9")
    assert result.metrics["avg_days_beyond_terms"] == Decimal("2")
    assert result.total == Decimal("88.50")
    assert result.rating == "A"


def test_bad_ledger_with_good_balance_sheet_rates_lower_than_clean_ledger(policy):
    good_docs = [doc(i, date(2026, i, 15), date(2026, i, 10)) for i in range(1, 9)]
    late_docs = [doc(i, date(2026, i, 15), date(2026, i + 1, 28)) for i in range(1, 9)]
    clean = scoring.score_customer(
        scoring.CustomerFacts(date(2010, 1, 1), [statement()], good_docs), AS_OF, policy
    )
    late = scoring.score_customer(
        scoring.CustomerFacts(date(2010, 1, 1), [statement()], late_docs), AS_OF, policy
    )
    assert clean.total > late.total
    payment = {f.name: f for f in late.factors}["payment_record"]
    assert payment.points == Decimal("10")


def test_open_overdue_invoice_counts_as_late_until_paid(policy):
    docs = [doc(1, date(2026, 9, 1), None)]
    metrics = scoring.compute_metrics(scoring.CustomerFacts(None, [], docs), AS_OF)
    assert metrics["on_time_payment_ratio"] == Decimal("0")
    assert metrics["avg_days_beyond_terms"] == Decimal("30")


def test_statement_after_the_as_of_date_is_ignored(policy):
    later = statement(period_end=date(2026, 12, 31), revenue=Decimal("1"))
    facts = scoring.CustomerFacts(date(2010, 1, 1), [statement(), later])
    assert scoring.compute_metrics(facts, AS_OF)["revenue"] == Decimal("10000000")


def test_limit_is_the_smallest_of_equity_share_revenue_share_and_cap(policy):
    rule = policy.rating("B").limit  # 8% equity, 4% revenue, cap 250,000
    limit, basis = scoring.limit_from_rule(rule, statement())
    # equity 4,000,000 x 0.08 = 320,000; revenue 10,000,000 x 0.04 = 400,000; cap 250,000
    assert limit == Decimal("250000.00")
    assert basis == "policy cap"
    small = statement(total_assets=Decimal("1000000"), total_liabilities=Decimal("612345"))
    limit, basis = scoring.limit_from_rule(rule, small)
    # equity 387,655 x 0.08 = 31,012.40 -> rounded down to whole hundreds
    assert limit == Decimal("31000.00")
    assert "equity" in basis


def test_no_statement_means_no_unsecured_limit(policy):
    limit, basis = scoring.limit_from_rule(policy.rating("A").limit, None)
    assert limit == Decimal("0")
    assert "no financial statement" in basis
