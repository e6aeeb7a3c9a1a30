"""What a collector or credit manager changes on a case besides the receivables services: a
credit hold placed or released by hand where the policy allows it (the policy's levels with
``action: credit_hold`` hold the line; a collections run releases only a hold it placed itself,
``hold_reason`` ``dunning:…``, so a hold placed here stays until someone releases it here), cases
assigned to collectors, and the checks that a form names the customer's own invoice or notice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypedDict

from sqlmodel import select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import CollectionCase, CreditLine, Invoice, LineStatus, Notice, utcnow
from credit.domain import workspace
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import CaseStatus
from credit.services.casework.shared import (
    DUNNING_HOLD,
    HOLD_REASON_MAX,
    MANUAL_HOLD,
    WORKS_CASES,
    View,
    currency_views,
    roles_under,
)
from credit.services.common import (
    ServiceError,
    get_customer,
    known_person,
    known_user,
    required_text,
    saved_id,
)
from credit.services.ledger import open_items_many
from credit.services.views import line_view


def place_refusal(
    policy: PolicyBody, line: CreditLine | None, currencies: list[View]
) -> str | None:
    """Why the line may not be put on hold by hand, or None."""
    if not any(lv.action == DunningActionKind.CREDIT_HOLD for lv in policy.dunning.levels):
        return "the policy puts no credit line on hold (no dunning level has action credit_hold)"
    if line is None:
        return "there is no credit line to hold (the customer buys on prepayment only)"
    if line.status != LineStatus.ACTIVE:
        return f"the credit line is {line.status.replace('_', ' ')} already"
    if not any(c["overdue_total"] > policy.dunning.tolerance for c in currencies):
        return (
            f"nothing is overdue beyond the policy's tolerance ({policy.dunning.tolerance}, "
            "disputed invoices left out): the policy holds a line only for overdue debt"
        )
    return None


def release_refusal(line: CreditLine | None, *, manager: bool) -> str | None:
    if line is None or line.status != LineStatus.ON_HOLD:
        return "the credit line is not on hold"
    if (line.hold_reason or "").startswith(DUNNING_HOLD) and not manager:
        return (
            f"the collections run put the line on hold ({line.hold_reason}); only a credit "
            "manager may release it before the overdue balance is paid (the run releases it then)"
        )
    return None


class HoldResult(TypedDict):
    customer: str
    status: str  # the line's LineStatus after
    hold_reason: str


def _change_line(  # noqa: PLR0913  # what a change of the line needs, each named
    app: App,
    *,
    customer_code: str,
    by: str,
    reason: str,
    as_of: date,
    refusal: Callable[[PolicyBody, CreditLine | None, list[View], bool], str | None],
    hold: bool,
) -> HoldResult:
    """Hold or release the customer's line under its write lock (dunning takes the same) when
    ``refusal`` finds nothing against it; audited with the line before and after."""
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        cid = saved_id(customer)
        lock_customer(s, cid)
        version, policy = app.published_policy(s)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == cid)).first()
        items = open_items_many(s, [cid], as_of).get(cid, {})
        manager = workspace.MANAGER in roles_under(app, policy, by)
        why = refusal(policy, line, currency_views(policy, items, [], as_of), manager)
        if why is not None or line is None:
            what = "cannot be put on hold" if hold else "cannot have its hold released"
            raise ServiceError(f"{customer.code} {what}: {why}")
        before = line_view(line)
        line.status = LineStatus.ON_HOLD if hold else LineStatus.ACTIVE
        line.hold_reason = f"{MANUAL_HOLD}{by}: {reason}" if hold else None
        line.updated_at = utcnow()
        s.add(line)
        audit.record(
            s,
            actor=by,
            action="credit_line.hold" if hold else "credit_line.release",
            entity_type="credit_line",
            entity_id=customer.code,
            before=before,
            after=line_view(line),
            reason=reason,
            policy_version=version,
        )
        uow.commit()
        return {
            "customer": customer.code,
            "status": line.status,
            "hold_reason": line.hold_reason or "",
        }


def place_hold(app: App, *, customer_code: str, by: str, reason: str, as_of: date) -> HoldResult:
    """Put the customer's credit line on hold by hand, where the policy allows it: the policy
    holds lines at a dunning level, the line is active, and something is overdue beyond the
    tolerance (disputed invoices left out)."""
    return _change_line(
        app,
        customer_code=customer_code,
        by=known_user(app, by),
        reason=required_text(reason, "the reason for the hold", HOLD_REASON_MAX),
        as_of=as_of,
        refusal=lambda policy, line, currencies, _manager: place_refusal(policy, line, currencies),
        hold=True,
    )


def release_hold(app: App, *, customer_code: str, by: str, reason: str, as_of: date) -> HoldResult:
    """Release a hold by hand: one placed by hand, or (credit managers only) one a collections
    run placed before the overdue balance is paid."""
    return _change_line(
        app,
        customer_code=customer_code,
        by=known_user(app, by),
        reason=required_text(reason, "the reason for the release", 500),
        as_of=as_of,
        refusal=lambda _policy, line, _currencies, manager: release_refusal(line, manager=manager),
        hold=False,
    )


class AssignResult(TypedDict):
    customer: str
    collector: str | None
    cases: list[int]


def _assignee(app: App, policy: PolicyBody, *, by: str, collector: str) -> str | None:
    if workspace.MANAGER not in roles_under(app, policy, by):
        raise ServiceError(f"{by} may not assign cases: credit managers do")
    if not collector.strip():
        return None
    target = known_person(app, collector).username
    if not roles_under(app, policy, target) & WORKS_CASES:
        raise ServiceError(
            f"{target} does not work collection cases (not a collector or credit manager)"
        )
    return target


def assign_cases(
    app: App, *, customer_code: str, collector: str, by: str, reason: str = ""
) -> AssignResult:
    """Assign the customer's open cases to a collector (or credit manager); ``collector`` empty
    leaves them unassigned. Credit managers only; audited with who had each case before and
    ``reason`` (the web's form gives none: the event then says who they went to)."""
    by = known_user(app, by)
    reason = reason.strip()
    if len(reason) > HOLD_REASON_MAX * 4:
        raise ServiceError(f"the reason is {len(reason)} characters long; at most 480")
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        target = _assignee(app, policy, by=by, collector=collector)
        customer = get_customer(s, customer_code)
        lock_customer(s, saved_id(customer))
        cases = s.exec(
            select(CollectionCase).where(
                CollectionCase.customer_id == customer.id, CollectionCase.status == CaseStatus.OPEN
            )
        ).all()
        if not cases:
            raise ServiceError(f"{customer.code} has no open collection case to assign")
        changed = [c for c in cases if c.collector != target]
        if not changed:
            who = f"assigned to {target}" if target else "unassigned"
            raise ServiceError(f"{customer.code}'s cases are {who} already: nothing changed")
        before = {str(c.id): c.collector for c in changed}
        for c in changed:
            c.collector = target
            s.add(c)
        audit.record(
            s,
            actor=by,
            action="worklist.assigned",
            entity_type="customer",
            entity_id=customer.code,
            before={"collector": before},
            after={"collector": {case_id: target for case_id in before}},
            reason=reason or (f"assigned to {target}" if target else "unassigned"),
            policy_version=version,
        )
        uow.commit()
        return {
            "customer": customer.code,
            "collector": target,
            "cases": [saved_id(c) for c in changed],
        }


def customer_notice(app: App, *, customer_code: str, notice_id: int) -> int:
    """The id of a notice about the customer (refused when it is about someone else)."""
    with app.uow(read_only=True) as uow:
        customer = get_customer(uow.session, customer_code)
        n = uow.session.get(Notice, notice_id)
        if n is None or n.customer_id != customer.id:
            raise ServiceError(f"{customer.code} has no notice #{notice_id}")
        return notice_id


def customer_invoice(app: App, *, customer_code: str, number: str) -> str:
    """The number of one of the customer's invoices (refused when it is someone else's)."""
    with app.uow(read_only=True) as uow:
        customer = get_customer(uow.session, customer_code)
        inv = uow.session.exec(select(Invoice).where(Invoice.number == number.strip())).first()
        if inv is None or inv.customer_id != customer.id:
            raise ServiceError(f"{customer.code} has no invoice {number.strip()!r}")
        return inv.number
