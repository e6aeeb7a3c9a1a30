"""The review benchmark's sides research every due customer, without an analyst, alike; the plain
side does the whole job the real step does (the audit trail, the risk signals, the alerts)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import func, select, text

from bench.portfolio import generate
from bench.review import bare, outcome, real_services
from credit.db.engine import make_engine
from credit.db.models import CreditAssessment, RiskSignal
from tests.conftest import scratch_postgres

AS_OF = date(2027, 3, 1)
SIDES = ("bare", "plain", "real")


def _portfolio(url: str) -> dict:
    return generate(
        url, customers=40, invoices=300, seed=5, as_of=AS_OF, lines_share=1.0, due_share=0.5
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def copies(request, tmp_path) -> Iterator[tuple[dict[str, str], dict]]:
    """One copy of the same portfolio per side, and what the generator wrote."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            source = tmp_path / "portfolio.db"
            written = _portfolio(f"sqlite:///{source}")
            urls = {}
            for side in SIDES:
                shutil.copyfile(source, tmp_path / f"{side}.db")
                urls[side] = f"sqlite:///{tmp_path / side}.db"
        else:
            urls = {side: stack.enter_context(scratch_postgres()) for side in SIDES}
            written = [_portfolio(url) for url in urls.values()][0]
        yield urls, written


def test_every_side_rates_every_due_customer_alike_and_plain_does_the_whole_job(copies):
    urls, written = copies
    counted = bare(urls["bare"], AS_OF)
    counted_plain = bare(urls["plain"], AS_OF, full=True)
    real_services(urls["real"], AS_OF)
    b, p, r = (outcome(urls[side]) for side in SIDES)

    assert 0 < written["due_on_as_of"] < 40
    assert counted["complete"] == counted_plain["complete"] == written["due_on_as_of"]
    assert b["complete"] == p["complete"] == r["complete"] == written["due_on_as_of"]
    assert counted["awaiting"] == b["awaiting"] == r["awaiting"] == 0  # the rating carried over
    assert b["ratings"] == p["ratings"] == r["ratings"]
    assert b["digest"] == p["digest"] == r["digest"]  # the same decisions

    # the plain side writes what the real step writes: two events per review and one per new
    # signal, the same signals and alerts, and the chain still verifies
    assert r["events"]["assessment.collect"] == r["events"]["assessment.complete"] == r["complete"]
    assert r["signals"] > 0 and r["alerts"] > 0
    assert p["events"] == r["events"] and p["written"] == r["written"]
    assert p["signals"] == r["signals"] and p["alerts"] == r["alerts"]
    assert p["chain"] and r["chain"]
    assert b["events"] == {"policy.publish": 1} and b["signals"] == 0  # the stricter bound

    bare_again = bare(urls["bare"], AS_OF)  # a rerun finds the reviews made for this date
    assert bare_again["complete"] == 0 and outcome(urls["bare"])["complete"] == b["complete"]
    plain_again = bare(urls["plain"], AS_OF, full=True)
    assert plain_again["complete"] == 0 and outcome(urls["plain"]) == p

    # the rows the plain side numbered itself leave the next ids free for the product
    engine = make_engine(urls["plain"])
    with engine.begin() as conn:
        for table, model in (("credit_assessment", CreditAssessment), ("risk_signal", RiskSignal)):
            last = conn.execute(select(func.max(model.id))).scalar()
            if conn.dialect.name == "postgresql":
                following = conn.execute(
                    text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
                ).scalar()
                assert following == last + 1
    engine.dispose()
