"""Receivables aging, the dunning schedule and late charges: pure rules, no I/O."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from credit.domain.money import CENT, ZERO
from credit.domain.policy import DunningLevel, DunningTrigger, PolicyBody
from credit.domain.receivables_status import OutcomeStatus as OutcomeStatus
from credit.domain.words import counted

# The aging buckets of receivables, by days past due: (name, from, to), both ends included. The
# one definition: a customer's aging (``aging`` below) and the portfolio's (analytics) use it.
AGING_BUCKETS = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def aging_bucket(days_overdue: int) -> str:
    """The name of the aging bucket for an amount ``days_overdue`` (0 or more) days past due."""
    return next(
        name
        for name, low, high in AGING_BUCKETS
        if (low is None or days_overdue >= low) and (high is None or days_overdue <= high)
    )


def empty_aging() -> dict[str, Decimal]:
    """Every aging bucket, in order, at zero."""
    return {name: ZERO for name, _, _ in AGING_BUCKETS}


# What an open item is: an invoice, a late fee or interest charged by dunning, or a credit, which
# is negative: a credit note or a payment not allocated to an invoice.
INVOICE, FEE, INTEREST = "invoice", "fee", "interest"
CREDIT_NOTE, PAYMENT = "credit_note", "payment"


@dataclass(frozen=True)
class DunningState:
    """Where a customer stands in dunning in one currency: the episode (the levels from the first
    reminder until the balance is cleared), the level reached (0: not in dunning) and the day of
    the last step (None: never dunned)."""

    episode: int = 1
    level: int = 0
    last_day: date | None = None

    @classmethod
    def after_step(cls, *, episode: int, level: int, on: date | None) -> DunningState:
        """The state once a step of ``episode`` at ``level`` was taken ``on`` a day: level 0
        (cleared) closes the episode, and the next one starts."""
        if level == 0:
            return cls(episode=episode + 1, level=0, last_day=on)
        return cls(episode=episode, level=level, last_day=on)

    @property
    def in_dunning(self) -> bool:
        return self.level > 0


@dataclass(frozen=True)
class OpenItem:
    """An invoice's or charge's open balance (after allocated payments) or an unallocated credit
    (negative)."""

    number: str
    due_date: date
    open_amount: Decimal
    kind: str = INVOICE
    disputed: bool = False

    def days_overdue(self, as_of: date) -> int:
        return max(0, (as_of - self.due_date).days)


@dataclass(frozen=True)
class DunningPosition:
    overdue_items: list[OpenItem]  # undisputed, positive, past due; oldest first
    credits: list[OpenItem]  # unallocated credits (negative), which reduce what is owed
    overdue_total: Decimal  # overdue items plus credits, never below zero
    oldest_days_overdue: int
    disputed_items: list[OpenItem] = field(default_factory=list)  # overdue but disputed
    # What is still owed on each overdue item once the unallocated credits are applied to the
    # oldest first: interest runs on these, and the schedule counts from the first item whose
    # balance takes the total past the tolerance.
    net_open: dict[str, Decimal] = field(default_factory=dict)
    reference_due_date: date | None = None

    @property
    def oldest_due_date(self) -> date | None:
        return self.overdue_items[0].due_date if self.overdue_items else None


def dunning_position(
    items: list[OpenItem], as_of: date, tolerance: Decimal = ZERO
) -> DunningPosition:
    """What a customer owes past due in one currency as of a date, net of unallocated credits.

    Disputed invoices leave dunning: they are neither listed nor counted. Unallocated credits are
    applied to the oldest overdue items first (``net_open``); the schedule's reference date is the
    due date of the item that takes the running balance past the ``tolerance``, so a few cents left
    on an old invoice do not make a new debt look months late."""
    past_due = sorted(
        (i for i in items if i.open_amount > 0 and i.due_date < as_of),
        key=lambda i: (i.due_date, i.number),
    )
    overdue = [i for i in past_due if not i.disputed]
    credits = sorted((i for i in items if i.open_amount < 0), key=lambda i: (i.due_date, i.number))
    total = max(
        ZERO,
        sum((i.open_amount for i in overdue), ZERO) + sum((c.open_amount for c in credits), ZERO),
    )
    oldest = overdue[0].days_overdue(as_of) if overdue else 0
    available = -sum((c.open_amount for c in credits), ZERO)
    net_open: dict[str, Decimal] = {}
    running, reference = ZERO, None
    for item in overdue:
        used = min(available, item.open_amount)
        available -= used
        net_open[item.number] = item.open_amount - used
        running += item.open_amount - used
        if reference is None and running > tolerance:
            reference = item.due_date
    return DunningPosition(
        overdue,
        credits,
        total,
        oldest,
        [i for i in past_due if i.disputed],
        net_open,
        reference,
    )


def within_tolerance_reason(position: DunningPosition) -> str:
    """Why a customer in dunning owes nothing past due beyond the tolerance: paid, overdue items
    offset by unallocated credits (credit notes, payments on account), what is left within the
    tolerance, or only disputed invoices overdue; or a mix of these."""
    parts: list[str] = []
    if position.overdue_items:
        owed = ", ".join(i.number for i in position.overdue_items)
        if position.credits:
            credits = ", ".join(
                f"{'payment on account' if c.kind == PAYMENT else 'credit note'} {c.number}"
                for c in position.credits
            )
            parts.append(f"overdue {owed} offset by unallocated credits: {credits}")
        else:
            parts.append(f"what is left of {owed} is within the tolerance")
    if position.disputed_items:
        disputed = ", ".join(i.number for i in position.disputed_items)
        parts.append(
            f"disputed: {disputed}" if parts else f"only disputed invoices are overdue: {disputed}"
        )
    return "; ".join(parts) or "overdue balance paid"


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def trigger_date(
    level: DunningLevel,
    *,
    oldest_due_date: date,
    previous_sent_on: date | None,
    min_gap: int = 0,
) -> date:
    """The first day ``level`` may be sent: its trigger, and at least ``min_gap`` days after the
    previous level (so catching up after downtime does not fire levels on consecutive days)."""
    if level.trigger == DunningTrigger.AFTER_PREVIOUS:
        # The first level has no previous one: it counts from the due date.
        start = previous_sent_on or oldest_due_date
        when = start + timedelta(days=level.days)
    elif level.trigger == DunningTrigger.END_OF_MONTH:
        when = end_of_month(oldest_due_date + timedelta(days=level.days))
    else:
        when = oldest_due_date + timedelta(days=level.days)
    if previous_sent_on is not None:
        when = max(when, previous_sent_on + timedelta(days=min_gap))
    return when


def describe_level(level: DunningLevel) -> dict[str, str]:
    """A dunning level as a credit manager reads it: when it is sent, how, and what it does."""
    if level.trigger == DunningTrigger.AFTER_PREVIOUS:
        when = f"{counted(level.days, 'day')} after the previous level"
    elif level.trigger == DunningTrigger.END_OF_MONTH:
        when = f"end of the month, {counted(level.days, 'day')} after the due date"
    else:
        when = f"{counted(level.days, 'day')} after the due date"
    action = level.action.value.replace("_", " ")
    charges = (
        [f"fee {', '.join(f'{cur} {fee}' for cur, fee in level.fee.items())}"] if level.fee else []
    )
    if level.interest:
        charges.append("late interest")
    if charges:
        action += f" ({'; '.join(charges)})"
    return {
        "when": when,
        "channel": level.channel.value,
        "action": action,
        "pay_within": counted(level.pay_within_days, "day"),
    }


def due_level(oldest_days_overdue: int, policy: PolicyBody) -> int:
    """The highest after_due level whose trigger the oldest overdue invoice has reached."""
    level = 0
    for lv in policy.dunning.levels:
        if lv.trigger == DunningTrigger.AFTER_DUE and oldest_days_overdue >= lv.days:
            level = lv.level
    return level


def next_dunning_level(
    *,
    current_level: int,
    position: DunningPosition,
    policy: PolicyBody,
    as_of: date | None = None,
    previous_sent_on: date | None = None,
    force: bool = False,
) -> DunningLevel | None:
    """The level to send now, or None.

    A customer moves at most one level per run and never skips one, even after days without
    runs: after downtime the next level is sent once, and the one after it waits for its own
    trigger (counted from that new send for ``after_previous``). Nothing is sent while the
    overdue total is within the policy's tolerance. ``force`` (a broken promise to pay) sends the
    next level without waiting for its trigger.
    """
    reference = position.reference_due_date or position.oldest_due_date
    if position.overdue_total <= policy.dunning.tolerance or reference is None:
        return None
    if current_level >= len(policy.dunning.levels):
        return None  # already at the last level (even of a shorter schedule)
    step = policy.dunning_level(current_level + 1)
    if force:
        return step
    if as_of is not None:
        day = as_of
    else:
        oldest = position.oldest_due_date
        assert oldest is not None  # an overdue total above the tolerance has an overdue item
        day = oldest + timedelta(days=position.oldest_days_overdue)
    when = trigger_date(
        step,
        oldest_due_date=reference,
        previous_sent_on=previous_sent_on,
        min_gap=policy.dunning.min_days_between_levels,
    )
    return step if day >= when else None


@dataclass(frozen=True)
class InterestLine:
    number: str
    start: date  # interest runs from the day after ``start`` ...
    end: date  # ... up to and including ``end``
    days: int
    open_amount: Decimal
    amount: Decimal


def interest_lines(
    items: list[OpenItem],
    *,
    as_of: date,
    annual_rate: Decimal,
    charged_until: dict[str, date],
    net_open: dict[str, Decimal] | None = None,
) -> list[InterestLine]:
    """Late interest per overdue invoice: open balance x rate / 365 x days, rounded half up to the
    cent, for the days since the due date or since the interest already charged on it. The balance
    is net of unallocated credits (``net_open``, oldest first); charges bear no interest."""
    lines = []
    for original in items:
        amount_open = (net_open or {}).get(original.number, original.open_amount)
        item = OpenItem(
            original.number, original.due_date, amount_open, original.kind, original.disputed
        )
        if item.kind != INVOICE or item.open_amount <= 0 or item.disputed:
            continue
        start = max(item.due_date, charged_until.get(item.number, item.due_date))
        days = (as_of - start).days
        if days <= 0:
            continue
        amount = (item.open_amount * annual_rate * days / Decimal(365)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        if amount > 0:
            lines.append(InterestLine(item.number, start, as_of, days, item.open_amount, amount))
    return lines


def aging(items: list[OpenItem], as_of: date) -> dict[str, Decimal]:
    """Open receivables by days overdue bucket (credits count in 'current')."""
    result = empty_aging()
    for item in items:
        days = item.days_overdue(as_of) if item.open_amount > 0 else 0
        result[aging_bucket(days)] += item.open_amount
    return result
