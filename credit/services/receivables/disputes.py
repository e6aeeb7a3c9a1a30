"""Disputes: an invoice a customer contests leaves dunning until it is resolved."""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from sqlmodel import col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import (
    Customer,
    Dispute,
)
from credit.domain.receivables_status import (
    DisputeStatus,
)
from credit.services.common import ServiceError, known_user, required_text, saved_id
from credit.services.receivables.shared import invoice_by_number, not_in_future, policy_version


class DisputeResult(TypedDict):
    invoice: str
    customer: str
    status: str  # a DisputeStatus


def open_dispute(
    app: App,
    *,
    invoice_number: str,
    reason: str,
    by: str,
    as_of: date,
    today: date | None = None,
) -> DisputeResult:
    """The customer disputes an invoice: it leaves dunning until the dispute is resolved."""
    by, reason = known_user(app, by), required_text(reason, "the dispute's reason")
    not_in_future(as_of, today, "a dispute")
    with app.uow() as uow:
        s = uow.session
        inv = invoice_by_number(s, invoice_number)
        if inv.amount <= 0:
            raise ServiceError(f"{inv.number} is a credit note: only invoices can be disputed")
        lock_customer(s, inv.customer_id)
        existing = s.exec(
            select(Dispute).where(Dispute.invoice_id == inv.id, col(Dispute.resolved_on).is_(None))
        ).first()
        if existing is not None:
            raise ServiceError(
                f"{inv.number} is already disputed since {existing.opened_on.isoformat()} "
                f"({existing.opened_by}: {existing.reason})"
            )
        customer = s.get(Customer, inv.customer_id)
        assert customer is not None
        d = Dispute(
            invoice_id=saved_id(inv),
            customer_id=inv.customer_id,
            reason=reason,
            opened_by=by,
            opened_on=as_of,
        )
        s.add(d)
        s.flush()
        audit.record(
            s,
            actor=by,
            action="dispute.opened",
            entity_type="invoice",
            entity_id=inv.number,
            before={"disputed": False},
            after={"disputed": True, "customer": customer.code, "amount": inv.amount},
            reason=reason,
            policy_version=policy_version(app, s),
        )
        uow.commit()
        return {"invoice": inv.number, "customer": customer.code, "status": DisputeStatus.DISPUTED}


def resolve_dispute(
    app: App, *, invoice_number: str, by: str, note: str, as_of: date, today: date | None = None
) -> DisputeResult:
    """The dispute is settled: what is still open on the invoice is dunned again (a credit note
    issued for it is imported as usual and reduces it)."""
    by, note = known_user(app, by), required_text(note, "how the dispute was resolved")
    not_in_future(as_of, today, "a dispute's resolution")
    with app.uow() as uow:
        s = uow.session
        inv = invoice_by_number(s, invoice_number)
        lock_customer(s, inv.customer_id)
        d = s.exec(
            select(Dispute).where(Dispute.invoice_id == inv.id, col(Dispute.resolved_on).is_(None))
        ).first()
        if d is None:
            raise ServiceError(f"{inv.number} has no open dispute")
        if as_of < d.opened_on:
            raise ServiceError(
                f"the resolution date {as_of.isoformat()} is before the dispute was opened "
                f"({d.opened_on.isoformat()})"
            )
        d.resolved_on, d.resolved_by, d.resolution = as_of, by, note
        s.add(d)
        customer = s.get(Customer, inv.customer_id)
        assert customer is not None
        audit.record(
            s,
            actor=by,
            action="dispute.resolved",
            entity_type="invoice",
            entity_id=inv.number,
            before={"disputed": True, "reason": d.reason},
            after={"disputed": False, "customer": customer.code},
            reason=note,
            policy_version=policy_version(app, s),
        )
        uow.commit()
        return {"invoice": inv.number, "customer": customer.code, "status": DisputeStatus.RESOLVED}
