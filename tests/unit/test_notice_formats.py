"""What notices print for counts and times: the locale's plural rules, the company's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment

from credit.notices import install_filters, local_time, plural_filter


def render(source: str, locale: str, **values) -> str:
    env = Environment()
    env.filters["plural"] = plural_filter
    return env.from_string(source).render(locale=locale, **values)


@pytest.mark.parametrize(
    ("locale", "source", "count", "expected"),
    [
        ("en", '{{ n|plural("day", "days") }}', 1, "1 day"),
        ("en", '{{ n|plural("day", "days") }}', 2, "2 days"),
        ("en", '{{ n|plural("day", "days") }}', 0, "0 days"),
        ("en", '{{ n|plural("day", "days") }}', 1234, "1,234 days"),
        ("en", '{{ n|plural("day", "days") }}', Decimal("1.5"), "1.5 days"),
        ("de", '{{ n|plural("Tag", "Tage") }}', 1, "1 Tag"),
        ("de", '{{ n|plural("Tag", "Tage") }}', 21, "21 Tage"),
        ("zh-Hant", '{{ n|plural("天", "天") }}', 1, "1 天"),
        ("en", '{{ n|plural("signal", "signals", number=false) }}', 1, "signal"),
        # a language with more forms takes them by their CLDR names
        ("pl", '{{ n|plural("dzień", "dni", few="dni", many="dni") }}', 1, "1 dzień"),
    ],
)
def test_a_count_takes_its_noun_by_the_plural_rules_of_the_notice_locale(
    locale, source, count, expected
):
    assert render(source, locale, n=count) == expected


def test_a_time_is_shown_in_the_company_time_zone_with_its_abbreviation():
    berlin = ZoneInfo("Europe/Berlin")
    # the services' "... UTC" text, an aware datetime, a naive one (UTC) and ISO text agree
    for value in (
        "2026-12-08 00:41 UTC",
        datetime(2026, 12, 8, 0, 41, tzinfo=UTC),
        datetime(2026, 12, 8, 0, 41),
        "2026-12-08T00:41:00+00:00",
    ):
        assert local_time(value, berlin) == "2026-12-08 01:41 CET"
    assert local_time("2026-07-01 10:00 UTC", berlin) == "2026-07-01 12:00 CEST"
    assert local_time("2026-12-08 00:41 UTC", ZoneInfo("America/New_York")) == (
        "2026-12-07 19:41 EST"
    )
    assert local_time("", berlin) == "" and local_time("soon", berlin) == "soon"


def test_letters_print_amounts_in_the_currencys_decimals_rounded_half_up():
    env = Environment()
    install_filters(env, ZoneInfo("Europe/Berlin"))
    money_of = env.from_string("{{ v|money(c) }}")
    assert money_of.render(v=Decimal("1.2345"), c="KWD", locale="en") == "KWD1.235"
    assert money_of.render(v=Decimal("1234.565"), c="EUR", locale="en") == "€1,234.57"
    assert money_of.render(v=Decimal("5000"), c="JPY", locale="en") == "¥5,000"
