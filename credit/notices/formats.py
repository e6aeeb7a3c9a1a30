"""Filters notices and pages share: money, dates and plurals by locale (Babel), times by zone."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision
from jinja2 import Environment, pass_context

from credit.domain.money import money


@lru_cache(maxsize=64)
def babel_locale(locale: str) -> Locale:
    """``en``, ``de_DE``, ``zh-Hant`` -> a Babel locale (unknown ones fall back to English)."""
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


# The variables of the notice being rendered. The helpers a notice imports (its macros) are
# shared by every notice: imported without the notice's context, Jinja builds each module once
# instead of once per import of every notice. Their |money, |date and |plural take the notice's
# locale (and the language its template is written in) from here.
_RENDERING: ContextVar[Mapping[str, Any] | None] = ContextVar("notice_rendering", default=None)
_MISSING = object()


@contextmanager
def rendering(variables: Mapping[str, Any]) -> Iterator[None]:
    """Within: the filters take what a template's own context lacks from ``variables``."""
    token = _RENDERING.set(variables)
    try:
        yield
    finally:
        _RENDERING.reset(token)


def _var(ctx: Any, name: str, default: Any = None) -> Any:
    """``name`` from the template's context, else from the notice being rendered."""
    value = ctx.get(name, _MISSING)
    if value is _MISSING:
        notice = _RENDERING.get()
        return default if notice is None else notice.get(name, default)
    return value


@pass_context
def money_filter(ctx: Any, value: Decimal | str | None, currency: str = "") -> str:
    """An amount as the notice's locale writes it (Babel), exact from the Decimal."""
    return money_text(value, currency, _var(ctx, "locale", "en"))


def money_text(value: Decimal | str | None, currency: str, locale: str) -> str:
    """An amount as ``locale`` writes it (Babel), exact from the Decimal; "-" for none."""
    if value is None:
        return "-"
    if not currency:
        return _formatted_money(str(money(Decimal(value))), "", locale)
    # Rounded half up (as invoices are) to the decimals the letter prints for the currency:
    # KWD 1.2345 is KWD 1.235, not the cents of money() (which gave KWD 1.230).
    amount = Decimal(value).quantize(_currency_unit(currency), rounding=ROUND_HALF_UP)
    return _formatted_money(str(amount), currency, locale)


@lru_cache(maxsize=256)
def _currency_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


# A notice prints each amount several times (text, HTML, the letter's body) and a run prints the
# same dates and counts for every customer: Babel's formatting (pattern and symbol lookups in its
# locale data for every call) is done once per value. The key is the amount's exact text, so
# 0.00 and -0.00, or 1.0 and 1.00, are never taken for one another.
@lru_cache(maxsize=16384)
def _formatted_money(amount: str, currency: str, locale: str) -> str:
    found = _PLAIN_AMOUNT.fullmatch(amount)
    if found is not None:
        sign, whole, fraction = found.group(1), found.group(2), found.group(3) or ""
        digits = whole + fraction
        # -0.00 as Babel writes it (its sign is the Decimal's)
        shape = (
            None
            if sign and not digits.strip("0")
            else _money_shape(
                currency, locale, negative=bool(sign), whole=len(whole), fraction=len(fraction)
            )
        )
        if shape is not None:
            return shape.format(*digits)
    return _babel_money(amount, currency, locale)


def _babel_money(amount: str, currency: str, locale: str) -> str:
    loc = babel_locale(locale)
    if not currency:
        return format_decimal(Decimal(amount), format="#,##0.00", locale=loc)
    return format_currency(Decimal(amount), currency, locale=loc)


# Babel writes two amounts of a currency and locale with the same sign and the same number of
# digits before and after the point alike but for the digits: the same symbol, separators,
# grouping and minus sign in the same places (its pattern depends on nothing else). So each such
# shape is asked of Babel once, with every digit an 8, and a later amount's digits are put where
# the 8s came out (a tenth of Babel's time for each amount a run has not printed yet). A shape
# whose 8s do not come out one for one (a symbol with an 8 in it, a locale's own digits, a
# rounding) is left to Babel for every amount. ``tests/unit/test_notice_formats.py`` compares the
# two over every currency and locale the notices use.
_PLAIN_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")


