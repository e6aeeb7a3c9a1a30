from __future__ import annotations

from datetime import date
from decimal import Decimal

from credit.domain import cleaning, signals
from credit.domain.cleaning import RateTable, RawDocument, RawPayment, RawStatement

AS_OF = date(2026, 10, 1)


def st(period_end=date(2025, 12, 31), currency="EUR", **kw) -> RawStatement:
    base = dict(
        revenue=Decimal("1000"),
        net_income=Decimal("50"),
        total_assets=Decimal("800"),
        total_liabilities=Decimal("400"),
        current_assets=Decimal("300"),
        current_liabilities=Decimal("200"),
        operating_cash_flow=Decimal("60"),
    )
    base.update(kw)
    return RawStatement(period_end=period_end, currency=currency, **base)


def run(statements=(), documents=(), payments=(), rates=None, max_age=18):
    return cleaning.clean(
        registered_on=date(2010, 1, 1),
        statements=list(statements),
        documents=list(documents),
        payments=list(payments),
        rates=rates or RateTable("EUR", {}),
        as_of=AS_OF,
        max_statement_age_months=max_age,
    )


def test_foreign_statement_is_converted_at_the_latest_rate_on_or_before_its_date_and_reported():
    rates = RateTable(
        "EUR", {"USD": [(date(2025, 12, 1), Decimal("0.9")), (date(2026, 1, 15), Decimal("0.8"))]}
    )
    facts, report = run([st(currency="USD")], rates=rates)
    assert facts.statements[0].revenue == Decimal("900.0000")
    assert report.fixes[0].reason == "converted to EUR at 0.9 (rate of 2025-12-01)"


def test_statement_without_a_rate_is_rejected_not_scored_as_zero():
    facts, report = run([st(currency="CHF")])
    assert facts.statements == []
    assert report.rejected[0].field == "currency" and "no CHF rate" in report.rejected[0].reason
    assert report.flags[0].reason == "no usable financial statement"


def test_inconsistent_or_future_statements_are_rejected_with_the_reason():
    facts, report = run([st(current_assets=Decimal("900")), st(period_end=date(2026, 12, 31))])
    assert facts.statements == []
    reasons = {(e.item, e.field): e.reason for e in report.rejected}
    assert reasons[("statement 2025-12-31", "current_assets")].startswith(
        "larger than total_assets 800"
    )
    assert reasons[("statement 2026-12-31", "period_end")].startswith(
        "period ends after the research date"
    )


def test_stale_statement_is_flagged_but_still_used():
    facts, report = run([st(period_end=date(2024, 12, 31))], max_age=18)
    assert len(facts.statements) == 1
    assert report.stale and "21 months old" in report.flags[0].reason


def test_possible_duplicate_payment_is_flagged_not_merged():
    p = [
        RawPayment(
            "P1", date(2026, 5, 1), Decimal("100"), "EUR", "bank_transfer", "received", "I1"
        ),
        RawPayment(
            "P2", date(2026, 5, 1), Decimal("100"), "EUR", "bank_transfer", "received", "I1"
        ),
    ]
    _, report = run(payments=p)
    assert "possible duplicate of payment P1" in report.flags[-1].reason


def doc(n: int, due: date, paid: date | None) -> RawDocument:
    return RawDocument(
        f"I{n}", due, due, Decimal("100"), "EUR", paid, Decimal("0") if paid else Decimal("100")
    )


def test_rising_days_late_trend_is_a_signal_whose_severity_follows_the_rise(policy):
    rules = policy.risk
    on_time = [doc(i, date(2026, i, 1), date(2026, i, 1)) for i in range(1, 4)]
    slipping = [doc(i, date(2026, i, 1), date(2026, i, 12)) for i in range(4, 7)]
    very_late = [doc(i, date(2026, i, 1), date(2026, i, 25)) for i in range(4, 7)]
    assert signals.late_trend_signal(on_time + on_time, rules, AS_OF) is None
    medium = signals.late_trend_signal(on_time + slipping, rules, AS_OF)
    high = signals.late_trend_signal(on_time + very_late, rules, AS_OF)
    assert (medium.severity, high.severity) == ("medium", "high")
    assert "average 11.0 days late, the 3 before 0.0" in medium.detail


def pay(ref: str, day: int, method: str = "bank_transfer", status: str = "received") -> RawPayment:
    return RawPayment(ref, date(2026, 9, day), Decimal("10"), "EUR", method, status, None)


def test_payment_method_change_and_bounced_payments_are_signals(policy):
    usual = [pay("P1", 1), pay("P2", 2), pay("P3", 3)]
    assert signals.method_change_signal(usual, policy.risk, AS_OF) is None
    changed = signals.method_change_signal([*usual, pay("P4", 4, "cheque")], policy.risk, AS_OF)
    assert changed.severity == "medium" and "by cheque; usually bank_transfer" in changed.detail
    bounced = signals.bounced_signal([*usual, pay("P5", 5, status="bounced")], policy.risk, AS_OF)
    assert bounced.severity == "high" and "P5" in bounced.detail


def test_limit_utilisation_is_medium_near_the_limit_and_high_over_it(policy):
    assert signals.utilisation_signal(Decimal("800"), Decimal("1000"), policy.risk, AS_OF) is None
    assert (
        signals.utilisation_signal(Decimal("900"), Decimal("1000"), policy.risk, AS_OF).severity
        == "medium"
    )
    assert (
        signals.utilisation_signal(Decimal("1200"), Decimal("1000"), policy.risk, AS_OF).severity
        == "high"
    )
    assert signals.utilisation_signal(Decimal("1200"), None, policy.risk, AS_OF) is None


def test_identity_check_names_every_problem(policy):
    ok = signals.Profile("a@b.example", "DE", "DE811907980", date(2000, 1, 1), "s@b.example")
    assert signals.identity_signals(ok, policy.risk) == []
    bad = signals.Profile("not-mail", "DE", "DE123", None, "s@b.example")
    [sig] = signals.identity_signals(bad, policy.risk)
    assert sig.severity == "high"
    assert (
        "email 'not-mail' malformed" in sig.detail and "does not match the DE format" in sig.detail
    )
    missing = signals.Profile("a@b.example", "FR", None, None, None)
    assert "tax_id missing" in signals.identity_signals(missing, policy.risk)[0].detail


def test_a_group_over_its_limit_is_a_medium_signal_at_the_limit_none():
    at = signals.group_limit_signal("ACME", Decimal("50000"), Decimal("50000"), "EUR")
    over = signals.group_limit_signal("ACME", Decimal("50000.01"), Decimal("50000"), "EUR")
    assert at is None and over is not None
    assert (over.kind, over.severity, over.key) == ("group_over_limit", "medium",
                                                    "group_over_limit:ACME:50000")  # fmt: skip
    assert over.detail == "group ACME is over its limit: exposure 50,000.01 of 50,000.00 EUR"
