"""The collections worklist and its call log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlalchemy import or_
from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.models import (
    CollectionCase,
    CollectionNote,
    CreditLine,
    Customer,
    PaymentPromise,
)
from credit.domain import dunning
from credit.domain.money import money
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import (
    CaseReason,
    CaseStatus,
    NoteKind,
    PromiseStatus,
)
from credit.domain.team import case_priority
from credit.services.common import ServiceError, get_customer, known_user, required_text, saved_id
from credit.services.ledger import converter, dunning_state, open_items
from credit.services.receivables.plans import plan_summary
from credit.services.receivables.shared import policy_version


class NoteResult(TypedDict):
    customer: str
    kind: str  # a NoteKind
    call_tasks_closed: list[str]


class WorklistRow(TypedDict):
    customer: str
    name: str
    task: str  # a CaseReason
    currency: str
    amount: str
    oldest_overdue_days: int
    oldest_due_date: str | None
    disputed: list[str]
    opened_on: str
    last_action: str
    promised_date: str | None
    next_step: str
    collector: str | None  # assigned to (None: unassigned)
    rating: str | None  # the credit line's rating
    risk_weight: str
    amount_base: str | None  # the amount overdue in the base currency (None: no exchange rate)
    priority: int | None  # see credit.domain.team.case_priority


COLLECTOR_CHOICES = ("mine", "all", "unassigned")


def log_note(
    app: App, *, customer_code: str, note: str, by: str, as_of: date, kind: str = NoteKind.NOTE
) -> NoteResult:
    """Log a call or a note; logging a call closes the customer's open call tasks."""
    by, note = known_user(app, by), required_text(note, "the note")
    if kind not in (NoteKind.CALL, NoteKind.NOTE):
        raise ServiceError(f"the kind {kind!r} is not one of call, note")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        s.add(
            CollectionNote(
                customer_id=saved_id(customer),
                kind=kind,
                note=note,
                logged_by=by,
                logged_on=as_of,
            )
        )
        closed = []
        if kind == NoteKind.CALL:
            for case in s.exec(
                select(CollectionCase).where(
                    CollectionCase.customer_id == customer.id,
                    CollectionCase.reason == CaseReason.CALL,
                    CollectionCase.status == CaseStatus.OPEN,
                )
            ):
                case.status, case.closed_on, case.closed_by, case.closed_reason = (
                    CaseStatus.CLOSED,
                    as_of,
                    by,
                    "called",
                )
                s.add(case)
                closed.append(case.currency)
        audit.record(
            s,
            actor=by,
            action=f"worklist.{kind}",
            entity_type="customer",
            entity_id=customer.code,
            after={"call_tasks_closed": closed} if closed else None,
            reason=note,
            policy_version=policy_version(app, s),
        )
        uow.commit()
        return {"customer": customer.code, "kind": kind, "call_tasks_closed": closed}


def worklist(
    app: App, *, as_of: date, viewer: str | None = None, collector: str | None = None
) -> list[WorklistRow]:
    """The collections team's worklist: every open handover and call task, with the amount owed,
    the oldest overdue invoice, the last action, any promised date, the next step, the collector
    and the priority, highest priority first.

    ``collector``: ``mine`` (``viewer``'s cases and the unassigned ones), ``all``, ``unassigned``
    or a username; by default ``mine`` when ``viewer`` is a collector, else ``all``."""
    who = _collector_filter(app, viewer=viewer, collector=collector)
    with app.uow() as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        q = (
            select(CollectionCase, Customer)
            .join(Customer, col(Customer.id) == col(CollectionCase.customer_id))
            .where(CollectionCase.status == CaseStatus.OPEN)
            .order_by(col(CollectionCase.opened_on), col(Customer.code))
        )
        assigned = col(CollectionCase.collector)
        if who == "mine":
            q = q.where(or_(assigned.is_(None), assigned == viewer))
        elif who == "unassigned":
            q = q.where(assigned.is_(None))
        elif who != "all":
            q = q.where(assigned == who)
        to_base = converter(s, policy.base_currency, policy.base_currency, as_of)
        rows = [
            _worklist_row(s, policy, case=case, customer=customer, as_of=as_of, to_base=to_base)
            for case, customer in s.exec(q)
        ]
        rows.sort(key=lambda r: (r["priority"] is None, -(r["priority"] or 0),
                                 -r["oldest_overdue_days"], r["customer"], r["currency"]))  # fmt: skip
        return rows


