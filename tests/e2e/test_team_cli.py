"""The collections team from the command line, as real processes: the worklist per collector with
its priority, `credit worklist assign` (refused for a non-collector, then done), a dispute opened
with a reason code, an owner and a due date, `credit dispute list`, and the reminder sweep that
reminds its owner once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from credit.app import App
from credit.settings import Settings
from tests.conftest import SAMPLE

DAY = "2026-10-01"


def _open_case(cli, code: str) -> None:
    """A handover case, as a collections run opens one (the run itself is tested elsewhere)."""
    from sqlmodel import select

    from credit.db.models import CollectionCase, Customer

    a = App(Settings.load(env_file=None, environ=cli.env))
    with a.uow() as uow:
        s = uow.session
        c = s.exec(select(Customer).where(Customer.code == code)).one()
        s.add(
            CollectionCase(customer_id=c.id, currency="EUR", episode=1, reason="handover",
                           level=5, opened_on=date.fromisoformat(DAY))
        )  # fmt: skip
        uow.commit()
    a.engine.dispose()


@pytest.mark.slow  # a dozen `credit` processes, one running a flow
def test_assign_cases_and_own_disputes_from_the_command_line(cli):
    cli("init")
    for kind in ("customers", "invoices"):
        cli("import", kind, str(SAMPLE / f"{kind}.csv"))
    _open_case(cli, "C-1007")

    [row] = cli.json("worklist", "--as", "cora.collector", "--as-of", DAY)
    assert row["customer"] == "C-1007" and row["collector"] is None  # unassigned: hers to see
    days, amount = row["oldest_overdue_days"], Decimal(row["amount_base"])
    assert days > 0 and row["priority"] == int(amount * days / 1000) > 0

    refused = cli("worklist", "assign", "C-1007", "--to", "sam.sales", "--as", "carla.manager",
                  "--reason", "sales knows them", expect=2)  # fmt: skip
    assert "sam.sales does not work collection cases" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = cli("worklist", "assign", "C-1007", "--to", "cora.collector", "--as", "carla.manager",
               "--reason", "she knows their CFO")  # fmt: skip
    assert "C-1007: 1 open case(s) assigned to cora.collector" in done.stdout
    [mine] = cli.json("worklist", "--collector", "cora.collector", "--as-of", DAY)
    assert mine["collector"] == "cora.collector"
    assert cli.json("worklist", "--collector", "ben.manager", "--as-of", DAY) == []
    table = cli("worklist", "--as", "cora.collector", "--as-of", DAY).stdout
    assert "priority" in table and "cora.collector" in table
    [event] = [e for e in cli.json("audit", "list", "--entity", "C-1007")
               if e["action"] == "worklist.assigned"]  # fmt: skip
    assert event["reason"] == "she knows their CFO" and event["actor"] == "carla.manager"

    bad = cli("dispute", "open", "INV-1007-OPEN1", "--reason", "x", "--code", "weather",
              "--as", "cora.collector", "--as-of", DAY, expect=2)  # fmt: skip
    assert "the dispute code 'weather' is not one of the policy's codes" in bad.stderr
    opened = cli("dispute", "open", "INV-1007-OPEN1", "--reason", "pallet missing", "--code",
                 "delivery", "--owner", "sam.sales", "--due", "2026-10-05", "--as",
                 "cora.collector", "--as-of", DAY)  # fmt: skip
    assert "(delivery, due 2026-10-05, owner sam.sales (notified))" in opened.stdout
    [listed] = cli.json("dispute", "list", "--owner", "sam.sales", "--as-of", "2026-10-07")
    assert (listed["code"], listed["due_on"], listed["age_days"], listed["days_past_due"]) == (
        "delivery", "2026-10-05", 6, 2,
    )  # fmt: skip
    assert "delivery" in cli("dispute", "list", "--as-of", "2026-10-07").stdout

    swept = cli("approvals", "sweep", "--as-of", "2026-10-07")
    assert "1 reminder to their owners" in swept.stdout
    again = cli("approvals", "sweep", "--as-of", "2026-10-08")
    assert "reminder to their owners" not in again.stdout  # once
    kinds = [n["kind"] for n in cli.json("notices", "list") if n["kind"].startswith("dispute")]
    assert sorted(kinds) == ["dispute_assigned", "dispute_reminder"]
