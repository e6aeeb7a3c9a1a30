"""Calendar rules: months added to a date, and business days (weekends and public holidays of a
customer's country, from the ``holidays`` package)."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from functools import lru_cache

DEFAULT_WEEKEND = frozenset({5, 6})  # Saturday, Sunday


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier when negative), clamped to the end of a shorter
    month, as a credit manager counts: Jan 31 + 1 month is Feb 28 (Feb 29 in a leap year),
    Mar 31 - 1 month is Feb 28/29, Aug 31 + 1 month is Sep 30 (``dateutil.relativedelta``'s rule).
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


@lru_cache(maxsize=512)
def _country_calendar(
    country: str, year: int
) -> tuple[frozenset[date], frozenset[int], dict[date, str]]:
    import holidays  # deliberately lazy: 30-60 ms, and adding months needs none of it

    try:
        cal = holidays.country_holidays(country.upper(), years=year)
    except (NotImplementedError, KeyError):
        # A country the package does not know: weekends only.
        return frozenset(), DEFAULT_WEEKEND, {}
    weekend = frozenset(getattr(cal, "weekend", DEFAULT_WEEKEND) or DEFAULT_WEEKEND)
    return frozenset(cal.keys()), weekend, dict(cal.items())


def non_business_reason(day: date, country: str) -> str | None:
    """Why ``day`` is not a business day in ``country`` (weekend or the holiday's name), or None."""
    holidays_, weekend, names = _country_calendar(country or "", day.year)
    if day in holidays_:
        return f"public holiday in {country.upper()} ({names.get(day, 'holiday')})"
    if day.weekday() in weekend:
        return f"weekend ({day.strftime('%A')})"
    return None


def is_business_day(day: date, country: str) -> bool:
    return non_business_reason(day, country) is None


def next_business_day(day: date, country: str) -> date:
    """``day`` itself when it is a business day, else the first business day after it."""
    for _ in range(60):
        if is_business_day(day, country):
            return day
        day += timedelta(days=1)
    return day  # a calendar with 60 days off in a row is not one we can honour
