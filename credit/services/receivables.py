"""The collections desk: disputes, promises to pay, the worklist and its call log, order checks."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import (
    CollectionCase,
    CollectionNote,
    CreditLine,
    Customer,
    Dispute,
    DunningAction,
    Invoice,
    LineStatus,
    PaymentPromise,
)
from credit.domain import dunning
from credit.domain.money import ZERO, fmt_money, money
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import (
    CaseReason,
    CaseStatus,
    DisputeStatus,
    NoteKind,
    OrderDecision,
    PromiseStatus,
)
from credit.domain.words import counted, said
from credit.services.common import ServiceError, get_customer, known_user, required_text, saved_id
from credit.services.ledger import converter, credit_exposure, dunning_state, open_items


class DisputeResult(TypedDict):
    invoice: str
    customer: str
    status: str  # a DisputeStatus


class PromiseResult(TypedDict):
    customer: str
    amount: str
    currency: str
    promised_for: str
    replaced: list[int | None]


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


class OrderCheck(TypedDict):
    customer: str
    decision: str  # an OrderDecision
    reasons: list[str]
    currency: str
    order_amount: str
    receivables: str
    open_orders: str
    exposure: str
    limit: str | None
    headroom: str | None
    line_status: str | None
    oldest_overdue_days: int
    in_dunning: list[str]


def _not_in_future(as_of: date, today: date | None, what: str) -> None:
    """What the collections desk records happened by ``today`` (the company's, given by the edge
    where a person types the date): dated later, it would hold back every collections run until
    that day (a run may not ignore what is recorded)."""
    if today is not None and as_of > today:
        raise ServiceError(
            f"{what} dated {as_of.isoformat()} is in the future (today is {today.isoformat()})"
        )


def _invoice(s: Session, number: str) -> Invoice:
    inv = s.exec(select(Invoice).where(Invoice.number == number.strip())).first()
    if inv is None:
        raise ServiceError(f"no invoice with number {number!r}")
    return inv


def _policy_version(app: App, s: Session) -> int:
    return app.published_policy(s)[0]


# --------------------------------------------------------------------------- disputes


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
    _not_in_future(as_of, today, "a dispute")
    with app.uow() as uow:
        s = uow.session
        inv = _invoice(s, invoice_number)
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
            policy_version=_policy_version(app, s),
        )
        uow.commit()
        return {"invoice": inv.number, "customer": customer.code, "status": DisputeStatus.DISPUTED}


def resolve_dispute(
    app: App, *, invoice_number: str, by: str, note: str, as_of: date, today: date | None = None
) -> DisputeResult:
    """The dispute is settled: what is still open on the invoice is dunned again (a credit note
    issued for it is imported as usual and reduces it)."""
    by, note = known_user(app, by), required_text(note, "how the dispute was resolved")
    _not_in_future(as_of, today, "a dispute's resolution")
    with app.uow() as uow:
        s = uow.session
        inv = _invoice(s, invoice_number)
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
            policy_version=_policy_version(app, s),
        )
        uow.commit()
        return {"invoice": inv.number, "customer": customer.code, "status": DisputeStatus.RESOLVED}


# --------------------------------------------------------------------------- promises


def record_promise(  # noqa: PLR0913  # a promise's parts, each named by the callers
    app: App,
    *,
    customer_code: str,
    amount: Decimal,
    promised_for: date,
    by: str,
    as_of: date,
    currency: str | None = None,
    note: str = "",
    today: date | None = None,
) -> PromiseResult:
    """A promise to pay: the customer's escalation in that currency pauses until ``promised_for``.
    A newer promise replaces an open one."""
    by = known_user(app, by)
    _not_in_future(as_of, today, "a promise")
    if amount <= 0:
        raise ServiceError(f"the promised amount {amount} must be positive")
    if promised_for < as_of:
        raise ServiceError(
            f"the promised date {promised_for.isoformat()} is before today ({as_of.isoformat()})"
        )
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        _, policy = app.published_policy(s)
        _check_promise_horizon(policy, promised_for=promised_for, as_of=as_of)
        lock_customer(s, saved_id(customer))
        cur = (currency or customer.currency).strip().upper()
        _check_promise_owed(s, customer, currency=cur, amount=amount, as_of=as_of)
        replaced = _replace_open_promises(s, customer, currency=cur, as_of=as_of)
        p = PaymentPromise(
            customer_id=saved_id(customer),
            currency=cur,
            amount=money(amount),
            promised_for=promised_for,
            recorded_on=as_of,
            recorded_by=by,
            note=note.strip(),
        )
        s.add(p)
        s.flush()
        audit.record(
            s,
            actor=by,
            action="promise.recorded",
            entity_type="customer",
            entity_id=customer.code,
            before={"replaced_promises": replaced} if replaced else None,
            after={"amount": p.amount, "currency": cur, "promised_for": promised_for},
            reason=note.strip() or "promise to pay",
            policy_version=_policy_version(app, s),
        )
        uow.commit()
        return {
            "customer": customer.code,
            "amount": str(p.amount),
            "currency": cur,
            "promised_for": promised_for.isoformat(),
            "replaced": replaced,
        }


def _check_promise_horizon(policy: PolicyBody, *, promised_for: date, as_of: date) -> None:
    horizon = policy.dunning.max_promise_days
    if (promised_for - as_of).days > horizon:
        raise ServiceError(
            f"the promised date {promised_for.isoformat()} is more than {horizon} days ahead "
            "(the policy's dunning.max_promise_days); agree a payment plan in steps"
        )


def _check_promise_owed(
    s: Session, customer: Customer, *, currency: str, amount: Decimal, as_of: date
) -> None:
    """A promise is for what the customer owes in that currency, and no more."""
    balances = {
        c: sum((i.open_amount for i in items), ZERO)
        for c, items in open_items(s, saved_id(customer), as_of).items()
    }
    owed = {c: b for c, b in balances.items() if b > 0}
    if not re.fullmatch(r"[A-Z]{3}", currency) or currency not in owed:
        raise ServiceError(
            f"{customer.code} owes nothing in {currency!r}"
            + (f" (open items in {', '.join(sorted(owed))})" if owed else "")
        )
    if money(amount) > owed[currency]:
        raise ServiceError(
            f"{customer.code} owes {fmt_money(owed[currency], currency)} in all; a promise of "
            f"{fmt_money(amount, currency)} is more than that (record what they promised to pay "
            "of what is open)"
        )


def _replace_open_promises(
    s: Session, customer: Customer, *, currency: str, as_of: date
) -> list[int | None]:
    """Mark the customer's open promises in ``currency`` replaced; their ids."""
    replaced = []
    for old in s.exec(
        select(PaymentPromise).where(
            PaymentPromise.customer_id == customer.id,
            PaymentPromise.currency == currency,
            PaymentPromise.status == PromiseStatus.OPEN,
        )
    ):
        old.status, old.settled_on = PromiseStatus.REPLACED, as_of
        s.add(old)
        replaced.append(old.id)
    return replaced


