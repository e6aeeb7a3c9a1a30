"""Instalment plans: a promise to pay in several dated amounts, each judged on its date.

An instalment is judged the first run after its date plus the grace days (as a promise is): it
is kept when what the customer paid since the plan was recorded, up to its date plus the grace
days, covers every instalment due so far (less the dunning tolerance), or when nothing is left
overdue; otherwise it is broken, and one broken instalment breaks the plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.domain.money import ZERO


@dataclass(frozen=True)
class Instalment:
    seq: int
    due_on: date
    amount: Decimal
    status: str = "open"  # open | kept | broken


@dataclass(frozen=True)
class Verdict:
    """One instalment judged: what was due by its date (this one and the earlier ones), what was
    paid since the plan began, kept or not."""

    seq: int
    due_on: date
    amount: Decimal
    owed_so_far: Decimal
    paid: Decimal
    kept: bool


def check_plan(
    instalments: Sequence[tuple[date, Decimal]],
    *,
    as_of: date,
    max_instalments: int,
    max_days: int,
) -> None:
    """Raise ValueError (one plain sentence) unless the dated amounts make a plan: at least two,
    at most ``max_instalments``, each positive, dates strictly
    ascending from ``as_of`` and the last no more than ``max_days`` ahead."""
    if len(instalments) < 2:
        raise ValueError(
            "an instalment plan needs at least two instalments (else promise one date)"
        )
    if len(instalments) > max_instalments:
        raise ValueError(
            f"{len(instalments)} instalments are more than the policy's "
            f"plans.max_instalments ({max_instalments})"
        )
    previous: date | None = None
    for on, amount in instalments:
        if amount <= 0:
            raise ValueError(
                f"the instalment of {on.isoformat()}: {amount} is not a positive amount"
            )
        if on < as_of:
            raise ValueError(
                f"the instalment date {on.isoformat()} is before today ({as_of.isoformat()})"
            )
        if previous is not None and on <= previous:
            raise ValueError(
                f"the instalment dates must ascend: {on.isoformat()} comes after "
                f"{previous.isoformat()}"
            )
        previous = on
    last = instalments[-1][0]
    if (last - as_of).days > max_days:
        raise ValueError(
            f"the last instalment ({last.isoformat()}) is more than {max_days} days ahead "
            "(the policy's plans.max_plan_days)"
        )


def due_for_judging(plan: Sequence[Instalment], *, as_of: date, grace_days: int) -> bool:
    """Whether an open instalment's date and grace days are past on ``as_of``."""
    grace = timedelta(days=grace_days)
    return any(i.status == "open" and i.due_on + grace < as_of for i in plan)


def judge(  # noqa: PLR0913  (the plan, the day and what decides it, keyword-only)
    plan: Sequence[Instalment],
    *,
    as_of: date,
    grace_days: int,
    tolerance: Decimal,
    nothing_overdue: bool,
    paid_by: Callable[[date], Decimal],
) -> list[Verdict]:
    """The open instalments whose date and grace days are past on ``as_of``, judged in order;
    the list stops at the first broken one (the plan is broken). ``paid_by(day)``: what the
    customer paid since the plan began, up to ``day`` included."""
    grace = timedelta(days=grace_days)
    owed = ZERO
    verdicts: list[Verdict] = []
    for i in sorted(plan, key=lambda i: i.seq):
        owed += i.amount
        if i.status != "open":
            continue
        if i.due_on + grace >= as_of:
            break
        paid = paid_by(i.due_on + grace)
        kept = nothing_overdue or paid >= owed - tolerance
        verdicts.append(Verdict(i.seq, i.due_on, i.amount, owed, paid, kept))
        if not kept:
            break
    return verdicts


def next_open(plan: Sequence[Instalment]) -> Instalment | None:
    return next((i for i in sorted(plan, key=lambda i: i.seq) if i.status == "open"), None)
