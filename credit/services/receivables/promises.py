"""Promises to pay: what a customer promised, by when; a run judges it on its date."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import (
    Customer,
    PaymentPromise,
)
from credit.domain.money import ZERO, fmt_money, money
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import (
    PromiseStatus,
)
from credit.services.common import ServiceError, get_customer, known_user, saved_id
from credit.services.ledger import open_items
from credit.services.receivables.plans import Dated, add_instalments, check_plan
from credit.services.receivables.shared import not_in_future, policy_version


class PromiseResult(TypedDict):
    customer: str
    amount: str
    currency: str
    promised_for: str
    replaced: list[int | None]
    instalments: list[dict[str, str]]


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
    instalments: Dated = (),
) -> PromiseResult:
    """A promise to pay: the customer's escalation in that currency pauses until ``promised_for``.
    A newer promise replaces an open one. With ``instalments`` (dated amounts) it is an instalment
    plan (``amount`` and ``promised_for`` are then their sum and the last date), each instalment
    judged on its date."""
    by = known_user(app, by)
    not_in_future(as_of, today, "a promise")
    if instalments:  # a plan: its total by its last date
        amount, promised_for = sum((a for _, a in instalments), Decimal(0)), instalments[-1][0]
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
        if instalments:
            check_plan(policy, instalments, as_of=as_of)
        else:
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
        add_instalments(s, p, instalments)
        plan = [{"due_on": d.isoformat(), "amount": str(money(a))} for d, a in instalments]
        audit.record(
            s,
            actor=by,
            action="promise.recorded",
            entity_type="customer",
            entity_id=customer.code,
            before={"replaced_promises": replaced} if replaced else None,
            after={"amount": p.amount, "currency": cur, "promised_for": promised_for}
            | ({"instalments": plan} if plan else {}),
            reason=note.strip() or "promise to pay",
            policy_version=policy_version(app, s),
        )
        uow.commit()
        return {
            "customer": customer.code,
            "amount": str(p.amount),
            "currency": cur,
            "promised_for": promised_for.isoformat(),
            "replaced": replaced,
            "instalments": plan,
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
