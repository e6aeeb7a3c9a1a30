"""Item-level dunning in a run: which of a customer's items climb today, what the notice lists of
them, and what the levels they climbed to do (charges, hold, handover). The rules themselves are
pure: :mod:`credit.domain.dunning_items`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credit.domain import dunning_items
from credit.domain.dunning_items import ItemPlan
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import DunningLevel, PolicyBody
from credit.services.collections.item_state import item_rows
from credit.services.collections.state import CustomerPosition, DunningRun


def plan(run: DunningRun, pos: CustomerPosition, *, forced: bool) -> ItemPlan | None:
    """The items that climb in this run (every one of them one level up after a broken promise),
    and the notice's level; None when no item climbs."""
    policy = run.policy
    return dunning_items.plan_items(
        pos.owed,
        pos.items,
        policy.dunning.levels,
        as_of=run.as_of,
        min_gap=policy.dunning.min_days_between_levels,
        force=forced,
    )


@dataclass(frozen=True)
class Effects:
    """What the levels items climbed to in a step do: the charge levels (each one's fee once),
    the level whose interest is charged (on the items at or above it), the hold level and the
    handover level reached (None: not reached in this step)."""

    charges: list[DunningLevel]
    interest: DunningLevel | None
    hold: DunningLevel | None
    handover: DunningLevel | None


def effects(policy: PolicyBody, item_plan: ItemPlan) -> Effects:
    reached = [policy.dunning_level(n) for n in item_plan.climbed_to]

    def first(action: DunningActionKind) -> DunningLevel | None:
        return next((lv for lv in reached if lv.action == action), None)

    charges = [lv for lv in reached if lv.action == DunningActionKind.CHARGE]
    return Effects(
        charges=charges,
        # Interest is charged once per step, by the lowest level asking for it.
        interest=next((lv for lv in charges if lv.interest), None),
        hold=first(DunningActionKind.CREDIT_HOLD),
        handover=first(DunningActionKind.HANDOVER),
    )


def record(run: DunningRun, pos: CustomerPosition, item_plan: ItemPlan) -> None:
    """Record the levels the items climbed to (after the customer's step)."""
    run.batch.record_items(
        run.session,
        item_rows(
            customer_id=pos.customer_id,
            currency=pos.currency,
            episode=pos.state.episode,
            climbs=dict(item_plan.climbs),
            as_of=run.as_of,
        ),
    )


def list_levels(ctx: dict[str, Any], item_plan: ItemPlan) -> None:
    """Each item the notice lists gets its own level (0: a charge, which carries none)."""
    for row in ctx["invoices"]:
        row["level"] = item_plan.levels.get(row["number"], 0)


def key_suffix(pos: CustomerPosition, level: int) -> str:
    """What tells this notice apart from earlier notices of the same level in the episode."""
    return dunning_items.repeat_suffix(level, pos.items.sent)


def not_yet(pos: CustomerPosition, policy: PolicyBody) -> str:
    """Why no item climbs today: every item at the last level, or the next item's day."""
    ahead = dunning_items.next_climb(
        pos.owed,
        pos.items,
        policy.dunning.levels,
        min_gap=policy.dunning.min_days_between_levels,
    )
    if ahead is None:
        return "at the last level" if dunning_items.leveled_items(pos.owed) else "nothing overdue"
    return (
        f"level {ahead.level.level} ({ahead.level.name}) is due on {ahead.on.isoformat()}"
        f" for {ahead.number}"
    )
