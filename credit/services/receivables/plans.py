"""Instalment plans at the collections desk: a promise to pay carrying several dated amounts
(:mod:`credit.domain.instalments`), its instalment rows and how the worklist and the case file
show it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from credit.db.models import PaymentPromise
from credit.db.models_plans import PromiseInstalment
from credit.domain import instalments as rules
from credit.domain.money import fmt_money, money
from credit.domain.policy import PolicyBody
from credit.services.common import ServiceError, saved_id

Dated = Sequence[tuple[date, Decimal]]


def check_plan(policy: PolicyBody, instalments: Dated, *, as_of: date) -> None:
    """Refuse dated amounts that make no plan under the policy (one plain sentence)."""
    try:
        rules.check_plan(
            instalments,
            as_of=as_of,
            max_instalments=policy.plans.max_instalments,
            max_days=policy.plans.max_plan_days,
        )
    except ValueError as exc:
        raise ServiceError(str(exc)) from None


def add_instalments(s: Session, promise: PaymentPromise, instalments: Dated) -> None:
    """The plan's rows, numbered in date order (nothing for a single-date promise)."""
    for seq, (on, amount) in enumerate(instalments, start=1):
        s.add(
            PromiseInstalment(
                promise_id=saved_id(promise), seq=seq, due_on=on, amount=money(amount)
            )
        )
    s.flush()


def instalment_rows(s: Session, promise_id: int | None) -> list[PromiseInstalment]:
    if promise_id is None:
        return []
    return list(
        s.exec(
            select(PromiseInstalment)
            .where(PromiseInstalment.promise_id == promise_id)
            .order_by(col(PromiseInstalment.seq))
        )
    )


def as_plan(rows: Sequence[PromiseInstalment]) -> list[rules.Instalment]:
    return [rules.Instalment(r.seq, r.due_on, r.amount, r.status) for r in rows]


def plan_summary(s: Session, promise: PaymentPromise) -> str | None:
    """The worklist's next step for an open plan: "plan: 1 of 2 instalments kept; wait for
    EUR 500.00 by 2027-03-24; ..." (None: a single-date promise)."""
    rows = instalment_rows(s, promise.id)
    following = rules.next_open(as_plan(rows))
    if following is None:
        return None
    kept = sum(1 for r in rows if r.status == "kept")
    return (
        f"plan: {kept} of {len(rows)} instalments kept; wait for "
        f"{fmt_money(following.amount, promise.currency)} by {following.due_on.isoformat()}; "
        "escalation resumes one level up if an instalment is broken"
    )