# --------------------------------------------------------------------------- worklist


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
            policy_version=_policy_version(app, s),
        )
        uow.commit()
        return {"customer": customer.code, "kind": kind, "call_tasks_closed": closed}


def worklist(app: App, *, as_of: date) -> list[WorklistRow]:
    """The collections team's worklist: every open handover and call task, with the amount owed,
    the oldest overdue invoice, the last action, any promised date and the next step."""
    with app.uow() as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        cases = list(
            s.exec(
                select(CollectionCase, Customer)
                .join(Customer, col(Customer.id) == col(CollectionCase.customer_id))
                .where(CollectionCase.status == CaseStatus.OPEN)
                .order_by(col(CollectionCase.opened_on), col(Customer.code))
            )
        )
        return [
            _worklist_row(s, policy, case=case, customer=customer, as_of=as_of)
            for case, customer in cases
        ]


def _worklist_row(
    s: Session, policy: PolicyBody, *, case: CollectionCase, customer: Customer, as_of: date
) -> WorklistRow:
    items = open_items(s, saved_id(customer), as_of).get(case.currency, [])
    position = dunning.dunning_position(items, as_of)
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
        "next_step": _next_step(case, promise),
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


# --------------------------------------------------------------------------- orders


def check_order(
    app: App, *, customer_code: str, amount: Decimal, as_of: date, currency: str | None = None
) -> OrderCheck:
    """Whether a new order may ship on credit: ``allow`` or ``hold`` with every reason.

    Exposure = open receivables (undisputed and disputed alike, net of credits) + open orders +
    this order, in the credit line's currency at the latest rates; a line on hold, no line, or an
    invoice overdue beyond the policy's ``orders.max_days_overdue`` also hold the order.
    """
    if amount <= 0:
        raise ServiceError(f"the order amount {amount} must be positive")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        _, policy = app.published_policy(s)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        cur = (currency or (line.currency if line else customer.currency)).upper()
        target = line.currency if line else cur
        items = open_items(s, saved_id(customer), as_of)
        reasons, receivables, orders = _receivables_and_orders(
            s, policy, customer=customer, line=line, target=target, as_of=as_of, items=items
        )
        oldest, oldest_invoice = _oldest_overdue(items, as_of, policy.dunning.tolerance)
        this = converter(s, policy.base_currency, target, as_of)(amount, cur)
        if this is None:
            reasons.append(f"no exchange rate {cur}->{target}: cannot value this order")
            this = ZERO
        exposure = money(receivables + orders + this)
        limit = line.limit if line else None
        reasons += _line_reasons(line)
        if limit is not None and exposure > limit:

            def m(value: Decimal) -> str:
                return fmt_money(value, target)

            reasons.append(
                f"exposure {m(exposure)} (receivables {m(receivables)} + open orders {m(orders)} "
                f"+ this order {m(this)}) exceeds the limit {m(limit)} by {m(exposure - limit)}"
            )
        if oldest > policy.orders.max_days_overdue:
            reasons.append(
                f"invoice {oldest_invoice} is {counted(oldest, 'day')} overdue "
                f"(policy allows {policy.orders.max_days_overdue})"
            )
        return {
            "customer": customer.code,
            "decision": OrderDecision.HOLD if reasons else OrderDecision.ALLOW,
            "reasons": reasons,
            "currency": target,
            "order_amount": str(money(this)),
            "receivables": str(money(receivables)),
            "open_orders": str(money(orders)),
            "exposure": str(exposure),
            "limit": str(money(limit)) if limit is not None else None,
            "headroom": str(money(limit - exposure)) if limit is not None else None,
            "line_status": line.status if line else None,
            "oldest_overdue_days": oldest,
            "in_dunning": _currencies_in_dunning(s, customer),
        }


