"""The collector's bulk pace: set for the work, put back after the last bulk work ends."""

from __future__ import annotations

import gc
import threading

import pytest

from credit import gc_pace


@pytest.fixture(autouse=True)
def default_pace():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_bulk_work_slows_the_young_pass_and_puts_the_pace_back():
    with gc_pace.bulk_work():
        assert gc.get_threshold() == (gc_pace.YOUNG, 10, 10 * gc_pace.OLDER)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_failure_inside_puts_the_pace_back():
    with pytest.raises(RuntimeError), gc_pace.bulk_work():
        raise RuntimeError("a batch failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_slower_pace_set_by_the_operator_is_kept_and_restored():
    gc.set_threshold(50_000, 20, 5)
    with gc_pace.bulk_work():
        assert gc.get_threshold() == (50_000, 20, 5 * gc_pace.OLDER)
    assert gc.get_threshold() == (50_000, 20, 5)


def test_nested_and_decorated_uses_restore_after_the_outermost():
    @gc_pace.bulk_work()
    def sweep() -> tuple[int, ...]:
        return gc.get_threshold()

    with gc_pace.bulk_work():
        assert sweep()[0] == gc_pace.YOUNG
        assert gc.get_threshold()[0] == gc_pace.YOUNG  # the inner one ending changed nothing
    assert sweep()[0] == gc_pace.YOUNG
    assert gc.get_threshold() == (700, 10, 10)


def test_two_threads_share_it_until_the_last_one_ends():
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_pace.bulk_work():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with gc_pace.bulk_work():
        thread.start()
        assert entered.wait(5)
    assert gc.get_threshold()[0] == gc_pace.YOUNG  # the other thread still works in bulk
    release.set()
    thread.join(5)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_collector_turned_off_stays_off():
    gc.set_threshold(0)
    with gc_pace.bulk_work():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0


def test_thresholds_set_during_bulk_work_are_left_as_they_are():
    with gc_pace.bulk_work():
        gc.set_threshold(1_000, 5, 5)
    assert gc.get_threshold() == (1_000, 5, 5)
