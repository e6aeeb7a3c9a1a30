"""Item-level dunning: each overdue invoice climbs its own levels, as SAP, OCA and Odoo keep them.

Pure rules, no I/O. A customer's notice in one currency goes out when at least one item climbs in
the run; its level is the highest item level among the customer's overdue items, and it lists
every overdue item with its own level and days overdue.

Which items carry levels: overdue, undisputed invoices whose balance is still open once the
unallocated credits are applied to the oldest first, from the item that takes the running balance
past the tolerance on (a few cents left on an old invoice neither climb nor drive the level). Late
fee and interest items carry no level: they are listed, at level 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from credit.domain.dunning import INVOICE, DunningPosition, OpenItem, trigger_date
from credit.domain.policy import DunningLevel


@dataclass(frozen=True)
class ItemLevel:
    """Where one item stands in the episode: its level (0: none yet) and the day of its last
    step (None: never dunned)."""

    level: int = 0
    last_day: date | None = None


@dataclass(frozen=True)
class ItemBook:
    """A customer's items in one currency in the current episode: each item's level, and how many
    notices of each level the episode already sent (level -> count)."""

    levels: Mapping[str, ItemLevel] = field(default_factory=dict)
    sent: Mapping[int, int] = field(default_factory=dict)

    def of(self, number: str) -> ItemLevel:
        return self.levels.get(number, ItemLevel())


@dataclass(frozen=True)
class ItemPlan:
    """What a run does to a customer's items in one currency: the items that climb (number ->
    new level), every overdue item's level after the run (0 for items carrying no level) and the
    level of the notice (the highest item level)."""

    climbs: Mapping[str, int]
    levels: Mapping[str, int]
    notice_level: int

    @property
    def climbed_to(self) -> list[int]:
        """The levels items climbed to in this run, lowest first."""
        return sorted(set(self.climbs.values()))

    def at_or_above(self, level: int) -> set[str]:
        """The items at ``level`` or higher after the run."""
        return {n for n, lv in self.levels.items() if lv >= level}


def leveled_items(position: DunningPosition) -> list[OpenItem]:
    """The overdue items that carry levels (oldest first): invoices with a balance left after the
    unallocated credits, from the position's reference item (the one taking the running balance
    past the tolerance) on."""
    reference = position.reference_due_date
    if reference is None:
        return []
    return [
        i
        for i in position.overdue_items
        if i.kind == INVOICE
        and i.due_date >= reference
        and position.net_open.get(i.number, i.open_amount) > 0
    ]


def item_trigger(step: DunningLevel, item: OpenItem, state: ItemLevel, *, min_gap: int) -> date:
    """The first day ``item`` may climb to ``step``: ``after_due`` and ``end_of_month`` count from
    its due date, ``after_previous`` from its own last step; at least ``min_gap`` days after it."""
    return trigger_date(
        step,
        oldest_due_date=item.due_date,
        previous_sent_on=state.last_day if state.level > 0 else None,
        min_gap=min_gap,
    )


def plan_items(
    position: DunningPosition,
    book: ItemBook,
    levels: Sequence[DunningLevel],
    *,
    as_of: date,
    min_gap: int = 0,
    force: bool = False,
) -> ItemPlan | None:
    """Each leveled item climbs at most one level (never skipping one, even after days without
    runs) when its own trigger is reached; ``force`` (a broken promise to pay) moves every one of
    them one level up at once. None when no item climbs."""
    climbs: dict[str, int] = {}
    for item in leveled_items(position):
        state = book.of(item.number)
        if state.level >= len(levels):
            continue  # at the last level (even of a shorter schedule)
        step = levels[state.level]
        if force or as_of >= item_trigger(step, item, state, min_gap=min_gap):
            climbs[item.number] = state.level + 1
    if not climbs:
        return None
    after = current_levels(position, book, last=len(levels))
    after.update(climbs)
    return ItemPlan(climbs=climbs, levels=after, notice_level=max(after.values()))


def current_levels(position: DunningPosition, book: ItemBook, *, last: int) -> dict[str, int]:
    """Every overdue item's level now (0 for items carrying none), capped at the ``last`` level of
    the schedule."""
    leveled = {i.number for i in leveled_items(position)}
    return {
        i.number: min(book.of(i.number).level, last) if i.number in leveled else 0
        for i in position.overdue_items
    }


@dataclass(frozen=True)
class NextClimb:
    """The next item to climb: when, to which level, which item."""

    on: date
    level: DunningLevel
    number: str


def next_climb(
    position: DunningPosition,
    book: ItemBook,
    levels: Sequence[DunningLevel],
    *,
    min_gap: int = 0,
) -> NextClimb | None:
    """The earliest climb ahead (None: every leveled item is at the last level)."""
    ahead = [
        NextClimb(item_trigger(levels[st.level], item, st, min_gap=min_gap), levels[st.level],
                  item.number)
        for item in leveled_items(position)
        if (st := book.of(item.number)).level < len(levels)
    ]  # fmt: skip
    return min(ahead, key=lambda c: (c.on, c.level.level, c.number), default=None)


def repeat_suffix(level: int, sent: Mapping[int, int]) -> str:
    """What tells a notice at ``level`` apart from the ones at that level already sent in the
    episode (``sent``: level -> how many): nothing for the first (the key it always had), then
    ``-2``, ``-3`` ... Deterministic: a partitioned run and a single one derive the same."""
    times = sent.get(level, 0)
    return "" if times == 0 else f"-{times + 1}"
