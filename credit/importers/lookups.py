"""What the planners of several kinds share: customers by code, lookups in chunks, duplicate
keys, and the per-customer totals a file may not push past the safe maximum."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from credit.db.models import Customer
from credit.db.types import Money
from credit.domain.money import MAX_CUSTOMER_TOTAL, ZERO, minor_units
from credit.importers.rows import CODE, Row, Values

# Columns a re-import leaves as they are (not in the file); a planner lists them under this key.
KEEP_STORED = "keep_stored"


def customers_by_code(session: Session, codes: set[str]) -> dict[str, Customer]:
    if not codes:
        return {}
    found = select_in(session, select(Customer), Customer.code, codes)
    return {c.code: c for c in found}


def select_in(session: Session, query: Any, column: Any, values: Any) -> list[Any]:
    """``query`` for rows whose ``column`` is one of ``values``, a few thousand values per
    statement (PostgreSQL takes 65,535 parameters at most; a large file names more)."""
    values = sorted(set(values))
    out: list[Any] = []
    for i in range(0, len(values), 5000):
        out.extend(session.exec(query.where(column.in_(values[i : i + 5000]))))
    return out


def customer_ref(row: Row, known: dict[str, Customer]) -> Customer | None:
    code = row.text("customer_code", pattern=CODE, reason="not a customer code")
    if code is None:
        return None
    customer = known.get(code.upper())
    if customer is None:
        row.fail("customer_code", "no such customer; import customers first")
    return customer


def dupe_check(rows_keys: list[tuple[Row, str | None]], column: str) -> None:
    seen: dict[str, int] = {}
    for row, key in rows_keys:
        if key is None:
            continue
        if key in seen:
            row.fail(column, f"duplicate key; also on row {seen[key]}")
        else:
            seen[key] = row.line


def stored_totals(
    session: Session, model: Any, customer_ids: set[int]
) -> dict[tuple[int, str], Decimal]:
    """Per (customer, currency): the stored amounts of ``model`` added up without sign."""
    totals: dict[tuple[int, str], Decimal] = {}
    ids = sorted(customer_ids)
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        where = col(model.customer_id).in_(chunk)
        try:
            found: list[tuple[Any, ...]] = list(
                session.execute(
                    select(
                        model.customer_id,
                        model.currency,
                        func.sum(func.abs(model.amount), type_=Money),
                    )
                    .where(where)
                    .group_by(model.customer_id, model.currency)
                )
            )
        except OperationalError:
            # SQLite adds integers of 64 bits: amounts stored before these limits existed may
            # not add up there ("integer overflow"); add them up exactly here instead.
            if session.get_bind().dialect.name != "sqlite":
                raise
            sums: dict[tuple[int, str], Decimal] = {}
            for cid, cur, amount in session.execute(
                select(model.customer_id, model.currency, model.amount).where(where)
            ):
                sums[(cid, cur)] = sums.get((cid, cur), ZERO) + abs(amount)
            found = [(cid, cur, total) for (cid, cur), total in sums.items()]
        for cid, cur, total in found:
            totals[(cid, cur)] = Decimal(total or 0)
    return totals


def check_customer_totals(
    session: Session, model: Any, out: list[tuple[Row, Values]], *, key: str, what: str
) -> None:
    """A customer's documents of one kind in one currency, stored and in this file, may add up
    (without sign) to MAX_CUSTOMER_TOTAL at most, so that no sum the product computes for the
    customer can overflow; the row that would take them past it is refused."""
    rows = [
        (r, v)
        for r, v in out
        if v["customer_id"] is not None and v["currency"] and v["amount"] is not None
    ]
    if not rows:
        return
    stored = stored_totals(session, model, {v["customer_id"] for _, v in rows})
    # Rows already imported are counted in what is stored (only customers with stored documents
    # can have them).
    key_column = getattr(model, key)
    with_stored = {cid for cid, _ in stored}
    maybe_stored = {v[key] for _, v in rows if v[key] and v["customer_id"] in with_stored}
    stored_keys = set(select_in(session, select(key_column), key_column, maybe_stored))
    running = dict(stored)
    refused: set[tuple[int, str]] = set()
    for r, v in rows:
        if v[key] in stored_keys:
            continue  # already counted (a re-import)
        which = (v["customer_id"], v["currency"])
        running[which] = running.get(which, ZERO) + abs(v["amount"])
        if running[which] > MAX_CUSTOMER_TOTAL and which not in refused:
            refused.add(which)
            code = r.values.get("customer_code", "").strip().upper()
            cur = v["currency"]
            r.fail(
                "amount",
                f"takes customer {code}'s {what} in {cur} to {shown(running[which], cur)} "
                f"(already stored {shown(stored.get(which, ZERO), cur)}); at most "
                f"{MAX_CUSTOMER_TOTAL:,} per customer and currency, counted without sign, can be "
                "added up safely",
            )


def shown(value: Decimal, currency: str) -> str:
    """1234.5000 EUR -> '1,234.50': the currency's decimals, unless that would hide some."""
    exact = Decimal(1).scaleb(-minor_units(currency))
    return f"{value.quantize(exact) if value == value.quantize(exact) else value:,}"
