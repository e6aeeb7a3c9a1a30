"""`credit groups ...`, the group in `credit orders check` and `credit customers show`, and a
temporary limit asked for with `credit reviews start --until` and fallen back by the daily
`credit reviews due --run`, as real processes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from credit import services
from credit.app import App
from credit.importers import import_file
from credit.settings import Settings
from tests.conftest import SAMPLE, import_sample
from tests.integration.test_groups_temporary_limits import review

DAY = "2026-12-01"


def _ledger(cli) -> App:
    cli("init")
    a = App(Settings.load(env_file=None, environ=cli.env))
    import_sample(a, ("customers", "financials", "invoices", "payments", "orders"))
    with a.uow() as uow:
        import_file(uow.session, kind="fx-rates", path=SAMPLE / "fx_rates.csv", actor="t",
                    dry_run=False, base_currency="EUR")  # fmt: skip
        uow.commit()
    for code, limit in (("C-1001", "60000"), ("C-1002", "40000"), ("C-1003", "20000")):
        review(a, code, limit, f"t:{code}")
    return a


@pytest.mark.slow  # fifteen `credit` processes, one running the periodic review flow
def test_groups_hold_an_order_and_a_temporary_limit_falls_back_in_the_daily_run(cli):
    a = _ledger(cli)
    refused = cli(
        "groups", "create", "NORDATLAS", "--name", "Nordwind & Atlas", "--currency", "EUR",
        "--limit", "30000", "--as", "mia.analyst", "--reason", "parent", "--as-of", DAY,
        expect=2,
    )  # fmt: skip
    assert "mia.analyst may not manage customer groups" in refused.stderr
    assert "Traceback" not in refused.stderr
    cli(
        "groups", "create", "NORDATLAS", "--name", "Nordwind & Atlas", "--currency", "EUR",
        "--limit", "30000", "--as", "carla.manager", "--reason", "parent", "--as-of", DAY,
    )  # fmt: skip
    cli("groups", "add", "NORDATLAS", "C-1001", "C-1002", "--as", "carla.manager",
        "--reason", "subsidiaries", "--as-of", DAY)  # fmt: skip
    shown = cli("groups", "show", "NORDATLAS", "--as-of", DAY).stdout
    assert "exposure EUR 24,600.00" in shown and "group limit EUR 30,000.00" in shown
    assert "headroom EUR 5,400.00: within its limit" in shown
    assert "C-1001" in shown and "C-1002" in shown
    listed = cli.json("groups", "list", "--as-of", DAY)
    assert [(g["code"], len(g["members"])) for g in listed] == [("NORDATLAS", 2)]

    held = cli("orders", "check", "C-1002", "--amount", "6000", "--as-of", DAY, expect=1).stdout
    assert "HOLD C-1002" in held
    assert (
        "group NORDATLAS (Nordwind & Atlas, 2 members): exposure EUR 30,600.00 (receivables "
        "EUR 9,600.00 + open orders EUR 15,000.00 + this order EUR 6,000.00) exceeds the group "
        "limit EUR 30,000.00 by EUR 600.00"
    ) in " ".join(held.split())
    cli("orders", "check", "C-1002", "--amount", "4000", "--as-of", DAY)
    page = cli("customers", "show", "C-1002", "--as-of", DAY).stdout
    assert "Group NORDATLAS (Nordwind & Atlas, 2 members): exposure EUR 24,600.00" in page
    cli("groups", "limit", "NORDATLAS", "--limit", "40000", "--as", "carla.manager",
        "--reason", "guarantee", "--as-of", DAY)  # fmt: skip
    cli("orders", "check", "C-1002", "--amount", "6000", "--as-of", DAY)
    cli("groups", "remove", "NORDATLAS", "C-1001", "--as", "carla.manager", "--reason", "sold",
        "--as-of", DAY)  # fmt: skip
    assert cli.json("groups", "show", "NORDATLAS", "--as-of", DAY)["exposure"] == "0.00"

    # A temporary raise for C-1003 through 15 December; the daily run of the 16th falls back.
    too_soon = cli(
        "reviews", "start", "C-1003", "--as", "ben.manager", "--requested-limit", "35000",
        "--reason", "season", "--until", "2026-11-30", "--as-of", DAY, expect=2,
    )  # fmt: skip
    assert "end date 2026-11-30 must be after the review's day 2026-12-01" in too_soon.stderr
    asked = services.request_review(
        a, customer_code="C-1003", requested_by="ben.manager", as_of=date(2026, 12, 1),
        analyst="mia.analyst", requested_limit=Decimal("35000"), override_reason="season",
        until=date(2026, 12, 15),
    )  # fmt: skip
    review(a, "C-1003", "35000", asked["review_key"], as_of=date(2026, 12, 2))
    a.engine.dispose()
    page = cli("customers", "show", "C-1003", "--as-of", "2026-12-10").stdout
    assert "Credit line: EUR 35,000.00" in page
    assert "temporary until 2026-12-15, then EUR 20,000.00" in page
    ran = cli("reviews", "due", "--run", "--as-of", "2026-12-16").stdout
    assert "Temporary limit of C-1003 ended 2026-12-15: EUR 35,000.00 -> EUR 20,000.00" in ran
    page = cli("customers", "show", "C-1003", "--as-of", "2026-12-16").stdout
    assert "Credit line: EUR 20,000.00" in page and "temporary until" not in page
    kinds = [n["kind"] for n in cli.json("notices", "list")]
    assert kinds.count("temporary_limit_expired") == 1
    assert kinds.count("temporary_limit_ended") == 1
