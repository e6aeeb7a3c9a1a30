"""The pure rules of instalment plans (checked, judged instalment by instalment) and of
write-offs (routed by amount; bad debt counted in its window)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from credit.domain import instalments, write_offs
from credit.domain.instalments import Instalment
from credit.domain.policy_plans import Plans

D = date(2027, 3, 1)


def plan(*statuses: str) -> list[Instalment]:
    """Three instalments of 100.00 on the 10th, 20th and 30th of March."""
    days = (date(2027, 3, 10), date(2027, 3, 20), date(2027, 3, 30))
    return [Instalment(n + 1, days[n], Decimal("100.00"), s) for n, s in enumerate(statuses)]


def judged(p: list[Instalment], on: date, paid: dict[date, str], grace: int = 0, **kw):
    def paid_by(day: date) -> Decimal:
        return sum((Decimal(v) for d, v in paid.items() if d <= day), Decimal(0))

    return [
        (v.seq, v.owed_so_far, v.paid, v.kept)
        for v in instalments.judge(p, as_of=on, grace_days=grace, tolerance=Decimal("1.00"),
                                   nothing_overdue=kw.get("nothing_overdue", False),
                                   paid_by=paid_by)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("dated", "why"),
    [
        ([(D, "100")], "at least two instalments"),
        ([(D, "100")] * 13, "more than the policy's plans.max_instalments (12)"),
        ([(D, "100"), (D, "100")], "must ascend"),
        ([(D - timedelta(days=1), "100"), (D, "100")], "is before today"),
        ([(D, "100"), (D + timedelta(days=1), "0")], "is not a positive amount"),
        ([(D, "1"), (D + timedelta(days=366), "1")], "more than 365 days ahead"),
    ],
)
def test_a_plan_is_refused_with_the_reason(dated, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        instalments.check_plan([(d, Decimal(a)) for d, a in dated], as_of=D, max_instalments=12,
                               max_days=365)  # fmt: skip


def test_each_instalment_is_judged_after_its_date_and_grace_on_what_was_paid_so_far():
    p = plan("open", "open", "open")
    assert judged(p, date(2027, 3, 10), {}) == []  # on its date: not yet
    assert judged(p, date(2027, 3, 12), {}, grace=2) == []  # within the grace days
    # paid 99.00 by the 10th: within the tolerance of 1.00, kept
    assert judged(p, date(2027, 3, 11), {date(2027, 3, 10): "99.00"}) == [
        (1, Decimal("100.00"), Decimal("99.00"), True)]  # fmt: skip
    # a payment after the date (and its grace) does not count for it
    assert judged(p, date(2027, 3, 12), {date(2027, 3, 11): "100.00"}) == [
        (1, Decimal("100.00"), Decimal("0"), False)]  # fmt: skip
    # a late run judges every instalment due, in order, and stops at the first broken one
    paid = {date(2027, 3, 5): "150.00"}
    assert judged(p, date(2027, 4, 1), paid) == [
        (1, Decimal("100.00"), Decimal("150.00"), True),
        (2, Decimal("200.00"), Decimal("150.00"), False),
    ]
    # what was judged before is not judged again, but counts in what is due so far
    assert judged(plan("kept", "open", "open"), date(2027, 3, 21), {D: "200.00"}) == [
        (2, Decimal("200.00"), Decimal("200.00"), True)]  # fmt: skip
    # nothing overdue any more: kept whatever was paid
    assert judged(p, date(2027, 3, 11), {}, nothing_overdue=True)[0][3] is True


def test_due_for_judging_and_the_next_open_instalment():
    p = plan("kept", "open", "open")
    assert not instalments.due_for_judging(p, as_of=date(2027, 3, 20), grace_days=0)
    assert instalments.due_for_judging(p, as_of=date(2027, 3, 21), grace_days=0)
    assert instalments.next_open(p).seq == 2
    assert instalments.next_open(plan("kept", "kept", "broken")) is None


def test_write_offs_are_routed_by_their_levels_or_the_authority_matrix(policy):
    def roles(pol, amount):
        return [lv.role for lv in write_offs.route(pol, amount=amount, currency="EUR")]

    matrix = policy.model_copy(update={"plans": Plans()})  # no levels of its own
    assert roles(matrix, Decimal("50000")) == ["credit_manager"]  # the authority matrix's
    assert roles(matrix, Decimal("50000.01")) == ["credit_manager", "finance_director"]
    assert roles(policy, Decimal("5000.01")) == ["credit_manager", "finance_director"]  # shipped
    own = policy.model_copy(update={"plans": Plans(write_off_levels=[
        {"level": 1, "role": "credit_manager", "up_to": "5000"},
        {"level": 2, "role": "finance_director"}])})  # fmt: skip
    assert roles(own, Decimal("5000")) == ["credit_manager"]
    assert roles(own, Decimal("5000.01")) == ["credit_manager", "finance_director"]
    unconverted = write_offs.route(own, amount=None, currency="CHF")
    assert [lv.role for lv in unconverted] == ["credit_manager", "finance_director"]
    assert "without a rate" in unconverted[0].reason


def test_write_off_levels_are_checked_like_the_authority_matrix():
    with pytest.raises(ValidationError, match="only the last of plans.write_off_levels"):
        Plans(write_off_levels=[{"level": 1, "role": "credit_manager"},
                                {"level": 2, "role": "cfo"}])  # fmt: skip
    with pytest.raises(ValidationError, match="must ascend"):
        Plans(write_off_levels=[{"level": 1, "role": "a", "up_to": "10"},
                                {"level": 2, "role": "b", "up_to": "5"},
                                {"level": 3, "role": "c"}])  # fmt: skip
    assert Plans().write_off_proposers == ["collector"]


def test_bad_debt_counts_write_offs_booked_in_the_window():
    booked = [
        write_offs.WrittenOff(date(2027, 1, 31), "A", "B", Decimal("100")),  # before the window
        write_offs.WrittenOff(date(2027, 2, 1), "A", "B", Decimal("200")),
        write_offs.WrittenOff(date(2027, 3, 5), "C", "unrated", Decimal("300")),
        write_offs.WrittenOff(date(2027, 3, 6), "C", "unrated", Decimal("400")),  # after
    ]
    figures = write_offs.bad_debt(booked, start=date(2027, 1, 31), end=date(2027, 3, 5))
    assert figures.written_off == Decimal("500") and figures.write_offs == 2
    assert figures.by_month == {"2027-02": Decimal("200"), "2027-03": Decimal("300")}
    assert figures.by_rating == {"B": Decimal("200"), "unrated": Decimal("300")}
