"""What notices print for counts and times: the locale's plural rules, the company's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_helpers_imported_without_context_format_for_the_notice_they_are_rendered_in(tmp_path):
    """A notice's helpers (macros) are imported without its context, so Jinja builds each module
    once for every notice: their |money, |date and |plural still take the notice's locale and
    the language of its template, as the notice's own text does (they printed English amounts
    inside a German notice before)."""
    from credit.notices import NoticeRenderer

    (tmp_path / "notices").mkdir()
    (tmp_path / "notices" / "_helpers.txt.j2").write_text(
        '{% macro due(amount, day, n) %}{{ amount|money("EUR") }} am {{ day|date }}, '
        '{{ n|plural("Tag", "Tage") }}{% endmacro %}'
    )
    head = '{% import "notices/_helpers.txt.j2" as h %}{% set subject = "Zahlung" %}'
    line = "{{ amount|money('EUR') }} / {{ h.due(amount, day, n) }}\n"
    (tmp_path / "notices" / "zahlung.de.txt.j2").write_text(head + line)
    (tmp_path / "notices" / "zahlung.de.html.j2").write_text(head + "<p>" + line + "</p>")
    renderer = NoticeRenderer(tmp_path, company_name="Testfirma", kinds_for_customers=frozenset())
    values = {"amount": Decimal("1234.5"), "day": datetime(2026, 11, 30).date(), "n": 2}
    first = renderer.render("zahlung", "de", values)
    assert first.text == "1.234,50\xa0€ / 1.234,50\xa0€ am 30.11.2026, 2 Tage\n"
    assert "1.234,50\xa0€ am 30.11.2026" in first.html
    # the same helpers in the next notice, in another locale (the template falls back to de)
    again = renderer.render("zahlung", "de_AT", values)
    assert again.text == "€\xa01.234,50 / €\xa01.234,50 am 30.11.2026, 2 Tage\n"
    # outside a notice's rendering the helpers' filters fall back to English
    module = renderer.env.get_template("notices/_helpers.txt.j2").module
    assert str(module.due(Decimal("1"), datetime(2026, 11, 30).date(), 1)) == (
        "€1.00 am Nov 30, 2026, 1 Tag"
    )


# The locales customers are written to (the templates' and the fallbacks' that portfolios use),
# and currencies with 0, 2, 3 and 4 decimals; "" is an amount without a currency.
MONEY_LOCALES = ["en", "en_US", "en_IN", "de", "de_DE", "de_CH", "fr", "fr_CH", "it", "es", "nl"]
MONEY_LOCALES += ["pl", "pt_BR", "sv", "zh", "zh_Hant", "zh-Hant", "ja", "ar", "ar_EG", "he", "hi"]
MONEY_CURRENCIES = ["EUR", "USD", "CHF", "GBP", "JPY", "KWD", "CNY", "TWD", "INR", "CLF", ""]


@given(
    locale=st.sampled_from(MONEY_LOCALES),
    currency=st.sampled_from(MONEY_CURRENCIES),
    amount=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15)
    | st.sampled_from([Decimal("0"), Decimal("-0.00"), Decimal("-0.05"), Decimal("999.995")]),
)
@settings(max_examples=1000, deadline=None)
def test_an_amount_is_written_as_babel_writes_it_in_every_locale_and_currency(
    locale, currency, amount
):
    # money_text puts the amount's digits into the shape Babel gave for its sign and digit counts
    # (formats._money_shape); Babel itself must agree, amount by amount.
    from decimal import ROUND_HALF_UP

    from credit.domain.money import money
    from credit.notices.formats import _babel_money, _currency_unit, money_text

    shown = money_text(amount, currency, locale)
    exact = (
        amount.quantize(_currency_unit(currency), rounding=ROUND_HALF_UP)
        if currency
        else money(amount)
    )
    assert shown == _babel_money(str(exact), currency, locale)


def test_an_amount_whose_shape_babel_does_not_write_digit_for_digit_is_left_to_babel():
    from credit.notices.formats import _formatted_money, _money_shape

    # a fraction longer than the currency's: Babel rounds it, so no shape is kept
    assert _money_shape("EUR", "de_DE", negative=False, whole=1, fraction=3) is None
    assert _formatted_money("1.005", "EUR", "de_DE") == "1,00\xa0€"
    assert (
        _money_shape("EUR", "de_DE", negative=True, whole=4, fraction=2) == "-{}.{}{}{},{}{}\xa0€"
    )
    assert _formatted_money("-1234.50", "EUR", "de_DE") == "-1.234,50\xa0€"
