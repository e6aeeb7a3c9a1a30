"""The pure rules an amount, a currency, a country and a locale must follow (no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.domain.codes import check_country, normal_locale
from credit.domain.money import (
    MAX_AMOUNT,
    MAX_CUSTOMER_TOTAL,
    MAX_DOCUMENT_AMOUNT,
    check_amount,
    check_currency,
    minor_units,
    parse_amount,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("100", "100"), ("-450.50", "-450.50"), ("0.0001", "0.0001"), (" 12.5 ", "12.5")],
)
def test_plain_decimal_amounts_are_read_exactly(text, value):
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e5", "exponent notation is not accepted; write 100000"),
        ("2.5E3", "exponent notation is not accepted; write 2500"),
        ("1e400", "exponent notation is not accepted; write the amount out in digits"),
        ("+100", "a leading '+' is not accepted; write 100"),
        ("1 000.00", "spaces are not accepted inside an amount (no thousands separator)"),
        ("1\u00a0000", "spaces are not accepted inside an amount (no thousands separator)"),
        ("1,000.00", "use '.' as the decimal separator and no thousands separator"),
        ("1'000", "no thousands separator; write the digits only"),
        ("1_000", "no thousands separator; write the digits only"),
        (".5", "write a digit before the '.' (0.5)"),
        ("5.", "write digits after the '.' or leave it out (5)"),
        ("NaN", "not a finite number"),
        ("12x", "not a number"),
        (
            "\u0661\u0660\u0660",
            "not a number (write the digits 0-9, an optional leading '-' and '.')",
        ),
        ("100.00001", "more than 4 decimal places"),
        ("100000000000000", "larger than the maximum amount 99,999,999,999,999.9999"),
    ],
)
def test_an_amount_not_in_plain_decimal_notation_is_refused_saying_why(text, reason):
    with pytest.raises(ValueError) as exc:
        parse_amount(text)
    assert str(exc.value) == reason


def test_a_document_amount_is_limited_below_a_trillion():
    assert parse_amount("999999999999.99", maximum=MAX_DOCUMENT_AMOUNT) == MAX_DOCUMENT_AMOUNT
    with pytest.raises(ValueError, match=r"larger than the maximum amount 999,999,999,999\.99"):
        parse_amount("99999999999999", maximum=MAX_DOCUMENT_AMOUNT)


def test_the_limits_leave_every_customer_sum_below_what_the_database_stores():
    # invoices + payments + orders of one customer in one currency, and one amount typed on the
    # command line, still leave room below the column's maximum for fees and interest
    assert 3 * MAX_CUSTOMER_TOTAL + MAX_DOCUMENT_AMOUNT < MAX_AMOUNT / 3
    assert MAX_DOCUMENT_AMOUNT * 10 <= MAX_CUSTOMER_TOTAL


@pytest.mark.parametrize(
    ("currency", "digits"),
    # ISO 4217's minor units, also where CLDR prints none (HUF, IDR: coins out of use)
    [("EUR", 2), ("JPY", 0), ("KWD", 3), ("USD", 2), ("HUF", 2), ("IDR", 2), ("IQD", 3)],
)
def test_minor_units_are_the_currencys_own(currency, digits):
    assert minor_units(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("100.005", "EUR", "more decimals than EUR has (2)"),
        ("100.5", "JPY", "JPY has no decimals: write a whole amount"),
        ("1.0005", "KWD", "more decimals than KWD has (3)"),
        ("1000000000000", "EUR", "larger than the maximum amount 999,999,999,999.99"),
        ("100.01", "EUR", None),
        ("100.00", "JPY", None),  # trailing zeros are no sub-unit
        ("1.005", "KWD", None),
        ("12345.50", "HUF", None),  # ISO 4217 gives the forint two decimals
        ("-999999999999.99", "USD", None),
        ("100.005", None, None),  # the currency is unknown: only the size is checked
    ],
)
def test_an_amount_has_no_more_decimals_than_its_currency(amount, currency, reason):
    assert check_amount(Decimal(amount), currency) == reason


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KWD", "CHF", "XAF", "XOF", "XCD"])
def test_currencies_in_use_are_accepted(code):
    assert check_currency(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("XYZ", "not an ISO 4217 currency code (e.g. EUR)"),
        ("eur", "not an ISO 4217 currency code (e.g. EUR)"),
        ("EURO", "not an ISO 4217 currency code (e.g. EUR)"),
        ("XXX", "not a currency in use (XXX is 'Unknown Currency')"),
        ("XTS", "not a currency in use (XTS is 'Testing Currency Code')"),
        ("XAU", "not a currency in use (XAU is 'Gold')"),
        ("DEM", "not a currency in use (DEM is 'German Mark')"),
    ],
)
def test_codes_that_are_no_currency_in_use_are_refused(code, reason):
    assert check_currency(code) == reason


@pytest.mark.parametrize("code", ["DE", "TW", "GB", "AT", "XK"])
def test_assigned_countries_and_kosovo_are_accepted(code):
    assert check_country(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("ZZ", "no country has this ISO 3166-1 code (e.g. DE)"),
        ("EU", "no country has this ISO 3166-1 code (e.g. DE)"),
        ("UN", "no country has this ISO 3166-1 code (e.g. DE)"),
        ("UK", "no country has this ISO 3166-1 code (e.g. DE)"),
        ("de", "not an ISO 3166 country code (e.g. DE)"),
        ("Germany", "not an ISO 3166 country code (e.g. DE)"),
    ],
)
def test_unassigned_and_malformed_country_codes_are_refused(code, reason):
    assert check_country(code) == reason


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("en", "en"),
        ("de_DE", "de-DE"),
        ("de-DE", "de-DE"),
        ("de-de", "de-DE"),
        ("zh-Hant", "zh-Hant"),
        ("zh_hant", "zh-Hant"),
        ("zh_TW", "zh-TW"),
        ("es-419", "es-419"),
        ("sr-Latn-RS", "sr-Latn-RS"),
    ],
)
def test_known_locales_are_written_as_notices_look_them_up(text, normal):
    assert normal_locale(text) == (normal, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("xx-YY", "not a locale Babel knows (e.g. en, de_DE, zh-Hant)"),
        ("en-ZZ", "not a locale Babel knows (e.g. en, de_DE, zh-Hant)"),  # Babel would guess en_US
        ("und", "not a locale Babel knows (e.g. en, de_DE, zh-Hant)"),
        ("english", "not a locale (e.g. en, de_DE, zh-Hant)"),
        ("de DE", "not a locale (e.g. en, de_DE, zh-Hant)"),
    ],
)
def test_unknown_locales_are_refused(text, reason):
    assert normal_locale(text) == (None, reason)


def test_tables_show_amounts_in_the_currencys_own_decimals():
    from credit.domain.money import fmt_money

    assert fmt_money(Decimal("1234567.5"), "EUR") == "EUR 1,234,567.50"
    assert fmt_money(Decimal("1234567.4"), "JPY") == "JPY 1,234,567"
    assert fmt_money(Decimal("12.3455"), "KWD") == "KWD 12.346"  # half up, like invoices


@given(
    whole=st.from_regex(r"-?[0-9]{1,6}", fullmatch=True),
    decimals=st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True)),
)
def test_more_than_four_decimals_is_refused_only_where_they_are_not_zeros(whole, decimals):
    raw = whole + decimals
    exact = Decimal(raw) == Decimal(raw).quantize(Decimal("0.0001"))
    if exact:
        assert parse_amount(raw) == Decimal(raw)
    else:
        with pytest.raises(ValueError, match="more than 4 decimal places"):
            parse_amount(raw)
