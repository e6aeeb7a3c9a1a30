"""Releases of held orders as the order check uses them, and what an exemption changes in a check.

A release is requested and decided through the approval engine (the subject
:mod:`credit.services.approval_chain.subjects.order_release`); approved, the next check of that
order (``--order REF``) that would hold says ALLOW "released by X on D (approval N)" and uses it
up. A check that would allow anyway leaves the release for later."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit
from credit.db.models_order_control import OrderRelease
from credit.domain import order_control as oc
from credit.services.common import saved_id
from credit.services.receivables.exemptions import latest_exemption


def release_rule(row: OrderRelease) -> oc.Release:
    return oc.Release(
        id=saved_id(row),
        order_ref=row.order_ref,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        decided_on=row.decided_on,
        approved_by=row.approved_by,
        valid_until=row.valid_until,
        used_on=row.used_on,
    )


def releases_of_order(s: Session, customer_id: int, order_ref: str) -> list[OrderRelease]:
    """The order's releases, newest first."""
    return list(
        s.exec(
            select(OrderRelease)
            .where(OrderRelease.customer_id == customer_id, OrderRelease.order_ref == order_ref)
            .order_by(col(OrderRelease.id).desc())
        )
    )


@dataclass
class OrderControls:
    """What an exemption or a release makes of a check: ``allowed_by`` (ALLOW although it would
    hold), ``notes`` (what no longer applies), ``used`` (a release was used up: commit)."""

    allowed_by: str | None = None
    notes: list[str] = field(default_factory=list)
    used: bool = False


def order_controls(  # noqa: PLR0913  # what the check is about, each named
    s: Session,
    *,
    customer_id: int,
    order_ref: str | None,
    amount: Decimal,
    currency: str,
    as_of: date,
    held: bool,
    policy_version: int,
) -> OrderControls:
    """An exemption in force, else (when the check would hold) an approved release of this
    order, allows it; the reasons it would have held for stay listed by the caller."""
    out = OrderControls()
    exemption = latest_exemption(s, customer_id)
    if exemption is not None and oc.exemption_in_force(exemption, as_of):
        out.allowed_by = oc.exemption_line(exemption)
        return out
    if exemption is not None and (note := oc.exemption_note(exemption, as_of)):
        out.notes.append(note)
    ref = (order_ref or "").strip()
    if not ref or not held:
        return out
    rows = releases_of_order(s, customer_id, ref)
    for row in rows:
        rule = release_rule(row)
        why = oc.release_covers(rule, amount=amount, currency=currency, as_of=as_of)
        if why is None and _use(s, row, as_of=as_of, policy_version=policy_version):
            out.allowed_by, out.used = oc.released_line(rule), True
            return out
    if rows:
        latest = release_rule(rows[0])
        out.notes.append(
            oc.release_covers(latest, amount=amount, currency=currency, as_of=as_of)
            or f"release {latest.id} of order {ref} was used just now by another check"
        )
    return out


def _use(s: Session, row: OrderRelease, *, as_of: date, policy_version: int) -> bool:
    """Mark the release used (once: a concurrent check that used it first wins)."""
    done = s.execute(
        update(OrderRelease)
        .where(
            col(OrderRelease.id) == row.id,
            col(OrderRelease.status) == oc.ReleaseStatus.APPROVED,
        )
        .values(status=oc.ReleaseStatus.USED, used_on=as_of)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]  # (a CursorResult: an UPDATE's)
        return False
    s.refresh(row)
    audit.record(
        s,
        actor="system",
        action="order_release.use",
        entity_type="order_release",
        entity_id=saved_id(row),
        before={"status": oc.ReleaseStatus.APPROVED},
        after={"status": row.status, "used_on": as_of, "order_ref": row.order_ref},
        reason=f"order {row.order_ref} checked on {as_of.isoformat()}: released once",
        policy_version=policy_version,
    )
    return True
