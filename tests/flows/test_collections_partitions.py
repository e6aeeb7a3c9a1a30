"""A partitioned collections run sends exactly what a single-process run sends.

Here no deployment serves the helpers (the harness has no workers): the run says so and does
every partition itself, through the same claims. tests/e2e/test_scale_out.py runs the same with a
Prefect server on PostgreSQL, a work pool and two workers."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bench.collections import _digest
from bench.portfolio import generate
from credit.app import App
from credit.db.models import Notice, WorkPartition
from credit.settings import Settings
from tests.conftest import TEST_COMPANY

AS_OF = date(2027, 3, 2)


@pytest.fixture(autouse=True)
def _harness(prefect_api_url):
    return prefect_api_url


def _run(monkeypatch, tmp_path: Path, db: Path, name: str, **params) -> tuple[dict, str]:
    from flows.collections import collections

    url = f"sqlite:///{db}"
    monkeypatch.setenv("CREDIT_DATABASE_URL", url)
    monkeypatch.setenv("CREDIT_OUTBOX_DIR", str(tmp_path / f"outbox-{name}"))
    result = collections(as_of=AS_OF, **params)
    return result, _digest(url)


def test_a_partitioned_run_equals_a_single_process_run_notice_for_notice(
    tmp_path, monkeypatch, credit_env
):
    source = tmp_path / "portfolio.db"
    generate(f"sqlite:///{source}", customers=150, invoices=1200, seed=7, as_of=AS_OF)
    single_db, parted_db = tmp_path / "single.db", tmp_path / "parted.db"
    shutil.copyfile(source, single_db)
    shutil.copyfile(source, parted_db)

    single, single_digest = _run(monkeypatch, tmp_path, single_db, "single")
    parted, parted_digest = _run(monkeypatch, tmp_path, parted_db, "parted", partitions=3)

    sent = single["counts"]["sent"]
    print(f"single: {single['counts']}; partitioned: {parted['counts']}")
    assert sent > 100 and parted["counts"] == single["counts"]
    assert parted["levels"] == single["levels"]
    assert parted_digest == single_digest  # every key, subject, text and HTML the same
    assert [p["part"] for p in parted["partitions"]] == [0, 1, 2]
    assert sum(p["customers"] for p in parted["partitions"]) == parted["customers"]

    app = App(
        Settings.load(
            env_file=None,
            environ={"CREDIT_DATABASE_URL": f"sqlite:///{parted_db}", **TEST_COMPANY},
        )
    )
    with app.uow() as uow:
        parts = uow.session.exec(select(WorkPartition)).all()
        statuses = {p.status for p in parts}
        notices = uow.session.exec(select(Notice)).all()
    app.engine.dispose()
    assert statuses == {"done"} and len(parts) == 3
    assert all(n.status == "sent" for n in notices)
    # Every notice delivered once: one .eml per dunning notice, no more.
    files = list((tmp_path / "outbox-parted").glob("*.eml"))
    assert len(files) == len(notices) == sent
