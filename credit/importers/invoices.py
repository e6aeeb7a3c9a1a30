"""Planning an invoices file: invoices and credit notes, a credit note applying to an invoice
already imported or earlier in the file."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from credit.db.models import Invoice
from credit.importers.lookups import (
    check_customer_totals,
    customer_ref,
    customers_by_code,
    dupe_check,
    select_in,
)
from credit.importers.rows import CODE, Row, Values


def plan_invoices(session: Session, rows: list[Row], ctx: Values) -> list[tuple[str, Values, Row]]:
    known = customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    out = []
    for r in rows:
        customer = customer_ref(r, known)
        v: Values = {
            "customer_id": customer.id if customer else None,
            "number": r.text("number", pattern=CODE, max_len=60, reason="not a document number"),
            "issue_date": r.day("issue_date", today=ctx["today"], what="issued"),
            "due_date": r.day("due_date"),
            "amount": r.amount("amount", non_zero=True),
            "currency": r.currency(),
        }
        r.units("amount", v["amount"], v["currency"])
        if v["issue_date"] and v["due_date"] and v["due_date"] < v["issue_date"]:
            r.fail("due_date", f"before the issue date {v['issue_date']}")
        out.append((r, v))
    dupe_check([(r, v["number"]) for r, v in out], "number")
    check_customer_totals(session, Invoice, out, key="number", what="invoices")
    # A credit note may name the invoice it reduces (applies_to): already imported or earlier in
    # this file, same customer and currency. Without it, it is a credit on account.
    in_file = {v["number"]: v for _, v in out if v["number"]}
    targets = {r.values.get("applies_to", "").strip() for r, _ in out} - {""}
    stored = {
        i.number: i for i in select_in(session, select(Invoice), col(Invoice.number), targets)
    }
    for r, v in out:
        ref = r.text("applies_to", pattern=CODE, max_len=60, reason="not a document number")
        if not ref:
            continue
        target: Any = stored.get(ref) or in_file.get(ref)
        if v["amount"] is not None and v["amount"] > 0:
            r.fail("applies_to", "only a credit note (negative amount) applies to an invoice", ref)
        elif target is None:
            r.fail("applies_to", "no such invoice (import it first or earlier in this file)", ref)
        else:
            t_customer = (
                target.customer_id if hasattr(target, "customer_id") else target["customer_id"]
            )
            t_currency = target.currency if hasattr(target, "currency") else target["currency"]
            t_amount = target.amount if hasattr(target, "amount") else target["amount"]
            if t_customer != v["customer_id"]:
                r.fail("applies_to", "belongs to another customer", ref)
            elif t_currency != v["currency"]:
                r.fail(
                    "applies_to", f"invoice is in {t_currency}, credit note in {v['currency']}", ref
                )
            elif t_amount is not None and t_amount < 0:
                r.fail("applies_to", "is itself a credit note", ref)
            else:
                v["applies_to_number"] = ref
    return [(v["number"], v, r) for r, v in out]
