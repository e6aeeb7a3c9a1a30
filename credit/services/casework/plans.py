"""Instalment plans on the case file: each open promise's instalments and the next step a plan
asks for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from credit.db.models_plans import PromiseInstalment
from credit.domain.money import fmt_money
from credit.services.casework.shared import View


def with_instalments(s: Session, promises: Sequence[View]) -> list[View]:
    """The promises (views), each with its instalments (seq, due_on, amount, status,
    settled_on, paid; none for a single-date promise)."""
    ids = [p["id"] for p in promises]
    plans: dict[int, list[View]] = {}
    if ids:
        for r in s.exec(
            select(PromiseInstalment)
            .where(col(PromiseInstalment.promise_id).in_(ids))
            .order_by(col(PromiseInstalment.promise_id), col(PromiseInstalment.seq))
        ):
            plans.setdefault(r.promise_id, []).append(
                r.model_dump(include={"seq", "due_on", "amount", "status", "settled_on", "paid"})
            )
    return [p | {"instalments": plans.get(p["id"], [])} for p in promises]


def plan_next_step(promise: View, as_of: date) -> str | None:
    """What an open instalment plan asks of the collector (None: not a plan)."""
    plan = promise.get("instalments") or []
    following = next((i for i in plan if i["status"] == "open"), None)
    if following is None:
        return None
    kept = sum(1 for i in plan if i["status"] == "kept")
    amount = fmt_money(following["amount"], promise["currency"])
    on = following["due_on"].isoformat()
    if following["due_on"] < as_of:
        return (
            f"instalment {following['seq']} of the plan ({amount} for {on}) is past its date: "
            "check whether it was paid (the next collections run judges it)"
        )
    return (
        f"the plan holds ({kept} of {len(plan)} instalments kept): wait for {amount} by {on}; "
        "one broken instalment resumes escalation one level up"
    )
