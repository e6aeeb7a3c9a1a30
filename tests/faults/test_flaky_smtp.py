"""Scenario 4: the mail server refuses (4xx), drops connections and hangs for a while, then
recovers. Retries back off exponentially with jitter and are bounded; a notice that fails for
good is visible (`credit notices list --status failed`) and the operator is told; the backlog
drains with no message accepted twice. A real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from email.parser import BytesHeaderParser

import pytest
from sqlmodel import select

from credit import notices, services
from credit.app import App
from credit.db.models import Notice
from credit.settings import Settings
from tests.e2e.conftest import CREDIT
from tests.integration.test_notices import CTX, free_port

pytestmark = pytest.mark.slow

RETRY = 0.2  # CREDIT_DELIVERY_RETRY_SECONDS: the first retry's delay
BOUNCE = "nobody@bounce.example"  # refused for good (550)
GREY = "grey@greylist.example"  # refused "try later" (451), forever


# What the SMTP servers read of a message: its headers (the body is not parsed).
HEADERS = BytesHeaderParser()


class FlakyServer:
    """An SMTP server whose mood the test sets: ok, refuse (451 at DATA), drop (closes the
    connection at DATA) or hang (no answer at DATA until the client gave up; not accepted)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.accepted: list[tuple[str, str]] = []  # (notice key, Message-ID)
        self.sessions = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == BOUNCE:
            return "550 5.1.1 no such mailbox"
        if address == GREY:
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.mode == "refuse":
            return "451 4.3.0 mail system busy, try again later"
        if self.mode == "drop":
            server.transport.close()
            return "421 closing"
        if self.mode == "hang":
            await asyncio.sleep(3)  # the client's timeout is 1 s
            return "451 4.4.2 timeout"
        m = HEADERS.parsebytes(envelope.content)
        self.accepted.append((m["X-Credit-Notice-Key"], m["Message-ID"]))
        return "250 OK"


@pytest.fixture
def flaky(credit_env, monkeypatch):
    from aiosmtpd.controller import Controller

    server = FlakyServer()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CREDIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CREDIT_SMTP_PORT", str(port))
    monkeypatch.setenv("CREDIT_SMTP_TIMEOUT", "1")
    monkeypatch.setenv("CREDIT_DELIVERY_RETRY_SECONDS", str(RETRY))
    app = App(Settings.load())
    services.init_database(app, actor="test")
    yield app, server
    controller.stop()
    app.engine.dispose()


def queue(app: App, n: int) -> None:
    with app.uow() as uow:
        for i in range(n):
            notices.enqueue(
                uow.session,
                app.renderer,
                key=f"flaky:{i}",
                kind="assessment_ready",
                locale="en",
                recipients=[f"buyer{i}@example.com"],
                context=CTX,
            )
        for key, to in (("flaky:bounce", BOUNCE), ("flaky:grey", GREY)):
            notices.enqueue(
                uow.session, app.renderer, key=key, kind="assessment_ready", locale="en",
                recipients=[to], context=CTX,
            )  # fmt: skip
        uow.commit()


def outbox(app: App) -> dict[str, Notice]:
    with app.uow() as uow:
        return {n.idempotency_key: n for n in uow.session.exec(select(Notice))}


def sweep_when_due(app: App) -> dict:
    """Wait until the earliest retry is due, then sweep."""
    waiting = [
        n.claimed_until for n in outbox(app).values() if n.status == "pending" and n.claimed_until
    ]
    if waiting:
        due = min(waiting).replace(tzinfo=UTC) if min(waiting).tzinfo is None else min(waiting)
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.05)
    return services.deliver(app)


def test_a_flaky_mail_server_delays_notices_but_loses_and_repeats_none(flaky):
    app, server = flaky
    queue(app, 120)

    server.mode = "refuse"
    started = datetime.now(UTC)
    first = services.deliver(app)
    finished = datetime.now(UTC)
    assert (first["sent"], first["retried"], first["failed"]) == (0, 121, 1)
    assert first["operator_notice"] is not None  # the bounce, at once (550 is for good)
    retry_at = [
        n.claimed_until.replace(tzinfo=UTC)
        for n in outbox(app).values()
        if n.status == "pending" and n.kind == "assessment_ready"
    ]
    # the first retry comes 0.8 to 1.2 times the base after the attempt
    assert all(
        (t - started).total_seconds() >= 0.8 * RETRY
        and (t - finished).total_seconds() <= 1.2 * RETRY
        for t in retry_at
    )
    gaps = sorted((t - started).total_seconds() for t in retry_at)
    assert len({round(g, 3) for g in gaps}) > 10  # jitter: not all at the same instant

    server.mode = "drop"
    dropped = sweep_when_due(app)
    assert dropped["sent"] == 0 and dropped["stopped"]  # stops after a few: the server is down
    assert dropped["retried"] == notices.GIVE_UP_AFTER

    server.mode = "hang"
    t0 = time.monotonic()
    hung = sweep_when_due(app)
    hang_seconds = time.monotonic() - t0
    assert hung["sent"] == 0 and "timed out" in hung["stopped"]
    assert hang_seconds < 10  # three timeouts of 1 s, not one per notice in the outbox

    server.mode = "ok"
    sweeps, grey_delays = 0, []
    while any(n.status in ("pending", "sending") for n in outbox(app).values()):
        report = sweep_when_due(app)
        sweeps += 1
        grey = outbox(app)["flaky:grey"]
        if grey.status == "pending":
            grey_delays.append(grey.claimed_until.replace(tzinfo=UTC) - datetime.now(UTC))
        assert sweeps < 40, report

    final = outbox(app)
    mailed = Counter(key for key, _ in server.accepted)
    buyers = {f"flaky:{i}" for i in range(120)}
    assert buyers <= set(mailed) and set(mailed.values()) == {1}  # 0 lost, 0 twice
    assert {k for k, n in final.items() if n.status == "failed"} == {"flaky:bounce", "flaky:grey"}
    assert final["flaky:grey"].attempts == notices.MAX_ATTEMPTS  # bounded
    operator = [n for n in final.values() if n.kind == "delivery_failed"]
    assert len(operator) == 2 and all(n.status == "sent" for n in operator)
    assert BOUNCE in operator[0].text and GREY in operator[1].text
    # each retry of the greylisted notice waited about twice as long as the one before
    seconds = [d.total_seconds() for d in grey_delays]
    assert all(b > a * 1.2 for a, b in zip(seconds, seconds[1:], strict=False)), seconds

    env = {k: v for k, v in os.environ.items()}
    listed = subprocess.run(
        [CREDIT, "notices", "list", "--status", "failed", "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    failed = json.loads(listed.stdout)
    assert sorted(n["key"] for n in failed) == ["flaky:bounce", "flaky:grey"]
    assert all(n["last_error"] for n in failed)
    print(
        f"flaky SMTP: {len(buyers)} notices, {len(mailed)} accepted once each, 0 twice; "
        f"{sweeps} sweeps after recovery; greylisted notice gave up after "
        f"{final['flaky:grey'].attempts} attempts (retry delays {[round(s, 2) for s in seconds]} s); "
        f"hang phase {hang_seconds:.1f} s; operator told twice"
    )
