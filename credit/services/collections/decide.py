"""The next dunning step for one customer in one currency, decided on the state read after the
customer's lock: nothing, wait (a promise, a dispute, a holiday), clear the episode, or the next
level."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from credit.domain import dunning
from credit.domain.dunning import OutcomeStatus
from credit.domain.dunning_items import ItemPlan
from credit.domain.dunning_profiles import below_minimum
from credit.domain.money import MAX_AMOUNT, ZERO, money
from credit.domain.policy import DunningLevel
from credit.services.collections import items
from credit.services.collections.clearing import clear_episode
from credit.services.collections.errors import AlreadyTaken, AmountOutOfRange
from credit.services.collections.plans import judge_promise, promise_reason
from credit.services.collections.profiles import follow_profile
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.collections.steps import apply_dunning


@dataclass
class DunningOutcome:
    customer: str
    currency: str
    level: int
    level_name: str
    overdue_total: str
    invoices: list[str]
    action: str
    status: OutcomeStatus
    channel: str = ""
    reason: str = ""
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Report:
    """Builds the outcomes of one customer-currency: its figures, and by default the level it
    stands at."""

    pos: CustomerPosition
    level_name: str

    def __call__(self, status: OutcomeStatus, reason: str = "", **kw: Any) -> DunningOutcome:
        values: dict[str, Any] = dict(
            level=self.pos.state.level, level_name=self.level_name, action="none"
        )
        values.update(kw)
        return DunningOutcome(
            customer=self.pos.customer.code,
            currency=self.pos.currency,
            overdue_total=str(money(self.pos.owed.overdue_total)),
            invoices=[i.number for i in self.pos.owed.overdue_items],
            status=status,
            reason=reason,
            **values,
        )


@dataclass(frozen=True)
class _Settled:
    """A promise settled by this run: what the report says of it, and whether it broke."""

    note: str = ""
    broken: bool = False


def dun_currency(run: DunningRun, pos: CustomerPosition, *, day_off: str | None) -> DunningOutcome:
    """Decide and take (unless dry) the customer's next step in one currency. ``day_off``: why
    the run's day is no business day where the customer is (None on a business day)."""
    check_in_range(pos)
    followed = follow_profile(run, pos)  # its dunning profile's levels stand in the policy
    run = followed.run
    state, policy = pos.state, run.policy
    name = (
        ""
        if state.level == 0
        else policy.dunning_level(min(state.level, len(policy.dunning.levels))).name
    )
    report = _Report(pos, name)
    if state.last_day is not None and state.last_day >= run.as_of:
        # One step per customer and business day: a rerun for the same date (or a late run for
        # an earlier date) changes nothing.
        if state.last_day == run.as_of:
            return report(
                OutcomeStatus.ALREADY_DONE,
                f"level {state.level} already taken on {run.as_of.isoformat()}",
            )
        return report(
            OutcomeStatus.NOTHING_DUE, f"a later run ({state.last_day.isoformat()}) already acted"
        )
    promise = pos.open_promise()
    settled = _Settled()
    if promise is not None:  # judged on its date; a plan instalment by instalment
        judged = judge_promise(run, pos, promise)
        settled = _Settled(note=judged.note, broken=judged.broken)
        promise = None if judged.settled else promise
    if pos.owed.overdue_total <= policy.dunning.tolerance:
        return _clear(run, pos, report, note=settled.note)
    if promise is not None:
        return report(OutcomeStatus.PROMISED, settled.note + promise_reason(run, promise))
    if not followed.schedule.dun:
        return report(OutcomeStatus.NOTHING_DUE, settled.note + followed.not_dunned())
    return _escalate(run, pos, report, settled=settled, day_off=day_off)


