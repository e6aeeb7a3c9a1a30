"""Order control beyond the check itself: whether an approved release covers an order, whether an
exemption is in force, and who may exempt a customer (pure rules; the services load the rows).

A release covers one order (its reference) of up to its amount in its currency, once, from the
day it was approved through ``valid_until``; an exemption lets every order of a customer ship on
credit from the day it was granted through ``valid_until``, unless revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from credit.domain.directory import Approver
from credit.domain.money import fmt_money
from credit.domain.policy import PolicyBody


class ReleaseStatus(StrEnum):
    IN_APPROVAL = "in_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    USED = "used"


class ExemptionBasis(StrEnum):
    PREPAID = "prepaid"
    GUARANTEE = "guarantee"
    LETTER_OF_CREDIT = "letter_of_credit"


BASES = tuple(b.value for b in ExemptionBasis)


@dataclass(frozen=True)
class Release:
    """What the rules need of a stored release."""

    id: int
    order_ref: str
    amount: Decimal
    currency: str
    status: str
    decided_on: date | None
    approved_by: str | None
    valid_until: date | None
    used_on: date | None


@dataclass(frozen=True)
class Exemption:
    """What the rules need of a stored exemption."""

    id: int
    basis: str
    valid_from: date
    valid_until: date
    granted_by: str
    revoked_on: date | None
    revoked_by: str | None


def release_covers(r: Release, *, amount: Decimal, currency: str, as_of: date) -> str | None:
    """Why the release does not cover this order on ``as_of``, or None when it does."""
    n = f"release {r.id} of order {r.order_ref}"
    if r.status == ReleaseStatus.IN_APPROVAL:
        return f"{n} awaits approval"
    if r.status == ReleaseStatus.REJECTED:
        return f"{n} was rejected"
    if r.status == ReleaseStatus.USED:
        return f"{n} was used on {r.used_on.isoformat() if r.used_on else '?'} (a release is used once)"
    if r.decided_on is None or r.valid_until is None or as_of < r.decided_on:
        return f"{n} was not approved by {as_of.isoformat()}"
    if as_of > r.valid_until:
        return f"{n} expired on {r.valid_until.isoformat()}"
    if currency != r.currency:
        return f"{n} is in {r.currency}; this order is in {currency}"
    if amount > r.amount:
        return (
            f"{n} covers up to {fmt_money(r.amount, r.currency)}; this order is "
            f"{fmt_money(amount, currency)}"
        )
    return None


def released_line(r: Release) -> str:
    """How a check that uses the release says so."""
    day = r.decided_on.isoformat() if r.decided_on else "?"
    return f"released by {r.approved_by or '?'} on {day} (approval {r.id})"


def exemption_in_force(e: Exemption, as_of: date) -> bool:
    if e.revoked_on is not None and e.revoked_on <= as_of:
        return False
    return e.valid_from <= as_of <= e.valid_until


def exemption_line(e: Exemption) -> str:
    """How a check in force says so: "exempt until D (basis, by whom)"."""
    return f"exempt until {e.valid_until.isoformat()} ({_basis(e.basis)}, by {e.granted_by})"


def exemption_note(e: Exemption, as_of: date) -> str | None:
    """What a check says of the customer's latest exemption when it no longer applies."""
    what = f"({_basis(e.basis)}, by {e.granted_by})"
    if e.revoked_on is not None and e.revoked_on <= as_of:
        return f"exemption {what} revoked on {e.revoked_on.isoformat()} by {e.revoked_by}"
    if as_of > e.valid_until:
        return f"exemption {what} expired on {e.valid_until.isoformat()}"
    return None


def _basis(basis: str) -> str:
    return basis.replace("_", " ")


def authority_roles(policy: PolicyBody) -> list[str]:
    """The roles of the authority matrix, lowest level first."""
    return [lv.role for lv in policy.authority.levels]


def exemption_refusals(
    person: Approver, *, policy: PolicyBody, limit: Decimal | None, limit_known: bool
) -> list[str]:
    """Why ``person`` may not exempt a customer whose credit limit is ``limit`` (in the base
    currency; None: no credit line). An exemption lets orders ship beyond the limit, so it takes
    the authority to approve that limit: a role of the authority matrix and an authority limit
    covering the credit limit. A limit that cannot be valued (no rate) takes the top level's
    role."""
    roles = authority_roles(policy)
    held = [r for r in roles if r in person.roles]
    if not held:
        return [
            f"{person.username} holds none of the authority matrix's roles "
            f"({', '.join(roles)}) and may not exempt a customer from the order check"
        ]
    if not limit_known:
        top = roles[-1]
        if top in person.roles:
            return []
        return [
            f"the customer's limit cannot be valued in {policy.base_currency} (no exchange "
            f"rate): only the top level ({top}) may exempt it"
        ]
    needed = limit or Decimal(0)
    if person.authority_limit < needed:
        return [
            f"{person.username}'s authority limit {person.authority_limit:,.2f} is below the "
            f"customer's credit limit {needed:,.2f} {policy.base_currency}: exempting it "
            "takes the authority for that limit"
        ]
    return []


def exemption_until_refusal(until: date, *, as_of: date, max_days: int) -> str | None:
    """Why ``until`` cannot end an exemption granted on ``as_of``, or None."""
    if until < as_of:
        return f"the end date {until.isoformat()} is before today ({as_of.isoformat()})"
    if (until - as_of).days > max_days:
        return (
            f"the end date {until.isoformat()} is more than {max_days} days ahead (the "
            "policy's orders.max_exemption_days)"
        )
    return None
