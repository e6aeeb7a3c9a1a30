from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from credit.domain.dunning import (
    CREDIT_NOTE,
    PAYMENT,
    OpenItem,
    aging,
    due_level,
    dunning_position,
    next_dunning_level,
    within_tolerance_reason,
)

AS_OF = date(2026, 11, 1)


def item(days_overdue: int, amount: str, number: str = "I1") -> OpenItem:
    return OpenItem(number, AS_OF - timedelta(days=days_overdue), Decimal(amount))


def test_due_level_follows_the_policy_after_due_thresholds(policy):
    # Levels 1-4 count from the due date; level 5 (handover) counts from the hold, not here.
    assert [due_level(d, policy) for d in (0, 1, 14, 15, 29, 30, 44, 45, 59, 60, 400)] == [
        0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4,
    ]  # fmt: skip


def test_customer_moves_at_most_one_level_per_run_even_after_downtime(policy):
    # 90 days overdue and never dunned, then a run every day: one level per run, never two at
    # once, and never two levels within the policy's 7 days; the handover 14 days after the hold.
    assert policy.dunning.min_days_between_levels == 7
    sent, current, last = [], 0, None
    for offset in range(60):
        day = AS_OF + timedelta(days=offset)
        position = dunning_position([item(90 + offset, "500")], day)
        step = next_dunning_level(
            current_level=current, position=position, policy=policy, as_of=day,
            previous_sent_on=last,
        )  # fmt: skip
        if step is not None:
            sent.append((offset, step.level))
            current, last = step.level, day
    assert sent == [(0, 1), (7, 2), (14, 3), (21, 4), (35, 5)]


def test_a_leftover_within_the_tolerance_does_not_age_a_new_debt(policy):
    # 5.00 left on a January invoice (tolerated) and a new invoice due 4 days ago: the schedule
    # counts from the new invoice, so only the reminder is due, not the final demand.
    items = [
        OpenItem("OLD", AS_OF - timedelta(days=200), Decimal("5.00")),
        OpenItem("NEW", AS_OF - timedelta(days=4), Decimal("2000.00")),
    ]
    position = dunning_position(items, AS_OF, policy.dunning.tolerance)
    assert position.reference_due_date == AS_OF - timedelta(days=4)
    assert position.oldest_days_overdue == 200  # still listed, and shown as the oldest
    step = next_dunning_level(current_level=1, position=position, policy=policy, as_of=AS_OF,
                              previous_sent_on=AS_OF - timedelta(days=3))  # fmt: skip
    assert step is None  # the second notice waits for day 15 of the new debt
    # Payments on account settle the oldest first: 995.00 on account against 1000.00 old.
    items = [
        OpenItem("OLD", AS_OF - timedelta(days=60), Decimal("1000.00")),
        OpenItem("NEW", AS_OF - timedelta(days=2), Decimal("300.00")),
        OpenItem("payment P1", AS_OF - timedelta(days=50), Decimal("-995.00"), "payment"),
    ]
    position = dunning_position(items, AS_OF, policy.dunning.tolerance)
    assert position.net_open == {"OLD": Decimal("5.00"), "NEW": Decimal("300.00")}
    assert position.reference_due_date == AS_OF - timedelta(days=2)


def test_triggers_after_due_after_previous_and_end_of_month(policy):
    from credit.domain.dunning import trigger_date
    from credit.domain.policy import DunningLevel

    due = date(2026, 1, 20)
    after_due = DunningLevel(
        level=1, name="a", label="A", trigger="after_due", days=10, template="t"
    )
    after_prev = DunningLevel(
        level=2, name="b", label="B", trigger="after_previous", days=7, template="t"
    )
    eom = DunningLevel(level=3, name="c", label="C", trigger="end_of_month", days=15, template="t")
    assert trigger_date(after_due, oldest_due_date=due, previous_sent_on=None) == date(2026, 1, 30)
    assert trigger_date(after_prev, oldest_due_date=due, previous_sent_on=date(2026, 2, 3)) == date(
        2026, 2, 10
    )
    # 15 days after 20 January is 4 February: the level is due on the last day of February.
    assert trigger_date(eom, oldest_due_date=due, previous_sent_on=None) == date(2026, 2, 28)


def test_a_broken_promise_forces_the_next_level_without_waiting(policy):
    position = dunning_position([item(20, "500")], AS_OF)
    assert (
        next_dunning_level(current_level=2, position=position, policy=policy, as_of=AS_OF) is None
    )
    forced = next_dunning_level(
        current_level=2, position=position, policy=policy, as_of=AS_OF, force=True
    )
    assert forced.level == 3


def test_disputed_invoices_are_neither_listed_nor_counted(policy):
    items = [
        item(40, "300"),
        OpenItem("D1", AS_OF - timedelta(days=50), Decimal("900"), disputed=True),
    ]
    position = dunning_position(items, AS_OF)
    assert [i.number for i in position.overdue_items] == ["I1"]
    assert position.overdue_total == Decimal("300") and position.oldest_days_overdue == 40
    assert [i.number for i in position.disputed_items] == ["D1"]


def test_interest_runs_on_what_is_owed_after_payments_on_account():
    from credit.domain.dunning import interest_lines

    items = [item(30, "10000.00", "A")]
    position = dunning_position(
        [*items, OpenItem("payment P", AS_OF - timedelta(days=29), Decimal("-9900.00"), "payment")],
        AS_OF,
    )
    lines = interest_lines(
        position.overdue_items, as_of=AS_OF, annual_rate=Decimal("0.08"), charged_until={},
        net_open=position.net_open,
    )  # fmt: skip
    # 100.00 x 0.08 / 365 x 30 = 0.657... -> 0.66, not 65.75 on the gross 10,000.00
    assert [(ln.open_amount, ln.amount) for ln in lines] == [(Decimal("100.00"), Decimal("0.66"))]


