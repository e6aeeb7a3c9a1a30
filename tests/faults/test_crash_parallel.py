"""Scenario 1 again with the parallel run: two processes of one machine work partitions of the
collections run (the default of a large run), killed at checkpoints and started again.

The fixtures (portfolio, the run never killed, the SMTP server) are scenario 1's.
"""

# ruff: noqa: F811  (the fixtures imported from scenario 1 are named as arguments)
from __future__ import annotations

import shutil
import signal
from collections import Counter

import pytest

from tests.faults.test_crash import (  # noqa: F401
    portfolio,
    reference,
    run,
    smtp,
    state,
    wait_out_claims,
)

pytestmark = pytest.mark.slow


# The parallel run (two processes of one machine working partitions, each sending what it
# queued): the crash point is in both processes' environment, so either may die first; the
# run's own process dying takes its helper with it, a helper dying alone leaves its partition
# to the run, which finishes. Either way, one more run leaves exactly what a run never killed
# leaves. The lease is longer than the single run's: a message's lease must outlast making its
# PDF and waiting for the database's write lock while the other process writes a batch (a
# production lease is 300 s).
PARALLEL_LEASE = 15
PARALLEL = [
    ("collections.customer", 20),
    ("collections.hold", 2),
    ("delivery.accepted", 10),
]


@pytest.mark.parametrize(("point", "nth"), PARALLEL, ids=[f"{p}:{n}" for p, n in PARALLEL])
def test_a_parallel_run_killed_at_a_checkpoint_and_started_again(
    point, nth, portfolio, reference, smtp, tmp_path
):
    inbox, port = smtp
    db = tmp_path / "credit.db"
    shutil.copyfile(portfolio, db)
    inbox.messages.clear()

    killed = run(db, port, crash=f"{point}:{nth}", processes=2, lease=PARALLEL_LEASE)
    assert killed.returncode in (0, -signal.SIGKILL), (killed.returncode, killed.stderr[-2000:])
    # Each process sends after each partition, so a run killed while dunning may leave a notice
    # claimed by the other process: it is free again once that claim's lease ends.
    wait_out_claims(db)
    again = run(db, port, processes=2, lease=PARALLEL_LEASE)
    assert again.returncode == 0, again.stderr[-2000:]

    got = state(db)
    assert got["audit_ok"]
    assert got["held"] == reference["held"]
    assert got["steps"] == reference["steps"] and set(got["steps"].values()) == {1}
    assert got["notices"] == reference["notices"]  # same keys, all sent, same text
    mailed = Counter(key for key, _ in inbox.messages)
    assert set(mailed) == reference["mailed"]
    twice = {key: n for key, n in mailed.items() if n > 1}
    if point == "delivery.accepted":
        # at most one message per process that died after the server accepted it, each sent
        # again with the same Message-ID
        assert len(twice) <= 2 and set(twice.values()) <= {2}
        for key in twice:
            assert len({mid for k, mid in inbox.messages if k == key}) == 1
    else:
        assert twice == {}
