"""Every proposal says what it changes: the line as it stands against the proposed limit, terms
and conditions; the score and rating against the previous assessment. Pure rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from credit.domain.changes import Scored, Terms, change_view

ORDER = ["A", "B", "C", "D", "E", "NR"]
EARLIER = Scored(3, date(2026, 6, 1), Decimal("61.2"), "B")
NOW = Scored(7, date(2026, 12, 10), Decimal("82.4"), "A")


def test_a_longer_term_and_a_higher_limit_are_shown_as_changes():
    view = change_view(
        current=Terms(Decimal("50000"), "EUR", 30, []),
        proposed=Terms(Decimal("120000"), "EUR", 60, ["guarantee"]),
        previous=EARLIER,
        latest=NOW,
        rating_order=ORDER,
        line_status="active",
    )
    assert view["lines"] == [
        "limit EUR 50,000.00 → EUR 120,000.00 (+140%)",
        "terms 30 → 60 days (longer)",
        "conditions none → guarantee (added: guarantee)",
        "rating B → A (better)",
        "score 61.20 → 82.40 (+21.20)",
    ]
    assert view["changed"] == view["lines"] and not view["new_line"]
    assert view["previous"] == {
        "assessment_id": 3,
        "as_of": "2026-06-01",
        "rating": "B",
        "score": Decimal("61.2"),
    }


def test_what_stays_the_same_says_unchanged_and_a_cut_says_how_much():
    view = change_view(
        current=Terms(Decimal("80000"), "EUR", 45, ["deposit"]),
        proposed=Terms(Decimal("60000"), "EUR", 45, ["guarantee"]),
        previous=Scored(3, date(2026, 6, 1), Decimal("82.4"), "A"),
        latest=Scored(7, date(2026, 12, 10), Decimal("70.05"), "B"),
        rating_order=ORDER,
    )
    assert view["lines"] == [
        "limit EUR 80,000.00 → EUR 60,000.00 (-25%)",
        "terms 45 days (unchanged)",
        "conditions deposit → guarantee (added: guarantee; removed: deposit)",
        "rating A → B (worse)",
        "score 82.40 → 70.05 (-12.35)",
    ]
    assert "terms 45 days (unchanged)" not in view["changed"]


def test_a_first_proposal_is_a_new_line_with_no_earlier_assessment():
    view = change_view(
        current=None,
        proposed=Terms(Decimal("1500000"), "JPY", 30, []),
        previous=None,
        latest=NOW,
        rating_order=ORDER,
    )
    assert view["new_line"] and view["previous"] is None
    assert view["lines"] == [
        "limit none: new line → JPY 1,500,000",
        "terms none: new line → 30 days",
        "conditions none: new line → none",
        "rating A (no earlier assessment)",
        "score 82.40 (no earlier assessment)",
    ]


def test_a_line_in_another_currency_is_not_given_a_percentage():
    view = change_view(
        current=Terms(Decimal("50000"), "USD", 30, []),
        proposed=Terms(Decimal("50000"), "EUR", 30, []),
        previous=NOW,
        latest=NOW,
        rating_order=ORDER,
    )
    assert view["lines"][0] == "limit USD 50,000.00 → EUR 50,000.00 (another currency)"
    assert view["lines"][3:] == ["rating A (unchanged)", "score 82.40 (unchanged)"]
