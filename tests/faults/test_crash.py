"""Scenario 1: a collections run over 10,000 invoices (100 customers) is killed with SIGKILL at
each checkpoint (several points of each), then started again: nothing is missing, nothing is
sent twice, except the one message a mail server had accepted when the sender died, which is
reported and carries the same Message-ID the second time.

The run is a real subprocess (``tests.faults.collect_run``: the flow's steps without Prefect's
start-up), on a real SQLite file, mailing a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from bench.portfolio import generate
from credit import audit, services
from credit.app import App
from credit.db.models import CreditLine, Customer, DunningAction, Notice
from credit.settings import Settings
from tests.conftest import REPO, TEST_COMPANY
from tests.faults.sizes import CRASH_CUSTOMERS, CRASH_INVOICES

pytestmark = pytest.mark.slow

AS_OF = date(2027, 3, 1)
LEASE = 2  # seconds a sender holds a claimed notice (CREDIT_DELIVERY_LEASE_SECONDS)

# (checkpoint, which time it is reached): see credit/faults.py
SCENARIOS = [
    ("collections.selected", 1),
    ("collections.customer", 1),
    ("collections.customer", 40),
    ("collections.decided", 1),
    ("collections.decided", 2),
    ("collections.committed", 1),
    ("collections.committed", 2),
    ("collections.hold", 1),
    ("collections.hold", 5),
    ("delivery.accepted", 1),
    ("delivery.accepted", 40),
]


# What the SMTP servers read of a message: its headers (the body is not parsed).
HEADERS = BytesHeaderParser()


class Inbox:
    """What the SMTP server accepted: (notice key, Message-ID) per message, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        m = HEADERS.parsebytes(envelope.content)
        self.messages.append((m["X-Credit-Notice-Key"], m["Message-ID"]))
        return "250 OK"


