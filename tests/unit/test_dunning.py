from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from credit.domain.dunning import OpenItem, aging, due_level, dunning_position, next_dunning_level

AS_OF = date(2026, 11, 1)


def item(days_overdue: int, amount: str, number: str = "I1") -> OpenItem:
    return OpenItem(number, AS_OF - timedelta(days=days_overdue), Decimal(amount))


def test_due_level_follows_the_policy_thresholds(policy):
    assert [due_level(d, policy) for d in (0, 1, 14, 15, 29, 30, 44, 45, 59, 60, 400)] == [
        0,
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
    ]


def test_customer_moves_at_most_one_level_per_run_even_after_downtime(policy):
    position = dunning_position([item(90, "500")], AS_OF)
    levels, current = [], 0
    for _ in range(7):
        step = next_dunning_level(current_level=current, position=position, policy=policy)
        if step is None:
            break
        levels.append(step.level)
        current = step.level
    assert levels == [1, 2, 3, 4, 5]


def test_nothing_is_sent_at_or_below_the_tolerance(policy):
    assert policy.dunning.tolerance == Decimal("10.00")
    at = dunning_position([item(40, "10.00")], AS_OF)
    above = dunning_position([item(40, "10.01")], AS_OF)
    assert next_dunning_level(current_level=0, position=at, policy=policy) is None
    assert next_dunning_level(current_level=0, position=above, policy=policy).level == 1


def test_unallocated_credits_reduce_the_overdue_total_but_never_below_zero(policy):
    position = dunning_position(
        [item(20, "300"), item(5, "200", "I2"), item(0, "-450", "CN1")], AS_OF
    )
    assert position.overdue_total == Decimal("50")
    assert [i.number for i in position.overdue_items] == ["I1", "I2"]
    assert position.oldest_days_overdue == 20
    assert dunning_position([item(20, "100"), item(0, "-450", "CN1")], AS_OF).overdue_total == 0


def test_not_yet_due_invoices_are_not_overdue(policy):
    position = dunning_position([OpenItem("F", AS_OF + timedelta(days=3), Decimal("999"))], AS_OF)
    assert position.overdue_items == []
    assert next_dunning_level(current_level=0, position=position, policy=policy) is None


def test_customer_already_at_the_due_level_gets_nothing_new(policy):
    position = dunning_position([item(16, "500")], AS_OF)
    assert next_dunning_level(current_level=2, position=position, policy=policy) is None


def test_aging_buckets_add_up_to_the_open_balance():
    items = [
        item(0, "100"),
        item(10, "200", "a"),
        item(45, "300", "b"),
        item(75, "400", "c"),
        item(120, "500", "d"),
        item(0, "-50", "cn"),
    ]
    buckets = aging(items, AS_OF)
    assert buckets == {
        "current": Decimal("50"),
        "1-30": Decimal("200"),
        "31-60": Decimal("300"),
        "61-90": Decimal("400"),
        "90+": Decimal("500"),
    }
    assert sum(buckets.values()) == sum(i.open_amount for i in items)