def check_in_range(pos: CustomerPosition) -> None:
    """Amounts that add up beyond what the ledger can hold (data no import should have let in)
    fail this customer with a plain reason, before anything is written."""
    owed = sum((i.open_amount for i in pos.owed.overdue_items), ZERO)
    credited = -sum((c.open_amount for c in pos.owed.credits), ZERO)
    for what, amount in (("overdue items", owed), ("unallocated credits", credited)):
        if amount > MAX_AMOUNT:
            raise AmountOutOfRange(
                f"its {pos.currency} {what} add up to {money(amount):,}, more than the largest "
                f"amount the ledger holds ({MAX_AMOUNT:,}): correct its invoices and payments",
                pos.currency,
            )


def _clear(run: DunningRun, pos: CustomerPosition, report: _Report, *, note: str) -> DunningOutcome:
    """Nothing overdue beyond the tolerance: nothing to do, a pause (disputed invoices may come
    back) or the episode cleared."""
    if pos.state.level == 0:
        return report(OutcomeStatus.NOTHING_DUE, note + "nothing overdue beyond the tolerance")
    if pos.owed.disputed_items:
        # The disputed invoices may come back: the episode waits (no notice, no release).
        return report(OutcomeStatus.PAUSED, note + dunning.within_tolerance_reason(pos.owed))
    result = report(
        OutcomeStatus.WOULD_CLEAR if run.dry_run else OutcomeStatus.CLEARED,
        note + dunning.within_tolerance_reason(pos.owed),
        level=0,
        level_name="cleared",
        action="release",
    )
    if not run.dry_run:
        try:
            with run.batch.savepoint(run.session):
                result.notices = clear_episode(run, pos)
        except AlreadyTaken:
            result.status = OutcomeStatus.ALREADY_DONE
    return result


def _escalate(
    run: DunningRun,
    pos: CustomerPosition,
    report: _Report,
    *,
    settled: _Settled,
    day_off: str | None,
) -> DunningOutcome:
    """Something is overdue beyond the tolerance and no promise holds it back: the next level,
    when its trigger is reached (at once after a broken promise)."""
    forced = settled.broken or pos.broken_since_last_step()
    # Each overdue item climbs its own levels; the notice goes at the highest item level.
    item_plan = items.plan(run, pos, forced=forced)
    if item_plan is None:
        # A broken promise is news even when there is no level left to send.
        return report(
            OutcomeStatus.PROMISE_BROKEN if settled.broken else OutcomeStatus.NOTHING_DUE,
            settled.note + items.not_yet(pos, run.policy),
        )
    step = run.policy.dunning_level(item_plan.notice_level)
    if (waits := below_minimum(step, pos.currency, pos.owed.overdue_total)) is not None:
        return report(
            OutcomeStatus.PROMISE_BROKEN if settled.broken else OutcomeStatus.NOTHING_DUE,
            settled.note + waits,
        )
    if day_off is not None:
        return report(
            OutcomeStatus.DEFERRED,
            f"level {step.level} ({step.name}) is due but {run.as_of.isoformat()} is a {day_off} "
            f"for {pos.customer.country}: it goes out on the next business day",
        )
    result = report(
        OutcomeStatus.WOULD_SEND if run.dry_run else OutcomeStatus.SENT,
        settled.note + ("broken promise: one level up at once" if forced else ""),
        level=step.level,
        level_name=step.name,
        action=step.action.value,
        channel=step.channel.value,
    )
    if not run.dry_run:
        _send(run, pos, result, step=step, forced=forced, item_plan=item_plan)
    return result


def _send(
    run: DunningRun,
    pos: CustomerPosition,
    result: DunningOutcome,
    *,
    step: DunningLevel,
    forced: bool,
    item_plan: ItemPlan,
) -> None:
    try:
        with run.batch.savepoint(run.session):
            taken = apply_dunning(run, pos, step=step, forced=forced, item_plan=item_plan)
            result.notices, result.channel = taken.notices, taken.channel
            if taken.note:
                result.reason = "; ".join(r for r in (result.reason, taken.note) if r)
    except AlreadyTaken:
        result.status = OutcomeStatus.ALREADY_DONE
        result.reason = f"level {step.level} was taken by another run"