@pytest.fixture(scope="session")
def smtp():
    from aiosmtpd.controller import Controller

    from tests.integration.test_notices import free_port

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@contextmanager
def once_per_session(tmp_path_factory, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder that the session's test processes (pytest-xdist workers) share, held under a lock:
    (the folder, whether it was made before). Scenario 1 and its parallel variant start from the
    same portfolio and compare with the same run never killed: made once, whichever process needs
    it first, not once per module and process."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's basetemp is a folder of the session's
    folder = base / name
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = (folder / "done").exists()
        folder.mkdir(exist_ok=True)
        yield folder, made
        (folder / "done").touch()


@pytest.fixture(scope="session")
def portfolio(tmp_path_factory) -> Path:
    with once_per_session(tmp_path_factory, "crash-portfolio") as (folder, made):
        source = folder / "portfolio.db"
        if not made:
            build_portfolio(source)
    return source


def build_portfolio(source: Path) -> None:
    source.unlink(missing_ok=True)  # what a process that failed building it left
    written = generate(
        f"sqlite:///{source}",
        customers=CRASH_CUSTOMERS,
        invoices=CRASH_INVOICES,
        seed=3,
        as_of=AS_OF - timedelta(weeks=3),  # the ledger as it stood at the first of the runs
    )
    assert written["invoice"] >= CRASH_INVOICES
    # Three weekly runs before: reminders, second notices, final demands; the run under test
    # then puts lines on hold too (one level per run, at least 7 days apart). No payment came
    # in meanwhile: a live run refuses a ledger that holds payments dated after it.
    app = App(
        Settings.load(
            env_file=None,
            environ={
                "CREDIT_DATABASE_URL": f"sqlite:///{source}",
                "CREDIT_OUTBOX_DIR": str(source.parent / "outbox"),
                "CREDIT_LETTERS_DIR": str(source.parent / "letters"),
                **TEST_COMPANY,
            },
        )
    )
    for weeks in (3, 2, 1):
        day = AS_OF - timedelta(weeks=weeks)
        ids = services.collection_candidates(app, as_of=day)
        services.dun_customers(app, customer_ids=ids, as_of=day, dry_run=False)
    services.deliver(app)
    app.engine.dispose()


def run(
    db: Path, port: int, crash: str | None = None, processes: int = 1, lease: int = LEASE
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(
        CREDIT_DATABASE_URL=f"sqlite:///{db}",
        CREDIT_OUTBOX_DIR=str(db.parent / "outbox"),
        CREDIT_LETTERS_DIR=str(db.parent / "letters"),
        CREDIT_SMTP_HOST="127.0.0.1",
        CREDIT_SMTP_PORT=str(port),
        CREDIT_DELIVERY_LEASE_SECONDS=str(lease),
        CREDIT_SMTP_TIMEOUT="1",
        **TEST_COMPANY,
    )
    if crash:
        env["CREDIT_CRASH_AT"] = crash
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.faults.collect_run",
            AS_OF.isoformat(),
            "--batch",
            "25",
            "--processes",
            str(processes),
        ],  # fmt: skip
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def state(db: Path) -> dict[str, Any]:
    """What the run left: every notice (key, status, digest of its text), every dunning step,
    the lines on hold, and whether the audit chain holds."""
    app = App(
        Settings.load(
            env_file=None, environ={"CREDIT_DATABASE_URL": f"sqlite:///{db}", **TEST_COMPANY}
        )
    )
    with app.uow() as uow:
        s = uow.session
        sent = {
            n.idempotency_key: (
                n.status,
                n.channel,
                hashlib.sha256(f"{n.subject}\n{n.text}\n{n.html}".encode()).hexdigest(),
            )
            for n in s.exec(select(Notice))
        }
        steps = Counter(
            (a.customer_id, a.currency, a.level, a.as_of) for a in s.exec(select(DunningAction))
        )
        held = sorted(
            s.exec(
                select(Customer.code)
                .join(CreditLine, col(CreditLine.customer_id) == col(Customer.id))
                .where(CreditLine.status == "on_hold")
            )
        )
        chain = audit.verify(s)
    app.engine.dispose()
    return {"notices": sent, "steps": steps, "held": held, "audit_ok": chain.ok}


def wait_out_claims(db: Path) -> None:
    """Wait until the last lease on an unsent notice has ended (half a second more): what a
    killed sender had claimed is free again for the next run."""
    app = App(
        Settings.load(
            env_file=None, environ={"CREDIT_DATABASE_URL": f"sqlite:///{db}", **TEST_COMPANY}
        )
    )
    with app.uow() as uow:
        last = uow.session.exec(
            select(func.max(Notice.claimed_until)).where(Notice.status != "sent")
        ).one()
    app.engine.dispose()
    if last is not None:
        ends = last.replace(tzinfo=UTC) if last.tzinfo is None else last
        time.sleep(max((ends - datetime.now(UTC)).total_seconds(), 0) + 0.5)


@pytest.fixture(scope="session")
def reference(portfolio, smtp, tmp_path_factory) -> dict[str, Any]:
    """The same run on a copy, never killed."""
    with once_per_session(tmp_path_factory, "crash-reference") as (folder, made):
        if not made:
            got = reference_run(portfolio, smtp, folder / "credit.db")
            (folder / "reference.pickle").write_bytes(pickle.dumps(got))
        return pickle.loads((folder / "reference.pickle").read_bytes())


def reference_run(portfolio: Path, smtp, db: Path) -> dict[str, Any]:
    inbox, port = smtp
    shutil.copyfile(portfolio, db)
    inbox.messages.clear()
    done = run(db, port)
    assert done.returncode == 0, done.stderr
    got = state(db)
    mailed = Counter(key for key, _ in inbox.messages)
    assert set(mailed.values()) == {1}
    got["mailed"] = set(mailed)
    got["figures"] = json.loads(done.stdout)
    assert got["figures"]["levels"].get("credit_hold", 0) >= 10 and len(got["held"]) >= 10
    assert len(mailed) >= 40
    return got


@pytest.mark.parametrize(("point", "nth"), SCENARIOS, ids=[f"{p}:{n}" for p, n in SCENARIOS])
def test_killed_at_a_checkpoint_and_started_again(point, nth, portfolio, reference, smtp, tmp_path):
    inbox, port = smtp
    db = tmp_path / "credit.db"
    shutil.copyfile(portfolio, db)
    inbox.messages.clear()

    killed = run(db, port, crash=f"{point}:{nth}")
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    before_restart = len(inbox.messages)
    if point.startswith("delivery."):
        wait_out_claims(db)  # a claimed notice is free again once its sender's lease ends
    again = run(db, port)
    assert again.returncode == 0, again.stderr[-2000:]
    figures = json.loads(again.stdout)

    got = state(db)
    assert got["audit_ok"]
    assert got["held"] == reference["held"]
    assert got["steps"] == reference["steps"] and set(got["steps"].values()) == {1}
    assert got["notices"] == reference["notices"]  # same keys, all sent, same text
    mailed = Counter(key for key, _ in inbox.messages)
    assert set(mailed) == reference["mailed"]  # 0 missing
    twice = {key: n for key, n in mailed.items() if n > 1}
    if point == "delivery.accepted":
        # The one message the server had accepted when the sender died: at most one, reported
        # by the run that sent it again, with the same Message-ID both times.
        assert len(twice) <= 1 and set(twice.values()) <= {2}
        assert figures["delivery"]["repeated"] == 1
        for key in twice:
            ids = {mid for k, mid in inbox.messages if k == key}
            assert len(ids) == 1, ids
    else:
        assert twice == {}
    print(
        f"{point}:{nth}: killed after {before_restart} mail(s); after the restart "
        f"{len(mailed)} notices mailed, {sum(twice.values()) - len(twice)} duplicate(s), "
        f"{len(got['held'])} lines on hold, {sum(got['steps'].values())} dunning steps"
    )
