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
    """A customer with 10 settled invoices (1,000 each), 9 on time and 1 paid 20 days late, nothing
    open, and an analyst's ratings of 60 / 80 / 50 / 70:

    on-time ratio 0.9 -> band [0.85, 0.95) = 75 pts x 0.20 = 15.00
    avg days beyond terms 20/10 = 2 -> band [, 3) = 100 pts x 0.15 = 15.00
    DSO: nothing open / 10,000 sales in the last year -> 0 days -> [, 30) = 100 x 0.10 = 10.00
    current ratio 3.0 -> 100 x 0.10 = 10.00
    debt ratio 2/6 = 0.3333 -> 100 x 0.15 = 15.00
    net margin 0.05 -> [0.03, 0.08) = 70 x 0.10 = 7.00
    OCF / current liabilities 0.45 -> 100 x 0.10 = 10.00
    revenue 10,000,000 -> [10M, 50M) = 80 x 0.05 = 4.00
    registered 2019-10-01 -> 7.00 years -> [5, 10) = 75 x 0.05 = 3.75
    quantitative total = 89.75
    qualitative: market position 60 x 0.30 = 18.00, management 80 x 0.25 = 20.00,
                 industry outlook 50 x 0.20 = 10.00, reputation 70 x 0.25 = 17.50 -> 65.50
    combined = 89.75 x 0.75 + 65.50 x 0.25 = 67.3125 + 16.375 = 83.6875 -> 83.69 -> rating A (>= 80)
    """
    docs = [doc(i, date(2026, i, 15), date(2026, i, 14)) for i in range(1, 10)]
    docs.append(doc(10, date(2025, 12, 15), date(2026, 1, 4)))
    facts = scoring.CustomerFacts(
        registered_on=date(2019, 10, 1), statements=[statement()], documents=docs
    )
    result = scoring.score_customer(facts, AS_OF, policy)
    assert result.metrics["on_time_payment_ratio"] == Decimal("0.9")
    assert result.metrics["avg_days_beyond_terms"] == Decimal("2")
    assert result.metrics["dso"] == Decimal("0")
    assert result.total == Decimal("89.75")
    ratings = {
        "market_position": Decimal(60),
        "management": Decimal(80),
        "industry_outlook": Decimal(50),
        "reputation": Decimal(70),
    }
    qualitative, rows = scoring.score_qualitative(ratings, policy)
    assert qualitative == Decimal("65.50")
    assert [r.weighted for r in rows] == [
        Decimal("18.00"),
        Decimal("20.00"),
        Decimal("10.00"),
        Decimal("17.50"),
    ]
    combined = scoring.combined_score(result.total, qualitative, policy)
    assert combined == Decimal("83.69")
    assert scoring.rate_combined(result, combined, policy) == "A"


def test_dso_counts_open_receivables_against_the_last_years_sales(policy):
    docs = [
        scoring.DocumentFacts(
            "a", date(2026, 7, 1), date(2026, 8, 1), Decimal("3650"), None, Decimal("1000")
        )
    ]
    assert scoring.compute_metrics(scoring.CustomerFacts(None, [], docs), AS_OF)["dso"] == Decimal(
        "100.0"
    )
    old = [
        scoring.DocumentFacts(
            "b", date(2025, 1, 1), date(2025, 2, 1), Decimal("100"), None, Decimal("100")
        )
    ]
    assert scoring.compute_metrics(scoring.CustomerFacts(None, [], old), AS_OF)["dso"] is None


def test_qualitative_ratings_must_cover_every_factor_and_stay_within_0_to_100(policy):
    with pytest.raises(ValueError, match="missing management, industry_outlook, reputation"):
        scoring.score_qualitative({"market_position": Decimal(50)}, policy)
    full = {f.name: Decimal(50) for f in policy.scorecard.qualitative.factors}
    with pytest.raises(ValueError, match="unknown charisma"):
        scoring.score_qualitative({**full, "charisma": Decimal(1)}, policy)
    with pytest.raises(ValueError, match="between 0 and 100"):
        scoring.score_qualitative({**full, "management": Decimal(101)}, policy)
    with pytest.raises(ValueError, match="none was given"):
        scoring.combined_score(Decimal(80), None, policy)


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


def test_good_ledger_bad_balance_sheet_and_the_reverse_rate_differently_for_the_reasons_shown(
    policy,
):
    on_time = [doc(i, date(2026, i, 15), date(2026, i, 10)) for i in range(1, 9)]
    late = [doc(i, date(2026, i, 15), date(2026, i + 1, 28)) for i in range(1, 9)]
    weak = statement(
        net_income=Decimal("-300000"),
        total_liabilities=Decimal("5600000"),
        current_liabilities=Decimal("3500000"),
        operating_cash_flow=Decimal("-100000"),
    )
    good_ledger_bad_books = scoring.score_customer(
        scoring.CustomerFacts(date(2010, 1, 1), [weak], on_time), AS_OF, policy
    )
    strong = statement(net_income=Decimal("1000000"))
    bad_ledger_good_books = scoring.score_customer(
        scoring.CustomerFacts(date(2010, 1, 1), [strong], late), AS_OF, policy
    )
    a = {f.name: f.points for f in good_ledger_bad_books.factors}
    b = {f.name: f.points for f in bad_ledger_good_books.factors}
    assert a["payment_record"] == 100 and b["payment_record"] == 10
    assert a["leverage"] == 0 and b["leverage"] == 100
    # 20 + 15 + 10 from the ledger, 1 + 0 + 0 + 0 from the books, 4 + 5 scale and age = 55 -> C
    assert (good_ledger_bad_books.total, good_ledger_bad_books.rating) == (Decimal("55.00"), "C")
    # 2 + 0 + 10 from the ledger, 10 + 15 + 10 + 10 from the books, 4 + 5 = 66 -> B
    assert (bad_ledger_good_books.total, bad_ledger_good_books.rating) == (Decimal("66.00"), "B")


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


def _edges(policy):
    from credit.config import load_policy_file
    from credit.resources import resource_dir

    shipped = load_policy_file(resource_dir("config") / "policy.yaml")
    for factor in shipped.scorecard.factors:
        for band in factor.bands:
            if band.min is not None:
                yield pytest.param(
                    factor.name, band.min, band.points, id=f"{factor.name}@{band.min}"
                )
            if band.max is not None:
                yield pytest.param(
                    factor.name,
                    band.max - Decimal("0.0001"),
                    band.points,
                    id=f"{factor.name}<{band.max}",
                )


@pytest.mark.parametrize(("name", "value", "points"), list(_edges(None)))
def test_every_band_edge_of_every_factor_scores_its_own_band(policy, name, value, points):
    """A value at a band's minimum, and just under its maximum, earns exactly that band's points."""
    factor = next(f for f in policy.scorecard.factors if f.name == name)
    assert scoring.score_factor(factor, value, policy).points == points


@pytest.mark.parametrize("rule", ["neutral", "penalty", "cannot_rate"])
def test_each_missing_data_rule_of_the_policy_is_applied(policy, rule):
    factor = next(f for f in policy.scorecard.factors if f.missing.value == rule)
    scored = scoring.score_factor(factor, None, policy)
    expected = {
        "neutral": policy.scorecard.neutral_points,
        "penalty": policy.scorecard.penalty_points,
        "cannot_rate": Decimal(0),
    }[rule]
    assert scored.points == expected and scored.band == f"missing: {rule.replace('_', ' ')}"
