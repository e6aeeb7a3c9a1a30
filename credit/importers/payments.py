"""Planning a payments file: a payment may name the invoice it pays (same customer, currency)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from credit.db.models import Invoice, Payment
from credit.domain.receivables_status import PaymentStatus
from credit.importers.lookups import (
    check_customer_totals,
    customer_ref,
    customers_by_code,
    dupe_check,
    select_in,
)
from credit.importers.rows import CODE, Row, Values


def plan_payments(session: Session, rows: list[Row], ctx: Values) -> list[tuple[str, Values, Row]]:
    known = customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    numbers = {r.values.get("invoice_number", "").strip() for r in rows} - {""}
    invoices = (
        {i.number: i for i in select_in(session, select(Invoice), col(Invoice.number), numbers)}
        if numbers
        else {}
    )
    out = []
    for r in rows:
        customer = customer_ref(r, known)
        v: Values = {
            "customer_id": customer.id if customer else None,
            "reference": r.text(
                "reference", pattern=CODE, max_len=60, reason="not a payment reference"
            ),
            "paid_on": r.day("paid_on", today=ctx["today"], what="paid"),
            "amount": r.amount("amount", positive=True),
            "currency": r.currency(),
            "method": r.text(
                "method",
                pattern=r"[a-z_]{2,30}",
                max_len=30,
                reason="lower-case word such as bank_transfer",
            ),
            "status": r.text(
                "status",
                pattern=f"{PaymentStatus.RECEIVED}|{PaymentStatus.BOUNCED}",  # reversed: matching's
                max_len=20,
                reason="received or bounced",
            )
            or PaymentStatus.RECEIVED.value,
            "invoice_id": None,
        }
        number = r.text("invoice_number", pattern=CODE, max_len=60, reason="not a document number")
        if number:
            inv = invoices.get(number)
            if inv is None:
                r.fail("invoice_number", "no such invoice; import invoices first")
            elif customer and inv.customer_id != customer.id:
                r.fail("invoice_number", f"belongs to another customer, not {customer.code}")
            elif v["currency"] and inv.currency != v["currency"]:
                r.fail(
                    "invoice_number", f"invoice is in {inv.currency}, payment in {v['currency']}"
                )
            else:
                v["invoice_id"] = inv.id
        r.units("amount", v["amount"], v["currency"])
        out.append((r, v))
    dupe_check([(r, v["reference"]) for r, v in out], "reference")
    check_customer_totals(session, Payment, out, key="reference", what="payments")
    if rows and "status" not in rows[0].values:
        for _, v in out:
            v.pop("status", None)  # a file without the column leaves a stored status alone
    return [(v["reference"], v, r) for r, v in out]
