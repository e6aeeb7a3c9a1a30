"""Exemptions from the order check: until a date, every order check of the customer says ALLOW
(prepaid, guaranteed, a letter of credit), still showing what it would have held for.

Granting one takes the authority to approve the customer's credit limit (a role of the authority
matrix and an authority limit covering the limit in the base currency); revoking one takes a role
of the authority matrix. Both are audited; a new exemption ends the one in force."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import CreditLine, Customer
from credit.db.models_order_control import OrderExemption
from credit.domain import order_control as oc
from credit.domain.policy import PolicyBody
from credit.services.common import (
    ServiceError,
    get_customer,
    known_person,
    required_text,
    saved_id,
)
from credit.services.ledger import converter
from credit.services.receivables.shared import not_in_future


class ExemptionResult(TypedDict):
    customer: str
    id: int
    basis: str
    valid_from: str
    valid_until: str
    granted_by: str
    status: str  # in_force | revoked
    ended: int | None  # the exemption this one replaced, or the one revoked


def exempt_customer(  # noqa: PLR0913  # an exemption's parts, each named by the callers
    app: App,
    *,
    customer_code: str,
    until: date,
    basis: str,
    reason: str,
    by: str,
    as_of: date,
    today: date | None = None,
) -> ExemptionResult:
    """Exempt a customer from the order check from ``as_of`` through ``until``: every check says
    ALLOW "exempt until D (basis, by whom)" while still showing the figures and the reasons it
    would have held for."""
    person = known_person(app, by)
    not_in_future(as_of, today, "an exemption")
    basis = (basis or "").strip().lower()
    if basis not in oc.BASES:
        raise ServiceError(f"the basis {basis!r} is not one of {', '.join(oc.BASES)}")
    reason = required_text(reason, "the reason")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        version, policy = app.published_policy(s)
        why = oc.exemption_until_refusal(
            until, as_of=as_of, max_days=policy.orders.max_exemption_days
        )
        if why:
            raise ServiceError(why)
        lock_customer(s, saved_id(customer))
        limit, known = _limit_in_base(s, policy, customer, as_of)
        refusals = oc.exemption_refusals(person, policy=policy, limit=limit, limit_known=known)
        if refusals:
            raise ServiceError("; ".join(refusals))
        current = _in_force(s, saved_id(customer), as_of)
        row = OrderExemption(
            customer_id=saved_id(customer),
            basis=basis,
            valid_from=as_of,
            valid_until=until,
            reason=reason,
            granted_by=person.username,
            policy_version=version,
        )
        s.add(row)
        s.flush()
        if current is not None:
            _end(s, current, by=person.username, on=as_of, why=f"replaced by exemption {row.id}")
        audit.record(
            s,
            actor=person.username,
            action="order_exemption.grant",
            entity_type="customer",
            entity_id=customer.code,
            before=_audit_view(current) if current else None,
            after=_audit_view(row),
            reason=reason,
            policy_version=version,
        )
        uow.commit()
        return _result(customer, row, ended=current.id if current else None)


def revoke_exemption(
    app: App,
    *,
    customer_code: str,
    reason: str,
    by: str,
    as_of: date,
    today: date | None = None,
) -> ExemptionResult:
    """End the customer's exemption in force on ``as_of``: from then on its orders are checked."""
    person = known_person(app, by)
    not_in_future(as_of, today, "a revocation")
    reason = required_text(reason, "the reason")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        version, policy = app.published_policy(s)
        roles = oc.authority_roles(policy)
        if not set(roles) & set(person.roles):
            raise ServiceError(
                f"{person.username} holds none of the authority matrix's roles "
                f"({', '.join(roles)}) and may not revoke an exemption"
            )
        lock_customer(s, saved_id(customer))
        current = _in_force(s, saved_id(customer), as_of)
        if current is None:
            raise ServiceError(
                f"{customer.code} has no exemption in force on {as_of.isoformat()}: nothing to "
                "revoke"
            )
        before = _audit_view(current)
        _end(s, current, by=person.username, on=as_of, why=reason)
        audit.record(
            s,
            actor=person.username,
            action="order_exemption.revoke",
            entity_type="customer",
            entity_id=customer.code,
            before=before,
            after=_audit_view(current),
            reason=reason,
            policy_version=version,
        )
        uow.commit()
        return _result(customer, current, ended=current.id)


def latest_exemption(s: Session, customer_id: int) -> oc.Exemption | None:
    """The customer's most recent exemption (in force, expired or revoked), as the rules see it."""
    row = s.exec(
        select(OrderExemption)
        .where(OrderExemption.customer_id == customer_id)
        .order_by(col(OrderExemption.id).desc())
    ).first()
    if row is None:
        return None
    return oc.Exemption(
        id=saved_id(row),
        basis=row.basis,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        granted_by=row.granted_by,
        revoked_on=row.revoked_on,
        revoked_by=row.revoked_by,
    )


def _in_force(s: Session, customer_id: int, as_of: date) -> OrderExemption | None:
    latest = latest_exemption(s, customer_id)
    if latest is None or not oc.exemption_in_force(latest, as_of):
        return None
    return s.get(OrderExemption, latest.id)


def _end(s: Session, row: OrderExemption, *, by: str, on: date, why: str) -> None:
    row.revoked_on, row.revoked_by, row.revoke_reason = on, by, why
    s.add(row)
    s.flush()


def _limit_in_base(
    s: Session, policy: PolicyBody, customer: Customer, as_of: date
) -> tuple[Decimal | None, bool]:
    """The customer's credit limit in the base currency (None without a line) and whether it
    could be valued."""
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    if line is None:
        return None, True
    valued = converter(s, policy.base_currency, policy.base_currency, as_of)(
        line.limit, line.currency
    )
    return valued, valued is not None


def _audit_view(row: OrderExemption) -> dict[str, object]:
    return {
        "exemption": row.id,
        "basis": row.basis,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "granted_by": row.granted_by,
        "revoked_on": row.revoked_on,
        "revoked_by": row.revoked_by,
    }


def _result(customer: Customer, row: OrderExemption, *, ended: int | None) -> ExemptionResult:
    return {
        "customer": customer.code,
        "id": saved_id(row),
        "basis": row.basis,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "granted_by": row.granted_by,
        "status": "revoked" if row.revoked_on is not None else "in_force",
        "ended": ended,
    }
