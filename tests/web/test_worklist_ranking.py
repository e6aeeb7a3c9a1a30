"""The worklist's amounts and order are kept per business date and, after something is recorded,
recomputed in the background: meanwhile the last ones are shown (and said to be); then the new
ones take over, equal to what `credit worklist` computes."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from credit import services
from credit.services import casework
from tests.conftest import import_sample
from tests.web.test_collections import CASES_DAY, desk  # noqa: F401  (the fixture)

LATER = date(2026, 12, 1)


def page(app):
    return casework.worklist_page(
        app, as_of=CASES_DAY, viewer="cora.collector", filters=casework.WorklistFilters()
    )


def test_after_a_change_the_last_order_is_used_until_the_new_one_is_ready(desk):  # noqa: F811
    app = desk.app
    first = page(app)
    assert first["rows"] and first["reranking"] is False
    assert page(app)["ranked_at"] == first["ranked_at"]  # kept: nothing recorded

    import_sample(app, ("payments",), payments_until=LATER)  # payments arrive: a change
    during = page(app)
    assert during["reranking"] is True and during["ranked_at"] == first["ranked_at"]
    current = {r["customer"]: Decimal(r["amount"]) for r in services.worklist(app, as_of=CASES_DAY)}
    assert {r["customer"]: r["amount"] for r in during["rows"]} == current  # rows are current

    deadline = time.monotonic() + 30
    while (after := page(app))["reranking"]:
        assert time.monotonic() < deadline, "the new order never came"
        time.sleep(0.05)
    assert after["ranked_at"] > first["ranked_at"]
    current = {r["customer"]: Decimal(r["amount"]) for r in services.worklist(app, as_of=CASES_DAY)}
    assert {r["customer"]: r["amount"] for r in after["rows"]} == current
    priorities = [r["priority"] for r in after["rows"] if r["priority"] is not None]
    assert priorities == sorted(priorities, reverse=True)