def _collector_filter(app: App, *, viewer: str | None, collector: str | None) -> str:
    """``mine``, ``all``, ``unassigned`` or the username whose cases are listed."""
    if viewer:
        viewer = known_user(app, viewer)
    if collector is None or not collector.strip():
        person = app.directory.get(viewer or "")
        return "mine" if person is not None and "collector" in person.roles else "all"
    collector = collector.strip()
    if collector in COLLECTOR_CHOICES:
        if collector == "mine" and not viewer:
            raise ServiceError("the collector filter 'mine' needs to know who is looking")
        return collector
    return known_user(app, collector)


def _worklist_row(  # noqa: PLR0913  # a row's parts, each named
    s: Session,
    policy: PolicyBody,
    *,
    case: CollectionCase,
    customer: Customer,
    as_of: date,
    to_base: Callable[[Decimal, str], Decimal | None],
) -> WorklistRow:
    items = open_items(s, saved_id(customer), as_of).get(case.currency, [])
    position = dunning.dunning_position(items, as_of)
    rating = s.exec(select(CreditLine.rating).where(CreditLine.customer_id == customer.id)).first()
    weight = policy.team.risk_weight(rating)
    in_base = to_base(money(position.overdue_total), case.currency)
    promise = s.exec(
        select(PaymentPromise)
        .where(
            PaymentPromise.customer_id == customer.id,
            PaymentPromise.currency == case.currency,
            PaymentPromise.status == PromiseStatus.OPEN,
        )
        .order_by(col(PaymentPromise.id).desc())
    ).first()
    return {
        "customer": customer.code,
        "name": customer.name,
        "task": case.reason,
        "currency": case.currency,
        "amount": str(money(position.overdue_total)),
        "oldest_overdue_days": position.oldest_days_overdue,
        "oldest_due_date": (
            position.oldest_due_date.isoformat() if position.oldest_due_date else None
        ),
        "disputed": [i.number for i in position.disputed_items],
        "opened_on": case.opened_on.isoformat(),
        "last_action": _last_action(s, policy, customer, case.currency),
        "promised_date": promise.promised_for.isoformat() if promise else None,
        "next_step": (promise and plan_summary(s, promise)) or _next_step(case, promise),
        "collector": case.collector,
        "rating": rating,
        "risk_weight": str(weight),
        "amount_base": str(money(in_base)) if in_base is not None else None,
        "priority": case_priority(in_base, position.oldest_days_overdue, weight),
    }


def _last_action(s: Session, policy: PolicyBody, customer: Customer, currency: str) -> str:
    """The last dunning level taken, or the last note logged since."""
    state = dunning_state(s, saved_id(customer), currency)
    level, last_day = state.level, state.last_day
    last_note = s.exec(
        select(CollectionNote)
        .where(CollectionNote.customer_id == customer.id)
        .order_by(col(CollectionNote.id).desc())
    ).first()
    last_action = (
        f"{policy.dunning_level(level).name} on {last_day.isoformat()}"
        if level > 0 and last_day and level <= len(policy.dunning.levels)
        else ""
    )
    if last_note is not None and (last_day is None or last_note.logged_on >= last_day):
        last_action = f"{last_note.kind} by {last_note.logged_by} on " + (
            f"{last_note.logged_on.isoformat()}: {last_note.note[:60]}"
        )
    return last_action


def _next_step(case: CollectionCase, promise: PaymentPromise | None) -> str:
    if promise is not None:
        return (
            f"wait for {money(promise.amount)} promised by "
            f"{promise.promised_for.isoformat()}; "
            "escalation resumes one level up if it is broken"
        )
    if case.reason == CaseReason.CALL:
        return "call the customer and log it: credit worklist log --kind call"
    return (
        "contact the customer: agree a payment plan (credit promise) or "
        "pass to the collection agency"
    )
