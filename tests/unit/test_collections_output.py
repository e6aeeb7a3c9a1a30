"""What a collections run shows: amounts, the summary line, and why a customer failed."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.exc import StatementError

from credit.cli.collections import collections_summary
from credit.cli.output import fmt_amount
from credit.services.collections import AmountOutOfRange, failure_reason


def test_amounts_have_thousands_separators_the_currency_and_its_minor_units():
    assert fmt_amount("18250.00", "EUR") == "EUR 18,250.00"
    assert fmt_amount(Decimal("100000000111844.68"), "USD") == "USD 100,000,000,111,844.68"
    assert fmt_amount("5000.00", "JPY") == "JPY 5,000"
    assert fmt_amount("1.2345", "KWD") == "KWD 1.235"
    assert fmt_amount("-450.5", "EUR") == "EUR -450.50"
    assert fmt_amount("", "") == ""


def test_the_summary_counts_customers_and_outcomes_in_words_per_currency():
    result = {
        "customers": 6,
        "by_currency": {
            "EUR": {"sent": 4, "nothing_due": 1},
            "USD": {"sent": 1, "error": 1},
            "": {"error": 1},
        },
    }
    assert collections_summary(result) == (
        "6 customers checked: EUR 4 sent, 1 nothing due; USD 1 sent, 1 failed; 1 failed"
    )
    one = {"customers": 1, "by_currency": {"EUR": {"would_send": 1}}}
    assert collections_summary(one) == "1 customer checked: EUR 1 would be sent"
    assert collections_summary({"customers": 0, "by_currency": {}}) == (
        "0 customers checked: nothing due"
    )


def test_a_failing_customer_gets_one_line_without_the_sql_or_its_parameters():
    wrapped = StatementError(
        "(builtins.ValueError) amount 100000000000009.0000 is larger than the maximum",
        "INSERT INTO dunning_action (customer_id, overdue_total) VALUES (?, ?)",
        [{"customer_id": 2, "overdue_total": Decimal("100000000000009")}],
        ValueError("amount 100000000000009.0000 is larger than the maximum 99999999999999.9999"),
    )
    reason = failure_reason(wrapped)
    assert reason == (
        "ValueError: amount 100000000000009.0000 is larger than the maximum 99999999999999.9999"
    )
    assert failure_reason(RuntimeError("ledger unreadable\n  detail")) == (
        "RuntimeError: ledger unreadable"
    )
    overflow = StatementError("x", "SELECT sum(amount)", {}, OverflowError("integer overflow"))
    assert failure_reason(overflow).startswith("a sum over its ledger overflows (integer overflow)")
    out_of_range = AmountOutOfRange("its USD overdue items add up to 1.00", "USD")
    assert failure_reason(out_of_range) == "its USD overdue items add up to 1.00"
    assert len(failure_reason(RuntimeError("x" * 1000))) == 200
