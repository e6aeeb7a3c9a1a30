"""The risk scan in batches records, audits, flags and alerts exactly what scanning each
customer in its own transaction does; a batch that fails is scanned again customer by customer."""

from __future__ import annotations

from credit import audit
from credit.app import App
from credit.services import risk
from credit.services.risk import scan_risk
from tests.integration.test_research_batch import (
    DAY,
    copy,
    portfolio,  # noqa: F401  # the module's portfolio fixture
    recorded,
    with_broken_promises,
)


def one_at_a_time(app: App, ids: list[int]) -> dict[str, int]:
    new = high = 0
    for cid in ids:
        _, found = risk._scan_one(app, cid, DAY)
        new += len(found)
        high += any(r.severity == "high" for r in found)
    return {"new": new, "high": high}


def test_batches_record_what_one_customer_at_a_time_records(portfolio, tmp_path, caplog):  # noqa: F811
    one, many = copy(portfolio, tmp_path, "one"), copy(portfolio, tmp_path, "many")
    ids = with_broken_promises(one)
    assert ids == with_broken_promises(many)
    alone = one_at_a_time(one, ids)
    batched = scan_risk(many, as_of=DAY, customer_ids=ids, batch_size=7)
    assert "rolled back" not in caplog.text  # every batch went through as one
    assert {"new": batched["new"], "high": batched["high"]} == alone
    assert alone["new"] > 10 and alone["high"] > 3  # the portfolio raises signals, high ones too
    a, b = recorded(one), recorded(many)
    assert [n for n in a["notices"] if n[1] == "risk_alert"]  # the credit team was alerted
    for part in a:
        assert a[part] == b[part], part
    with many.uow() as uow:
        assert audit.verify(uow.session).ok
    # a second scan finds nothing new, in batches as alone
    assert scan_risk(many, as_of=DAY, customer_ids=ids, batch_size=7)["new"] == 0
    assert recorded(many) == b


def test_a_scan_batch_that_fails_is_redone_customer_by_customer(
    portfolio,  # noqa: F811
    tmp_path,
    monkeypatch,
    caplog,
):
    healthy, failing = copy(portfolio, tmp_path, "healthy"), copy(portfolio, tmp_path, "failing")
    ids = with_broken_promises(healthy)
    assert ids == with_broken_promises(failing)
    expected = scan_risk(healthy, as_of=DAY, customer_ids=ids, batch_size=10)
    real = risk.write_signals

    def refused(app, s, known):  # the second batch's insert fails (a concurrent duplicate)
        if any(r.customer_id in ids[10:20] for r in known.pending):
            raise RuntimeError("duplicate fingerprint")
        return real(app, s, known)

    monkeypatch.setattr(risk, "write_signals", refused)
    got = scan_risk(failing, as_of=DAY, customer_ids=ids, batch_size=10)
    assert "risk scan of 10 customer(s) rolled back (RuntimeError: duplicate fingerprint)" in (
        caplog.text
    )
    assert got == expected
    assert recorded(failing) == recorded(healthy)
