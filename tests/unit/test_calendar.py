from __future__ import annotations

from calendar import monthrange
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.domain.calendar import add_months

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
months = st.integers(min_value=-600, max_value=600)


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 5, 17), 0, date(2026, 5, 17)),
        (date(2026, 5, 17), -18, date(2024, 11, 17)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_it_to_the_end_of_a_shorter_month(day, n, expected):
    assert add_months(day, n) == expected


@given(days, months)
def test_the_result_lies_n_calendar_months_away_on_the_same_day_or_the_last_day_of_its_month(
    day, n
):
    result = add_months(day, n)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == n
    assert result.day == min(day.day, monthrange(result.year, result.month)[1])


@given(days, months)
def test_the_rule_is_dateutils_relativedelta(day, n):
    relativedelta = pytest.importorskip("dateutil.relativedelta").relativedelta
    assert add_months(day, n) == day + relativedelta(months=n)


@given(days, months)
def test_going_forward_then_back_never_lands_after_the_start(day, n):
    assert add_months(add_months(day, n), -n) <= day
