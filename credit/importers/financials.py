"""Planning a financial statements file: one statement per customer and period end."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from credit.db.models import FinancialStatement
from credit.domain.money import MAX_AMOUNT
from credit.domain.records import STATEMENT_AMOUNTS
from credit.importers.lookups import (
    KEEP_STORED,
    customer_ref,
    customers_by_code,
    dupe_check,
    select_in,
)
from credit.importers.rows import Row, Values


def plan_financials(
    session: Session, rows: list[Row], ctx: Values
) -> list[tuple[str, Values, Row]]:
    known = customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    out = []
    # A file without the currency column leaves the currency of a statement already imported as
    # it is; a new statement, or an empty cell, is in the customer's currency.
    has_currency = bool(rows) and "currency" in rows[0].values
    for r in rows:
        customer = customer_ref(r, known)
        currency = r.currency() if has_currency else None
        if currency is None and not r.values.get("currency", "").strip():
            currency = customer.currency if customer else None
        v: Values = {
            "customer_id": customer.id if customer else None,
            "period_end": r.day("period_end"),
            "currency": currency,
        }
        if not has_currency:
            v[KEEP_STORED] = ("currency",)
        # A statement's amounts are never added to other amounts, only compared and scaled: they
        # may reach the column's maximum (a large company's statements in yen run to 10^13).
        for column in STATEMENT_AMOUNTS:
            non_negative = column in {
                "total_assets",
                "total_liabilities",
                "current_assets",
                "current_liabilities",
            }
            v[column] = r.amount(column, non_negative=non_negative, maximum=MAX_AMOUNT)
            r.units(column, v[column], currency)
        if (
            v["current_assets"] is not None
            and v["total_assets"] is not None
            and v["current_assets"] > v["total_assets"]
        ):
            r.fail("current_assets", f"larger than total_assets {v['total_assets']}")
        if (
            v["current_liabilities"] is not None
            and v["total_liabilities"] is not None
            and v["current_liabilities"] > v["total_liabilities"]
        ):
            r.fail("current_liabilities", f"larger than total_liabilities {v['total_liabilities']}")
        if (
            v["period_end"] is not None
            and ctx["today"] is not None
            and v["period_end"] > ctx["today"]
        ):
            r.fail("period_end", f"the period ends in the future (today is {ctx['today']})")
        key = f"{r.values.get('customer_code', '').strip().upper()}@{v['period_end']}"
        out.append((r, key, v))
    dupe_check([(r, k) for r, k, _ in out], "period_end")
    return [(k, v, r) for r, k, v in out]


def statements_lookup(session: Session, keys: list[str]) -> dict[str, Any]:
    codes = {k.split("@")[0] for k in keys}
    customers = customers_by_code(session, codes)
    by_id = {c.id: c.code for c in customers.values()}
    found = {}
    if by_id:
        for st in select_in(
            session, select(FinancialStatement), col(FinancialStatement.customer_id), by_id
        ):
            found[f"{by_id[st.customer_id]}@{st.period_end}"] = st
    return found
