"""The dashboard never makes a person wait for a recomputation: after something is recorded it
answers with the figures it computed last (saying so, and when) while newer ones are computed in
the background; then it answers with those."""

from __future__ import annotations

import time
from datetime import date

from credit.services import portfolio
from tests.conftest import import_sample

DAY = date(2026, 12, 1)


def test_a_change_is_answered_with_the_last_figures_until_the_new_ones_are_ready(story):
    first = portfolio.dashboard(story, as_of=DAY)
    assert first["refreshing"] is False and first["computed_at"] is not None
    again = portfolio.dashboard(story, as_of=DAY)
    assert again["refreshing"] is False and again["computed_at"] == first["computed_at"]

    import_sample(story, ("payments",), payments_until=DAY)  # payments come in: figures change
    stale = portfolio.dashboard(story, as_of=DAY)
    assert stale["refreshing"] is True
    assert stale["receivables"] == first["receivables"]  # the figures computed last, marked

    deadline = time.monotonic() + 30
    while (fresh := portfolio.dashboard(story, as_of=DAY))["refreshing"]:
        assert time.monotonic() < deadline, "the background refresh never finished"
        time.sleep(0.05)
    assert fresh["receivables"] < first["receivables"]
    assert fresh == portfolio.dashboard(story, as_of=DAY, wait=True)
