"""Money helpers: Decimal only, never float; the limits and the minor units an amount must keep."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
ZERO = Decimal("0")
# Every amount the product stores: below 10^14 with at most four decimals (fits NUMERIC(19,4)
# and, scaled by 10^4, a 64-bit integer on SQLite).
MAX_AMOUNT = Decimal("99999999999999.9999")
# One document (invoice, credit note, payment, order) and an amount typed on the command line:
# below 10^12 (a trillion units of any currency; more than any one trade invoice even in the
# currencies with the smallest unit, VND or IRR).
MAX_DOCUMENT_AMOUNT = Decimal("999999999999.99")
# Everything one customer has in one currency, per kind of document (its invoices with credit
# notes, fees and interest; its payments; its orders), counted without sign: below 10^13. Every
# sum the product computes for a customer (open balance, overdue total, exposure, what a promise
# was paid) adds at most these three and one amount typed on the command line: at most
# 3 x 10^13 + 10^12, which leaves more than 6 x 10^13 below MAX_AMOUNT for the fees and interest
# dunning charges later.
MAX_CUSTOMER_TOTAL = Decimal("9999999999999.99")

_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_UNITS = {digits: Decimal(1).scaleb(-digits) for digits in range(5)}  # 1, 0.1, ... 0.0001


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents the way invoices do (half up)."""
    if isinstance(value, float):  # pragma: no cover - guard against misuse
        raise TypeError("money must never be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_exponent(value: Decimal) -> int:
    """The exponent of a finite Decimal: ``Decimal("1.50")`` has -2 (two decimal places)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N' or 'F': NaN, signalling NaN or infinity
        raise ValueError(f"{value} is not a finite number")
    return exponent


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator to four places, or None when the denominator is zero."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO, rounding=ROUND_HALF_EVEN)


def _why_not_plain(raw: str) -> str:
    """Why ``raw`` is not a plain decimal number (digits, an optional leading '-' and '.')."""
    if "," in raw:
        return "use '.' as the decimal separator and no thousands separator"
    if any(ch.isspace() for ch in raw):
        return "spaces are not accepted inside an amount (no thousands separator)"
    if "'" in raw or "_" in raw:
        return "no thousands separator; write the digits only"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return "not a number"
    if not value.is_finite():
        return "not a finite number"
    if "e" in raw.lower():
        plain = f"{value:f}" if -20 <= value.adjusted() <= 20 else None
        return "exponent notation is not accepted; " + (
            f"write {plain}" if plain else "write the amount out in digits"
        )
    if raw.startswith("+"):
        return f"a leading '+' is not accepted; write {raw[1:]}"
    if raw.lstrip("-").startswith("."):
        return f"write a digit before the '.' ({value:f})"
    if raw.endswith("."):
        return f"write digits after the '.' or leave it out ({raw[:-1]})"
    return "not a number (write the digits 0-9, an optional leading '-' and '.')"


def parse_amount(text: str, *, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    """Parse an amount in plain decimal notation (an optional leading '-', digits, an optional '.'
    and decimals: no exponent, no '+', no spaces or thousands separators); at most four decimals
    and at most ``maximum`` either side of zero. Raise ValueError with the reason."""
    raw = text.strip()
    if raw == "":
        raise ValueError("amount is empty")
    plain = _PLAIN.fullmatch(raw)
    if not plain:
        raise ValueError(_why_not_plain(raw))
    value = Decimal(raw)
    if abs(value) > maximum:
        raise ValueError(f"larger than the maximum amount {maximum:,}")
    # plain notation: the decimals written are minus the exponent (as decimal_exponent says)
    decimals = len(plain.group(1) or ".") - 1
    if decimals > 4 and value != value.quantize(RATIO):
        raise ValueError("more than 4 decimal places")
    return value


@lru_cache(maxsize=1)
def _currencies_in_use() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere today (Babel's CLDR territory data): no
    historic currency (DEM), no fund or unit of account (CLF, XDR), no metal (XAU), no XTS/XXX."""
    from babel.core import get_global

    return frozenset(
        code
        for currencies in get_global("territory_currencies").values()
        for code, _start, end, tender in currencies
        if end is None and tender
    )


@lru_cache(maxsize=512)
def check_currency(code: str) -> str | None:
    """Why ``code`` is not the ISO 4217 code of a currency in use, or None when it is."""
    if not re.fullmatch(r"[A-Z]{3}", code):
        return "not an ISO 4217 currency code (e.g. EUR)"
    if code in _currencies_in_use():
        return None
    from babel.numbers import get_currency_name

    name = get_currency_name(code, locale="en")
    if name == code:
        return "not an ISO 4217 currency code (e.g. EUR)"
    return f"not a currency in use ({code} is '{name}')"


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """The minor units of a currency, ISO 4217's (the ``iso4217`` package carries the standard's
    own list): EUR 2, JPY 0, KWD 3, HUF 2, IQD 3. (CLDR, which Babel formats letters with, drops
    the decimals of a few currencies whose coins are out of use: an invoice of HUF 12,345.50 is
    still a valid amount.) A code the list does not have falls back to CLDR's digits."""
    from iso4217 import Currency

    try:
        exponent = Currency(currency).exponent
    except ValueError:
        exponent = None
    if exponent is not None:
        return int(exponent)
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency)


def check_amount(
    amount: Decimal, currency: str | None, *, maximum: Decimal = MAX_DOCUMENT_AMOUNT
) -> str | None:
    """Why ``amount`` cannot be an amount in ``currency`` (larger than ``maximum``, or more decimals
    than the currency has), or None. Trailing zeros are fine (100.00 JPY is 100 JPY)."""
    if abs(amount) > maximum:
        return f"larger than the maximum amount {maximum:,}"
    if currency is None:
        return None
    digits = minor_units(currency)
    unit = _UNITS.get(digits) or Decimal(1).scaleb(-digits)
    if amount == amount.quantize(unit):
        return None
    if digits == 0:
        return f"{currency} has no decimals: write a whole amount"
    return f"more decimals than {currency} has ({digits})"


def fmt_money(value: Decimal, currency: str) -> str:
    """An amount as tables show it, in the currency's own decimals: 1234567.5 EUR ->
    'EUR 1,234,567.50', 1234567 JPY -> 'JPY 1,234,567' (rounded half up, exact from the Decimal)."""
    try:
        digits = minor_units(currency)
    except (ValueError, LookupError):  # a code Babel does not know: two decimals
        digits = 2
    unit = _UNITS.get(digits) or Decimal(1).scaleb(-digits)
    return f"{currency} {Decimal(value).quantize(unit, rounding=ROUND_HALF_UP):,.{digits}f}"
