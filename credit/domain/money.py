"""Money helpers: Decimal only, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
ZERO = Decimal("0")
# Every amount the product stores: below 10^14 with at most four decimals (fits NUMERIC(19,4)
# and, scaled by 10^4, a 64-bit integer on SQLite).
MAX_AMOUNT = Decimal("99999999999999.9999")


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents the way invoices do (half up)."""
    if isinstance(value, float):  # pragma: no cover - guard against misuse
        raise TypeError("money must never be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator to four places, or None when the denominator is zero."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO, rounding=ROUND_HALF_EVEN)


def parse_amount(text: str) -> Decimal:
    """Parse an amount written with a '.' decimal separator; raise ValueError with the reason."""
    raw = text.strip()
    if raw == "":
        raise ValueError("amount is empty")
    if "," in raw:
        raise ValueError("use '.' as the decimal separator and no thousands separator")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError("more than 4 decimal places")
    if abs(value) > MAX_AMOUNT:
        raise ValueError(f"larger than the maximum amount {MAX_AMOUNT}")
    return value


def minor_units(currency: str) -> int:
    """Decimal places of a currency (ISO 4217 via Babel): EUR 2, JPY 0, KWD 3."""
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency)


def fmt_money(value: Decimal, currency: str) -> str:
    """1234567.5 EUR -> 'EUR 1,234,567.50'; JPY 1234567 -> 'JPY 1,234,567' (the currency's own
    minor units, rounded half up)."""
    digits = minor_units(currency)
    exact = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{currency} {exact:,.{digits}f}"