@lru_cache(maxsize=4096)
def _money_shape(
    currency: str, locale: str, *, negative: bool, whole: int, fraction: int
) -> str | None:
    probe = ("-" if negative else "") + "8" * whole + ("." + "8" * fraction if fraction else "")
    written = _babel_money(probe, currency, locale)
    if written.count("8") != whole + fraction or not 0 < whole <= 30 or fraction > 8:
        return None
    return written.replace("{", "{{").replace("}", "}}").replace("8", "{}")


@pass_context
def plural_filter(
    ctx: Any,
    count: int | Decimal | str | None,
    one: str,
    other: str,
    *,
    number: bool = True,
    **forms: str,
) -> str:
    """A count with its noun by the plural rules of the template's language (Babel's CLDR rules;
    ``template_language``, else the notice's ``locale``):
    ``{{ n|plural("day", "days") }}`` gives "1 day", "2 days"; ``{{ n|plural("Tag", "Tage") }}``
    "1 Tag"; Chinese has one form (``other``). Languages with more forms take them by their CLDR
    names (``few=``, ``many=``, ``two=``, ``zero=``). ``number=false``: the noun alone."""
    if count is None or count == "":
        return "-"
    language = _var(ctx, "template_language") or _var(ctx, "locale", "en")
    if type(count) in (int, str, Decimal):
        form, text = _counted(language, type(count) is int, str(count))
    else:  # another type (a float, a bool): as it is, not kept
        form, text = _count_words(babel_locale(language), count)
    word = {"one": one, "other": other, **forms}.get(form, other)
    return f"{text} {word}" if number else word


@lru_cache(maxsize=4096)
def _counted(language: str, integer: bool, count: str) -> tuple[str, str]:
    """:func:`_count_words` for an int (``integer``) or a Decimal, given by its exact text (a
    count given as text is read as a Decimal)."""
    return _count_words(babel_locale(language), int(count) if integer else Decimal(count))


def _count_words(loc: Locale, count: Any) -> tuple[str, str]:
    """The CLDR plural form of a count and the count as the locale writes it."""
    value: int | Decimal = Decimal(count) if isinstance(count, str) else count
    # Decimal: the type Babel's rules take (an integer reads the same: no fraction digits)
    return loc.plural_form(abs(Decimal(value))), format_decimal(value, locale=loc)


def parse_moment(value: datetime | str) -> datetime | None:
    """A stored time: a datetime (naive ones are UTC), ISO text or "YYYY-MM-DD HH:MM UTC"."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.endswith(" UTC"):
            text = text[:-4] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(value: datetime | str | None, zone: ZoneInfo) -> str:
    """A time as notices show it: in the company's time zone with its abbreviation,
    "2026-12-08 01:41 CET". Text that is not a time is shown as it is."""
    if value is None or value == "":
        return ""
    moment = parse_moment(value)
    if moment is None:
        return str(value)
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or zone.key}"


def install_filters(env: Environment, zone: ZoneInfo) -> None:
    """The filters notices and pages share: ``money``, ``date`` (the locale's), ``plural`` (the
    language's plural rules) and ``datetime`` (in the company's time zone)."""
    env.filters["money"] = money_filter
    env.filters["date"] = date_filter
    env.filters["plural"] = plural_filter
    env.filters["datetime"] = lambda value: local_time(value, zone)


@pass_context
def date_filter(ctx: Any, value: date | str | None, fmt: str = "medium") -> str:
    """A date as the notice's locale writes it (Babel): 30 Nov 2026, 2026年11月30日."""
    return date_text(value, _var(ctx, "locale", "en"), fmt)


def date_text(value: date | str | None, locale: str, fmt: str = "medium") -> str:
    """A date as ``locale`` writes it (Babel); "-" for none."""
    if value is None or value == "":
        return "-"
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    if type(day) is not date:  # a datetime: Babel takes its date, but not as a cache key
        return format_date(day, format=fmt, locale=babel_locale(locale))
    return _formatted_date(day, locale, fmt)


@lru_cache(maxsize=8192)
def _formatted_date(day: date, locale: str, fmt: str) -> str:
    return format_date(day, format=fmt, locale=babel_locale(locale))