def test_interest_is_rate_over_365_times_days_from_due_or_last_charge():
    from credit.domain.dunning import FEE, interest_lines

    items = [
        item(30, "1000.00", "A"),
        item(10, "365.00", "B"),
        OpenItem("FEE-1", AS_OF - timedelta(days=5), Decimal("40"), FEE),
    ]
    lines = interest_lines(
        items,
        as_of=AS_OF,
        annual_rate=Decimal("0.08"),
        charged_until={"A": AS_OF - timedelta(days=12)},
    )
    # A: 1000 x 0.08 / 365 x 12 = 2.630... -> 2.63; B: 365 x 0.08 / 365 x 10 = 0.80; no interest
    # on the fee.
    assert [(ln.number, ln.days, ln.amount) for ln in lines] == [
        ("A", 12, Decimal("2.63")),
        ("B", 10, Decimal("0.80")),
    ]


def test_a_charge_level_must_say_what_it_charges():
    import pytest
    from pydantic import ValidationError

    from credit.domain.policy import DunningLevel

    with pytest.raises(ValidationError, match="needs a fee or interest"):
        DunningLevel(level=1, name="a", label="A", days=1, template="t", action="charge")
    with pytest.raises(ValidationError, match="need action: charge"):
        DunningLevel(level=1, name="a", label="A", days=1, template="t", fee={"EUR": "40"})


def test_business_days_skip_weekends_and_the_customers_public_holidays():
    from credit.domain.calendar import is_business_day, next_business_day, non_business_reason

    assert next_business_day(date(2026, 10, 31), "DE") == date(2026, 11, 2)  # Sat -> Mon
    assert non_business_reason(date(2026, 12, 25), "DE").startswith("public holiday in DE")
    assert next_business_day(date(2026, 12, 25), "DE") == date(2026, 12, 28)
    # Chinese New Year in Taiwan: Monday 16 to Friday 20 February 2026, then the weekend.
    assert next_business_day(date(2026, 2, 16), "TW") == date(2026, 2, 23)
    assert is_business_day(date(2026, 2, 16), "DE")
    assert is_business_day(date(2026, 12, 24), "US")
    assert next_business_day(date(2026, 7, 4), "ZZ") == date(2026, 7, 6)  # unknown: weekends only


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


def _credit(number: str, amount: str, kind: str) -> OpenItem:
    return OpenItem(number, AS_OF - timedelta(days=3), Decimal(amount), kind)


def test_an_overdue_balance_offset_by_unallocated_credits_names_them_not_a_dispute():
    position = dunning_position(
        [
            item(20, "600", "INV-1"),
            OpenItem("INV-2", AS_OF - timedelta(days=20), Decimal("400"), disputed=True),
            _credit("PAY-9", "-450", PAYMENT),
            _credit("CN-7", "-150", CREDIT_NOTE),
        ],
        AS_OF,
    )
    assert position.overdue_total == 0
    assert within_tolerance_reason(position) == (
        "overdue INV-1 offset by unallocated credits: credit note CN-7, payment on account "
        "PAY-9; disputed: INV-2"
    )


def test_only_disputed_invoices_overdue_is_said_when_that_is_the_cause():
    position = dunning_position(
        [OpenItem("INV-2", AS_OF - timedelta(days=20), Decimal("400"), disputed=True)], AS_OF
    )
    assert within_tolerance_reason(position) == "only disputed invoices are overdue: INV-2"


def test_a_paid_or_tolerated_balance_says_so():
    assert within_tolerance_reason(dunning_position([], AS_OF)) == "overdue balance paid"
    leftover = dunning_position([item(20, "4.00", "INV-1")], AS_OF, Decimal("10"))
    assert within_tolerance_reason(leftover) == "what is left of INV-1 is within the tolerance"
    offset = dunning_position(
        [item(20, "600", "INV-1"), _credit("CN-7", "-600", CREDIT_NOTE)], AS_OF
    )
    assert (
        within_tolerance_reason(offset)
        == "overdue INV-1 offset by unallocated credits: credit note CN-7"
    )


def test_each_day_past_due_falls_in_exactly_one_aging_bucket():
    from credit.domain.dunning import AGING_BUCKETS, aging_bucket

    assert [aging_bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 4000)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+",
    ]  # fmt: skip
    assert [name for name, _, _ in AGING_BUCKETS] == ["current", "1-30", "31-60", "61-90", "90+"]


def test_a_cleared_step_closes_the_episode_and_the_next_one_starts():
    from credit.domain.dunning import DunningState

    assert DunningState() == DunningState(episode=1, level=0, last_day=None)
    taken = DunningState.after_step(episode=2, level=3, on=AS_OF)
    assert (taken.episode, taken.level, taken.last_day, taken.in_dunning) == (2, 3, AS_OF, True)
    cleared = DunningState.after_step(episode=2, level=0, on=AS_OF)
    assert (cleared.episode, cleared.level, cleared.in_dunning) == (3, 0, False)


def test_statuses_are_the_strings_the_database_holds():
    from credit.domain.dunning import OutcomeStatus
    from credit.domain.receivables_status import CaseStatus, PaymentStatus, PromiseStatus

    assert PromiseStatus.BROKEN == "broken" and f"promise.{PromiseStatus.KEPT}" == "promise.kept"
    assert PaymentStatus.RECEIVED == "received" and CaseStatus.CLOSED == "closed"
    assert {s.value for s in OutcomeStatus} >= {"sent", "would_send", "skipped", "error"}
