"""The review benchmark's two sides research every due customer, without an analyst, alike."""

from __future__ import annotations

import shutil
from datetime import date

from bench.portfolio import generate
from bench.review import bare, outcome, real_services

AS_OF = date(2027, 3, 1)


def test_bare_and_real_research_rate_every_due_customer_alike_without_an_analyst(tmp_path):
    source = tmp_path / "portfolio.db"
    written = generate(
        f"sqlite:///{source}",
        customers=40,
        invoices=300,
        seed=5,
        as_of=AS_OF,
        lines_share=1.0,
        due_share=0.5,
    )
    urls = {}
    for side in ("bare", "real"):
        shutil.copyfile(source, tmp_path / f"{side}.db")
        urls[side] = f"sqlite:///{tmp_path / side}.db"

    counted = bare(urls["bare"], AS_OF)
    real_services(urls["real"], AS_OF)
    b, r = outcome(urls["bare"]), outcome(urls["real"])

    assert 0 < written["due_on_as_of"] < 40
    assert counted["complete"] == b["complete"] == r["complete"] == written["due_on_as_of"]
    assert counted["awaiting"] == b["awaiting"] == r["awaiting"] == 0  # the rating was carried over
    assert b["ratings"] == r["ratings"] and b["digest"] == r["digest"]  # the same decisions

    bare_again = bare(urls["bare"], AS_OF)  # a rerun finds the reviews made for this date
    assert bare_again["complete"] == 0 and outcome(urls["bare"])["complete"] == b["complete"]
