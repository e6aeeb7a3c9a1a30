"""Item-level dunning rules (credit.domain.dunning_items) with the shipped policy's schedule:
reminder 1 day after due, second notice at 15, final demand at 30, hold at 45 (after_due), the
handover 14 days after the hold (after_previous), at least 7 days between an item's levels."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from credit.domain.dunning import FEE, OpenItem, dunning_position
from credit.domain.dunning_items import (
    ItemBook,
    ItemLevel,
    leveled_items,
    next_climb,
    plan_items,
    repeat_suffix,
)

AS_OF = date(2026, 11, 2)


def overdue(number: str, days: int, amount: str = "500.00", kind: str = "invoice") -> OpenItem:
    return OpenItem(number, AS_OF - timedelta(days=days), Decimal(amount), kind)


def plan(policy, items, book=ItemBook(), *, as_of=AS_OF, force=False):
    position = dunning_position(items, as_of, policy.dunning.tolerance)
    return plan_items(
        position, book, policy.dunning.levels, as_of=as_of,
        min_gap=policy.dunning.min_days_between_levels, force=force,
    )  # fmt: skip


def test_each_item_climbs_by_its_own_days_overdue(policy):
    book = ItemBook(levels={"OLD": ItemLevel(2, AS_OF - timedelta(days=16))})
    p = plan(policy, [overdue("OLD", 31), overdue("NEW", 1), overdue("MID", 10)], book)
    # OLD reaches its final demand (30 days), NEW its reminder; MID (at 0, 10 days) its reminder.
    assert p is not None and dict(p.climbs) == {"OLD": 3, "NEW": 1, "MID": 1}
    assert p.notice_level == 3 and p.climbed_to == [1, 3]
    assert p.at_or_above(3) == {"OLD"}


def test_an_item_never_skips_a_level_and_keeps_its_own_minimum_gap(policy):
    # 90 days overdue, never dunned, a run every day: one level per run, 7 days apart at least.
    levels, sent = ItemBook(), []
    for offset in range(60):
        day = AS_OF + timedelta(days=offset)
        p = plan(policy, [overdue("I1", 90 - offset)], levels, as_of=day)
        if p is not None:
            sent.append((offset, p.climbs["I1"]))
            levels = ItemBook(levels={"I1": ItemLevel(p.climbs["I1"], day)})
    assert sent == [(0, 1), (7, 2), (14, 3), (21, 4), (35, 5)]


def test_nothing_climbs_at_the_last_level_and_the_notice_level_is_the_highest(policy):
    book = ItemBook(levels={"OLD": ItemLevel(5, AS_OF - timedelta(days=30))})
    assert plan(policy, [overdue("OLD", 120)], book) is None
    p = plan(policy, [overdue("OLD", 120), overdue("NEW", 2)], book)
    assert p is not None and dict(p.climbs) == {"NEW": 1}
    assert p.notice_level == 5 and dict(p.levels) == {"OLD": 5, "NEW": 1}


def test_a_broken_promise_moves_every_item_one_level_up(policy):
    book = ItemBook(levels={"A": ItemLevel(1, AS_OF - timedelta(days=1))})
    p = plan(policy, [overdue("A", 3), overdue("B", 1)], book, force=True)
    assert p is not None and dict(p.climbs) == {"A": 2, "B": 1}


def test_charges_and_tolerated_leftovers_carry_no_level(policy):
    items = [
        overdue("LEFT", 200, "5.00"),  # within the tolerance of 10.00: no level
        overdue("INV", 40),
        overdue("FEE-1", 5, "40.00", kind=FEE),
    ]
    position = dunning_position(items, AS_OF, policy.dunning.tolerance)
    assert [i.number for i in leveled_items(position)] == ["INV"]
    p = plan(policy, items)
    assert p is not None and dict(p.levels) == {"LEFT": 0, "INV": 1, "FEE-1": 0}


def test_credits_on_account_take_the_oldest_items_out_of_dunning(policy):
    credit = OpenItem("CN", AS_OF - timedelta(days=50), Decimal("-500.00"), "credit_note")
    position = dunning_position([overdue("OLD", 60), overdue("NEW", 20), credit], AS_OF)
    assert [i.number for i in leveled_items(position)] == ["NEW"]


def test_the_next_climb_names_the_day_the_level_and_the_item(policy):
    book = ItemBook(levels={"A": ItemLevel(1, AS_OF - timedelta(days=3))})
    position = dunning_position([overdue("A", 4), overdue("B", 0)], AS_OF)
    ahead = next_climb(position, book, policy.dunning.levels, min_gap=7)
    assert ahead is not None
    # A: second notice 15 days after due (11 days ahead), 7 days after its reminder (4 ahead).
    assert (ahead.on, ahead.level.level, ahead.number) == (AS_OF + timedelta(days=11), 2, "A")


def test_a_repeated_notice_level_gets_its_own_deterministic_suffix():
    assert repeat_suffix(2, {}) == ""
    assert repeat_suffix(2, {1: 1, 2: 1}) == "-2"
    assert repeat_suffix(2, {2: 2}) == "-3"
