"""A sender asked to stop (SIGTERM: a collections helper whose run's process died) while the mail
server is accepting a message ends only after that message is marked sent, so no later run
sends it twice. Before, a helper was killed outright with its run, and a message the server had
accepted stayed claimed and unmarked: the next run sent it again when the claim's lease ended.

Real processes, a real SQLite file, a real SMTP server (aiosmtpd) on loopback that takes its
time to accept each message."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlmodel import col, select

from credit.app import App
from credit.db.models import Notice
from credit.services.outbox import deliver
from credit.settings import Settings

pytestmark = pytest.mark.slow

SENDER = """
import signal, sys
from credit.notices import stopping
signal.signal(signal.SIGTERM, lambda *_: stopping.ask_to_stop())  # as a collections helper does
from credit.app import App
from credit.services.outbox import deliver
from credit.settings import Settings
deliver(App(Settings.load()))
print("delivered everything", flush=True)
"""


class SlowInbox:
    """Tells the test when a message's data arrived, then takes a while to say 250."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrived: queue.Queue[str] = queue.Queue()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        key = next(
            line.split(":", 1)[1].strip()
            for line in envelope.content.decode().splitlines()
            if line.startswith("X-Credit-Notice-Key:")
        )
        self.keys.append(key)
        self.arrived.put(key)
        await asyncio.sleep(1.5)
        return "250 OK"


@pytest.fixture
def slow_smtp(credit_env, monkeypatch):
    from aiosmtpd.controller import Controller

    from tests.integration.test_notices import free_port

    inbox, port = SlowInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CREDIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CREDIT_SMTP_PORT", str(port))
    monkeypatch.setenv("CREDIT_SMTP_TIMEOUT", "3")
    monkeypatch.setenv("CREDIT_DELIVERY_LEASE_SECONDS", "4")
    yield inbox
    controller.stop()


def statuses(app: App) -> dict[str, str]:
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(select(Notice).order_by(col(Notice.id)))
        return {n.idempotency_key: n.status for n in rows}


def test_a_sender_asked_to_stop_mid_message_marks_it_sent_first(app, slow_smtp):
    with app.uow() as uow:
        for n in range(3):
            uow.session.add(
                Notice(
                    idempotency_key=f"stop-test:{n}", kind="test_notice", locale="en",
                    recipients=["someone@example.com"], subject=f"Notice {n}", text="Hello\n",
                    html="<p>Hello</p>",
                )
            )  # fmt: skip
        uow.commit()
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER], env=dict(os.environ), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first = slow_smtp.arrived.get(timeout=120)  # the server has the message, not yet its 250
    sender.send_signal(signal.SIGTERM)
    out, err = sender.communicate(timeout=60)
    assert sender.returncode == 1, (out, err[-2000:])
    assert "delivered everything" not in out and "Traceback" not in err, err[-2000:]
    left = statuses(app)
    # the message the server was accepting is marked sent; nothing more was claimed
    assert left[first] == "sent", left
    assert Counter(left.values()) == {"sent": 1, "pending": 2}, left

    time.sleep(0.5)
    deliver(App(Settings.load()))  # the next run sends the rest, and that one not again
    assert set(statuses(app).values()) == {"sent"}
    assert sorted(slow_smtp.keys) == [f"stop-test:{n}" for n in range(3)]


def test_a_sender_asked_to_stop_between_messages_ends_at_once(app, slow_smtp):
    sender = subprocess.Popen(
        [sys.executable, "-c", "import time, signal\n"
         "from credit.notices import stopping\n"
         "signal.signal(signal.SIGTERM, lambda *_: stopping.ask_to_stop())\n"
         "print('ready', flush=True)\ntime.sleep(60)\nprint('slept', flush=True)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sender.stdout is not None and sender.stdout.readline() == "ready\n"
    started = time.monotonic()
    sender.send_signal(signal.SIGTERM)
    out, _ = sender.communicate(timeout=30)
    assert sender.returncode == 1 and "slept" not in out
    assert time.monotonic() - started < 10
