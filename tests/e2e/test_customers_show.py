"""`credit customers show` as a credit manager reads it: what the risk signals did to the rating,
what a proposal in approval changes, money written as money, every cleaning fix named, and the
exposure `credit orders check` counts (open orders included)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from credit import services
from credit.app import App
from credit.importers import import_file
from credit.settings import Settings
from tests.conftest import SAMPLE, import_sample

OCTOBER, DECEMBER = date(2026, 10, 1), date(2026, 12, 10)
STRONG = {
    "market_position": Decimal(85),
    "management": Decimal(80),
    "industry_outlook": Decimal(70),
    "reputation": Decimal(85),
}


def _review(app: App, code: str, day: date, key: str, limit: str | None) -> dict:
    collected = services.collect_customer_data(
        app, customer_code=code, as_of=day, requested_by="ben.manager", review_key=key,
        analyst="junior.analyst", requested_limit=Decimal(limit) if limit else None,
        override_reason="sales plan for 2027" if limit else None,
    )  # fmt: skip
    return services.score_assessment(app, assessment_id=collected["assessment_id"])


def _assess_and_route(app: App, code: str, scored: dict, day: date) -> int:
    services.record_qualitative(
        app, customer_code=code, username="junior.analyst", scores=STRONG, comment="leader"
    )
    rid = services.draft_request(app, assessment_id=scored["assessment_id"])
    services.advance_request(app, request_id=rid, as_of=day)
    return rid


def test_customers_show_explains_the_rating_what_changes_and_the_exposure_orders_check_counts(
    cli,
):
    cli("init")
    app = App(Settings.load(env_file=None, environ=cli.env))
    import_sample(app, ("customers", "financials", "invoices", "payments", "orders"))
    with app.uow() as uow:
        import_file(uow.session, kind="fx-rates", path=SAMPLE / "fx_rates.csv", actor="t",
                    dry_run=False, base_currency="EUR")  # fmt: skip
        uow.commit()
    # October: a line for Nordwind, rated A (60 days)
    first = _assess_and_route(app, "C-1001", _review(app, "C-1001", OCTOBER, "oct", None), OCTOBER)
    for user in ("carla.manager", "fiona.director", "victor.cfo"):  # 500,000: three levels
        services.decide(app, subject=services.SUBJECT_REQUEST, subject_id=first, username=user,
                        approve=True, comment="ok", as_of=OCTOBER)  # fmt: skip
    services.publish_request(app, request_id=first, as_of=OCTOBER)
    # December: the direct debit of 1 December bounced; sales ask for 150,000
    second = _review(app, "C-1001", DECEMBER, "dec", "150000")
    rid = _assess_and_route(app, "C-1001", second, DECEMBER)
    _review(app, "C-1009", DECEMBER, "usd", None)  # a USD customer: its ledger is converted
    app.engine.dispose()

    out = cli("customers", "show", "C-1001", "--as-of", "2026-12-10").stdout
    assert "Rating B (combined score 82.44" in out
    assert "Risk effects:\n  rating A capped to B by high signal bounced_payment\n" in out
    assert "condition added: guarantee (by high signal bounced_payment)" in out
    assert "limit cut 50% by high signal bounced_payment: EUR 250,000.00 → EUR 125,000.00" in out
    assert "Requested limit EUR 150,000.00 overrides the recommendation" in out
    assert "150000.0000" not in out and "120000.0000" not in out
    assert (
        f"Changes: request #{rid} (in approval) against the credit line as it stands and "
        "assessment 1 as of 2026-10-01:"
    ) in out
    for line in (
        "limit EUR 500,000.00 → EUR 150,000.00 (-70%)",
        "terms 60 → 45 days (shorter)",
        "conditions none → guarantee (added: guarantee)",
        "rating A → B (worse)",
        "score 80.94 → 82.44 (+1.50)",
    ):
        assert f"  {line}" in out, line
    assert "Credit line: EUR 500,000.00, 60 days, conditions: none, active" in out

    # the exposure is the one `credit orders check` counts: open items + the open order
    assert (
        "Exposure EUR 24,600.00 (what `credit orders check` counts: open items EUR 9,600.00 + "
        "open orders EUR 15,000.00) against the limit EUR 500,000.00: headroom EUR 475,400.00"
    ) in out
    assert "open order SO-1001-077 of 2026-11-25: EUR 15,000.00" in out
    check = json.loads(
        cli("orders", "check", "C-1001", "--amount", "1000", "--as-of", "2026-12-10",
            "--json").stdout
    )  # fmt: skip
    assert Decimal(check["exposure"]) - Decimal(check["order_amount"]) == Decimal("24600.00")
    assert (check["receivables"], check["open_orders"]) == ("9600.00", "15000.00")

    usd = cli("customers", "show", "C-1009", "--as-of", "2026-12-10").stdout
    fixes = [line for line in usd.splitlines() if line.startswith("  fix: ")]
    count = int(usd.split("Cleaning: ")[1].split(" fix")[0])
    assert count > 0 and len(fixes) == count, usd  # every fix named, not only counted
    assert any("converted to EUR" in line for line in fixes)
