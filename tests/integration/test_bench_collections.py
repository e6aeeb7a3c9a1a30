"""The collections benchmark's bounds say what the flow says: the plain side (independent of the
product) tells each customer the same items and totals, and the bare side (the product's context
builder and templates) writes the same notices, byte for byte."""

from __future__ import annotations

import email
import shutil
from datetime import date
from email import policy

import pytest

from bench._db import BENCH_COMPANY
from bench.collections import _digest, _flow_lines, bare
from bench.collections_plain import digest, run
from bench.portfolio import generate

AS_OF = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _harness(prefect_api_url):
    return prefect_api_url


def test_plain_and_bare_sides_say_what_the_flow_says(tmp_path, monkeypatch, credit_env):
    source = tmp_path / "portfolio.db"
    generate(f"sqlite:///{source}", customers=40, invoices=400, seed=5, as_of=AS_OF)
    for side in ("plain", "bare", "flow"):
        shutil.copyfile(source, tmp_path / f"{side}.db")

    plain = run(f"sqlite:///{tmp_path / 'plain.db'}", AS_OF, tmp_path / "out-plain", BENCH_COMPANY)
    notices, bare_digest = bare(f"sqlite:///{tmp_path / 'bare.db'}", AS_OF)

    from flows.collections import collections

    flow_url = f"sqlite:///{tmp_path / 'flow.db'}"
    monkeypatch.setenv("CREDIT_DATABASE_URL", flow_url)
    monkeypatch.setenv("CREDIT_OUTBOX_DIR", str(tmp_path / "out-flow"))
    for name, value in BENCH_COMPANY.items():
        monkeypatch.setenv(name, value)
    sent = collections(as_of=AS_OF)["counts"]["sent"]

    assert sent > 20 and plain["notices"] == plain["files"] == notices == sent
    assert digest(plain["lines"]) == digest(_flow_lines(flow_url, AS_OF))
    assert bare_digest == _digest(flow_url)
    # The plain side's e-mails have the parts the product's have.
    parts = {}
    for side in ("plain", "flow"):
        eml = sorted((tmp_path / f"out-{side}").glob("*.eml"))
        assert len(eml) == sent
        message = email.message_from_bytes(eml[0].read_bytes(), policy=policy.default)
        parts[side] = [p.get_content_type() for p in message.walk()]
        pdf = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
        assert pdf.get_payload(decode=True).startswith(b"%PDF")
    assert parts["plain"] == parts["flow"]
