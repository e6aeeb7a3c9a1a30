"""Planning an exchange rates file: one rate to the base currency per currency and day."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from credit.db.models import FxRate
from credit.domain.money import decimal_exponent
from credit.importers.lookups import dupe_check
from credit.importers.rows import Row, Values


def plan_fx_rates(_session: Session, rows: list[Row], ctx: Values) -> list[tuple[str, Values, Row]]:
    out = []
    for r in rows:
        v: Values = {
            "currency": r.currency(),
            "rate_date": r.day("rate_date"),
            "rate_to_base": None,
        }
        raw = r.text("rate_to_base", max_len=40)
        if raw is not None:
            try:
                rate = Decimal(raw)
                if not rate.is_finite() or rate <= 0:
                    raise ValueError("must be a positive number")
                if decimal_exponent(rate) < -10:
                    raise ValueError("more than 10 decimal places")
                if rate >= Decimal("1000000000000"):
                    raise ValueError("implausibly large (at most 999,999,999,999.9999999999)")
                v["rate_to_base"] = rate
            except (ArithmeticError, ValueError) as exc:
                reason = str(exc) if isinstance(exc, ValueError) else "not a number"
                r.fail(
                    "rate_to_base", reason if "," not in raw else "use '.' as the decimal separator"
                )
        if v["currency"] and ctx["base_currency"] and v["currency"] == ctx["base_currency"]:
            r.fail("currency", f"{v['currency']} is the base currency; it needs no rate")
        if v["rate_date"] and ctx["today"] and v["rate_date"] > ctx["today"]:
            r.fail("rate_date", f"in the future (today is {ctx['today']})")
        out.append((r, f"{v['currency']}@{v['rate_date']}", v))
    dupe_check([(r, k) for r, k, _ in out], "rate_date")
    return [(k, v, r) for r, k, v in out]


def rates_lookup(session: Session, keys: list[str]) -> dict[str, Any]:
    currencies = {k.split("@")[0] for k in keys}
    return {
        f"{x.currency}@{x.rate_date}": x
        for x in session.exec(select(FxRate).where(col(FxRate.currency).in_(currencies)))
    }