def _receivables_and_orders(
    s: Session,
    policy: PolicyBody,
    *,
    customer: Customer,
    line: CreditLine | None,
    target: str,
    as_of: date,
    items: dict[str, list[dunning.OpenItem]],
) -> tuple[list[str], Decimal, Decimal]:
    """Open receivables and open orders in ``target``, and why any of them cannot be valued."""
    known = credit_exposure(
        s, base_currency=policy.base_currency, customer=customer, line=line, as_of=as_of,
        items=items,
    )  # fmt: skip
    reasons = [f"cannot value {what}" for what in known["unvalued"]]
    receivables, orders = known["receivables"], known["open_orders"]
    if known["currency"] != target:  # no line: in the order's own currency
        convert = converter(s, policy.base_currency, target, as_of)
        valued = convert(receivables, known["currency"]), convert(orders, known["currency"])
        if valued[0] is None or valued[1] is None:
            reasons.append(f"no exchange rate {known['currency']}->{target}: cannot value")
        receivables, orders = valued[0] or ZERO, valued[1] or ZERO
    return reasons, receivables, orders


def _oldest_overdue(
    items: dict[str, list[dunning.OpenItem]], as_of: date, tolerance: Decimal
) -> tuple[int, str]:
    """Days overdue and number of the oldest overdue invoice, in a currency whose overdue total
    is beyond the tolerance (0 and "" when there is none)."""
    oldest, oldest_invoice = 0, ""
    for items_of_currency in items.values():
        position = dunning.dunning_position(items_of_currency, as_of)
        if position.overdue_total > tolerance and position.oldest_days_overdue > oldest:
            oldest, oldest_invoice = (
                position.oldest_days_overdue,
                position.overdue_items[0].number,
            )
    return oldest, oldest_invoice


def _line_reasons(line: CreditLine | None) -> list[str]:
    if line is None:
        return ["no credit line: prepayment or cash in advance only"]
    if line.status != LineStatus.ACTIVE:
        return [f"credit line is {said(line.status)} ({line.hold_reason or 'no reason'})"]
    return []


def _currencies_in_dunning(s: Session, customer: Customer) -> list[str]:
    currencies = {
        a.currency
        for a in s.exec(select(DunningAction).where(DunningAction.customer_id == customer.id))
    }
    return sorted(c for c in currencies if dunning_state(s, saved_id(customer), c).in_dunning)
