"""Work partitions: claims, leases and take-over, on a real SQLite file (PostgreSQL claims are
exercised by tests/e2e/test_scale_out.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bench.portfolio import generate
from credit.app import App
from credit.db.models import DunningAction, Notice, WorkPartition, utcnow
from credit.services import partitions
from credit.services.collections import collection_candidates
from credit.settings import Settings
from tests.conftest import TEST_COMPANY

AS_OF = date(2027, 3, 2)


@pytest.fixture
def ledger(tmp_path) -> App:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    generate(url, customers=40, invoices=300, seed=5, as_of=AS_OF)
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))
    yield app
    app.engine.dispose()


def _expire(app: App, part: int) -> None:
    with app.uow() as uow:
        uow.session.execute(
            update(WorkPartition)
            .where(WorkPartition.part == part)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        uow.commit()


def test_a_leased_partition_is_not_taken_until_its_lease_ends(ledger):
    ids = collection_candidates(ledger, as_of=AS_OF)
    assert partitions.plan_partitions(ledger, run_key="r", customer_ids=ids, parts=2) == 2
    assert partitions.plan_partitions(ledger, run_key="r", customer_ids=ids, parts=5) == 2
    pid_a, part_a, token_a, first = partitions.claim_partition(ledger, run_key="r", worker="a")
    pid_b, part_b, token_b, second = partitions.claim_partition(ledger, run_key="r", worker="b")
    assert (part_a, part_b) == (0, 1) and sorted(first + second) == sorted(ids)
    assert partitions.claim_partition(ledger, run_key="r", worker="c") is None  # both leased

    _expire(ledger, 0)  # worker a stalls past its lease: c takes the partition over
    pid_c, part_c, token_c, _ = partitions.claim_partition(ledger, run_key="r", worker="c")
    assert (pid_c, part_c, token_c) == (pid_a, 0, token_a + 1)
    with pytest.raises(partitions.LeaseLost):
        partitions.renew_lease(ledger, partition_id=pid_a, worker="a", token=token_a)
    # a's late "done" is not recorded over c's partition
    assert not partitions.finish_partition(
        ledger, partition_id=pid_a, worker="a", token=token_a, summary={"late": True}
    )
    assert partitions.finish_partition(
        ledger, partition_id=pid_c, worker="c", token=token_c, summary={"errors": []}
    )
    done = {p["part"]: p for p in partitions.partition_summaries(ledger, run_key="r")}
    assert done[0]["status"] == "done" and done[0]["worker"] == "c"
    assert done[0]["summary"] == {"errors": []} and done[1]["status"] == "running"


def test_the_run_waits_for_a_held_partition_and_takes_it_over_when_its_worker_dies(ledger):
    ids = collection_candidates(ledger, as_of=AS_OF)
    partitions.plan_partitions(ledger, run_key="r", customer_ids=ids, parts=3)
    dead = partitions.claim_partition(ledger, run_key="r", worker="dead-worker")
    assert dead is not None
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # time passes: the dead worker's lease ends
        slept.append(seconds)
        _expire(ledger, dead[1])

    done = partitions.finish_run(ledger, run_key="r", as_of=AS_OF, dry_run=False, sleep=sleep)
    assert sorted(done) == [0, 1, 2] and len(slept) == 1
    with ledger.uow() as uow:
        steps = uow.session.exec(select(DunningAction)).all()
        keys = [n.idempotency_key for n in uow.session.exec(select(Notice))]
    assert len(keys) == len(set(keys)) == len(steps) > 0
    parts = partitions.partition_summaries(ledger, run_key="r")
    assert {p["status"] for p in parts} == {"done"}
    assert parts[dead[1]]["attempts"] == 2  # claimed twice: by the dead worker, then here


def test_a_retried_run_reopens_only_the_partitions_where_a_customer_failed(ledger):
    ids = collection_candidates(ledger, as_of=AS_OF)
    partitions.plan_partitions(ledger, run_key="r", customer_ids=ids, parts=2)
    for summary in ({"errors": [{"customer": "X"}]}, {"errors": []}):
        pid, _, token, _ = partitions.claim_partition(ledger, run_key="r", worker="w")
        partitions.finish_partition(ledger, partition_id=pid, worker="w", token=token,
                                    summary=summary)  # fmt: skip
    partitions.plan_partitions(ledger, run_key="r", customer_ids=ids, parts=2)
    assert [p["status"] for p in partitions.partition_summaries(ledger, run_key="r")] == [
        "pending",
        "done",
    ]
