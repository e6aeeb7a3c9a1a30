"""Write-offs at the collections desk: which open items a proposal takes, booking an approved one
as credit notes, and how write-offs are listed. The decision itself goes through the approval
engine (:mod:`credit.services.approval_chain.subjects.write_off`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.models import Customer, Invoice
from credit.db.models_plans import WriteOff, WriteOffItem
from credit.domain.money import ZERO, fmt_money, money
from credit.services.common import ServiceError, get_customer, saved_id
from credit.services.ledger import open_items

IN_APPROVAL, APPROVED, REJECTED = "in_approval", "approved", "rejected"


def chosen_items(
    s: Session, customer: Customer, *, currency: str, numbers: Sequence[str], as_of: date
) -> list[tuple[Invoice, Decimal]]:
    """The customer's open items in ``currency`` a write-off takes, with what is open on each:
    the invoices named, else every item with something open (invoices, fees, interest)."""
    items = open_items(s, saved_id(customer), as_of)
    if not re.fullmatch(r"[A-Z]{3}", currency) or not any(
        i.open_amount > 0 for i in items.get(currency, [])
    ):
        owed = sorted(c for c, its in items.items() if any(i.open_amount > 0 for i in its))
        raise ServiceError(
            f"{customer.code} owes nothing in {currency!r}"
            + (f" (open items in {', '.join(owed)})" if owed else "")
        )
    open_by_number = {i.number: i.open_amount for i in items[currency] if i.open_amount > 0}
    wanted = [n.strip() for n in numbers] or sorted(open_by_number)
    if len(set(wanted)) != len(wanted):
        raise ServiceError("an invoice is named twice")
    for n in wanted:
        if n not in open_by_number:
            raise ServiceError(
                f"invoice {n!r} is not an open item of {customer.code} in {currency} on "
                f"{as_of.isoformat()}"
            )
    rows = {
        i.number: i
        for i in s.exec(
            select(Invoice).where(
                Invoice.customer_id == customer.id, col(Invoice.number).in_(wanted)
            )
        )
    }
    _not_proposed_twice(s, [saved_id(rows[n]) for n in wanted], rows)
    return [(rows[n], open_by_number[n]) for n in wanted]


def _not_proposed_twice(s: Session, ids: list[int], rows: dict[str, Invoice]) -> None:
    pending = s.exec(
        select(WriteOffItem.invoice_id, WriteOff.id)
        .join(WriteOff, col(WriteOff.id) == col(WriteOffItem.write_off_id))
        .where(col(WriteOffItem.invoice_id).in_(ids), WriteOff.status == IN_APPROVAL)
    ).first()
    if pending is not None:
        number = next(n for n, r in rows.items() if r.id == pending[0])
        raise ServiceError(f"invoice {number} is already in write-off {pending[1]} (in approval)")


def book(s: Session, wo: WriteOff, *, as_of: date, by: str) -> Decimal:
    """Book an approved write-off: one credit note per invoice against it, for what the proposal
    named or what is still open now if less (a payment since); the total booked."""
    customer = s.get(Customer, wo.customer_id)
    assert customer is not None
    still_open = {
        i.number: i.open_amount for i in open_items(s, wo.customer_id, as_of).get(wo.currency, [])
    }
    total = ZERO
    lines: list[dict[str, Any]] = []
    before: dict[str, Decimal] = {}
    for seq, (item, inv) in enumerate(_items_with_invoices(s, wo), start=1):
        amount = min(item.amount, max(still_open.get(inv.number, ZERO), ZERO))
        if amount <= 0:
            continue
        note = Invoice(
            customer_id=wo.customer_id,
            number=f"WO-{wo.id}-{seq}",
            issue_date=as_of,
            due_date=as_of,
            amount=-money(amount),
            currency=wo.currency,
            applies_to_id=inv.id,
        )
        s.add(note)
        s.flush()
        item.credit_note_id = note.id
        s.add(item)
        total += amount
        before[inv.number] = still_open[inv.number]
        lines.append({"invoice": inv.number, "credit_note": note.number, "amount": money(amount)})
    wo.booked = money(total)
    s.add(wo)
    audit.record(
        s,
        actor=by,
        action="write_off.booked",
        entity_type="customer",
        entity_id=customer.code,
        before={"open": before},
        after={"write_off": wo.id, "currency": wo.currency, "booked": wo.booked, "lines": lines},
        reason=f"write-off {wo.id} approved: {wo.reason}",
        policy_version=wo.policy_version,
    )
    return total


def _items_with_invoices(s: Session, wo: WriteOff) -> list[tuple[WriteOffItem, Invoice]]:
    return list(
        s.exec(
            select(WriteOffItem, Invoice)
            .join(Invoice, col(Invoice.id) == col(WriteOffItem.invoice_id))
            .where(WriteOffItem.write_off_id == wo.id)
            .order_by(col(WriteOffItem.id))
        )
    )


def write_off_view(s: Session, wo: WriteOff) -> dict[str, Any]:
    """What notices, the list and the approvers show of a write-off."""
    customer = s.get(Customer, wo.customer_id)
    assert customer is not None
    items = []
    for item, inv in _items_with_invoices(s, wo):
        note = s.get(Invoice, item.credit_note_id) if item.credit_note_id else None
        items.append(
            {
                "invoice": inv.number,
                "due_date": inv.due_date.isoformat(),
                "amount": str(money(item.amount)),
                "credit_note": note.number if note else None,
            }
        )
    return {
        "id": wo.id,
        "customer": customer.code,
        "customer_name": customer.name,
        "currency": wo.currency,
        "amount": str(money(wo.amount)),
        "amount_text": fmt_money(wo.amount, wo.currency),
        "base_amount": None if wo.base_amount is None else str(money(wo.base_amount)),
        "reason": wo.reason,
        "proposed_by": wo.proposed_by,
        "proposed_on": wo.proposed_on.isoformat(),
        "status": wo.status,
        "decided_on": wo.decided_on.isoformat() if wo.decided_on else None,
        "booked": None if wo.booked is None else str(money(wo.booked)),
        "items": items,
    }


def list_write_offs(
    app: App, *, customer_code: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Write-offs, newest first (of one customer, in one status)."""
    if status is not None and status not in (IN_APPROVAL, APPROVED, REJECTED):
        raise ServiceError(f"status {status!r} is not one of {IN_APPROVAL}, {APPROVED}, {REJECTED}")
    with app.uow(read_only=True) as uow:
        s = uow.session
        query = select(WriteOff).order_by(col(WriteOff.id).desc())
        if customer_code is not None:
            query = query.where(WriteOff.customer_id == saved_id(get_customer(s, customer_code)))
        if status is not None:
            query = query.where(WriteOff.status == status)
        return [write_off_view(s, wo) for wo in s.exec(query)]
