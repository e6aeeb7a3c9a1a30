"""Planning a sales orders file."""

from __future__ import annotations

from sqlmodel import Session

from credit.db.models import SalesOrder
from credit.domain.receivables_status import OrderStatus
from credit.importers.lookups import (
    check_customer_totals,
    customer_ref,
    customers_by_code,
    dupe_check,
)
from credit.importers.rows import CODE, Row, Values


def plan_orders(session: Session, rows: list[Row], ctx: Values) -> list[tuple[str, Values, Row]]:
    known = customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    out = []
    for r in rows:
        customer = customer_ref(r, known)
        status = (r.text("status") or OrderStatus.OPEN).lower()
        if status not in tuple(OrderStatus):
            r.fail("status", "not one of open, invoiced, cancelled", value=status)
        v: Values = {
            "customer_id": customer.id if customer else None,
            "number": r.text("number", pattern=CODE, max_len=60, reason="not an order number"),
            # The day the order was taken: a date to come is a plan, not an order.
            "order_date": r.day("order_date", today=ctx["today"], what="ordered"),
            "amount": r.amount("amount", positive=True),
            "currency": r.currency(),
            "status": status,
        }
        r.units("amount", v["amount"], v["currency"])
        out.append((r, v))
    dupe_check([(r, v["number"]) for r, v in out], "number")
    check_customer_totals(session, SalesOrder, out, key="number", what="orders")
    return [(v["number"], v, r) for r, v in out]
