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
from credit.services.receivables.dispute_terms import dispute_terms, record_terms
from credit.services.receivables.shared import invoice_by_number, not_in_future, policy_version


class DisputeResult(TypedDict):
    invoice: str
    customer: str
    status: str  # a DisputeStatus


class OpenedDispute(DisputeResult):
    code: str
    owner: str | None
    due_on: str


def open_dispute(  # noqa: PLR0913  # a dispute's parts, each named by the callers
    app: App,
    *,
    invoice_number: str,
    reason: str,
    by: str,
    as_of: date,
    today: date | None = None,
    code: str | None = None,
    owner: str | None = None,
    due: date | None = None,
) -> OpenedDispute:
    """The customer disputes an invoice: it leaves dunning until the dispute is resolved. It is
    opened with a reason code (the policy's default without one), an owner who settles it (none:
    nobody is notified) and a due date (the code's days after ``as_of`` without one)."""
    by, reason = known_user(app, by), required_text(reason, "the dispute's reason")
    not_in_future(as_of, today, "a dispute")
    with app.uow() as uow:
        s = uow.session
        terms = dispute_terms(
            app, app.published_policy(s)[1], code=code, owner=owner, due=due, opened_on=as_of
        )
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
        record_terms(app, s, dispute=d, invoice=inv, customer=customer, terms=terms)
        audit.record(
            s,
            actor=by,
            action="dispute.opened",
            entity_type="invoice",
            entity_id=inv.number,
            before={"disputed": False},
            after={"disputed": True, "customer": customer.code, "amount": inv.amount}
            | {"code": terms.code.code, "owner": terms.owner, "due_on": terms.due_on},
            reason=reason,
            policy_version=policy_version(app, s),
        )
        uow.commit()
        return {
            "invoice": inv.number,
            "customer": customer.code,
            "status": DisputeStatus.DISPUTED,
            "code": terms.code.code,
            "owner": terms.owner,
            "due_on": terms.due_on.isoformat(),
        }


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
