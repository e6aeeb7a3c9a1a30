"""How fast the outbox drains over SMTP: N `credit notices deliver` processes at once.

    python -m bench.delivery --rows 10000 --senders 4 [--database-url URL] [--sent 0]

Makes a fresh database (a temporary SQLite file, or a scratch database next to the PostgreSQL
URL given), queues ``--rows`` notices behind ``--sent`` notices already sent (an outbox with
history), starts a real SMTP server (aiosmtpd, in its own process) on loopback, then times the
senders from start to the last exit. Prints the wall time, messages per second, what the server
accepted and how many notice keys it saw twice (must be 0).
"""

from __future__ import annotations

import argparse
import email
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench._db import BENCH_COMPANY

CREDIT = str(Path(sys.executable).with_name("credit"))


def serve(port: int, out: Path) -> None:
    """The SMTP sink: counts accepted messages by notice key; writes them out on SIGTERM."""
    import asyncio

    from aiosmtpd.controller import Controller

    keys: Counter = Counter()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            keys[email.message_from_bytes(envelope.content)["X-Credit-Notice-Key"]] += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    loop.run_until_complete(stop.wait())
    controller.stop()
    out.write_text(json.dumps(keys))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database(url: str | None, workdir: Path) -> tuple[str, str | None]:
    """A fresh database: (its URL, the scratch PostgreSQL database to drop afterwards)."""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{workdir / 'outbox.db'}", None
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from credit.db.engine import make_engine

    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    base = make_engine(url, isolation_level="AUTOCOMMIT")
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def _drop(url: str, name: str) -> None:
    from sqlalchemy import text

    from credit.db.engine import make_engine

    base = make_engine(url, isolation_level="AUTOCOMMIT")
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    base.dispose()


def fill(url: str, rows: int, sent: int) -> None:
    """Queue ``rows`` notices (one rendered text for all), behind ``sent`` already sent."""
    from sqlalchemy import insert

    from credit import services
    from credit.app import App
    from credit.db.models import Notice, utcnow
    from credit.settings import Settings

    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}))
    services.init_database(app, actor="bench")
    context = {
        "customer": {"name": "Nordwind Handel GmbH", "code": "C-1001"},
        "assessment": {"score": "71.20", "rating": "B", "quantitative_score": "70.00"},
        "requested_limit": "50000.00",
        "currency": "EUR",
        "signals": [],
        "link": "https://credit.example/a/1",
    }
    try:
        rendered = app.renderer.render("assessment_ready", "en", context)
        subject, body, html = rendered.subject, rendered.text, rendered.html
    except Exception:  # a template that wants more: any text serves a throughput measure
        subject, body, html = "Assessment ready", "Your assessment is ready.\n" * 20, "<p>ready</p>"
    now = utcnow()
    with app.uow() as uow:
        for start in range(0, sent + rows, 2000):
            uow.session.execute(
                insert(Notice),
                [
                    {"idempotency_key": f"bench:{i}", "kind": "assessment_ready",
                     "channel": "email", "locale": "en", "customer_id": None,
                     "recipients": [f"r{i}@example.com"], "subject": subject, "text": body,
                     "html": html, "status": "sent" if i < sent else "pending",
                     "attempts": 1 if i < sent else 0, "created_at": now,
                     "sent_at": now if i < sent else None}
                    for i in range(start, min(start + 2000, sent + rows))
                ],
            )  # fmt: skip
        uow.commit()
    app.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--sent", type=int, default=0, help="notices already sent before these")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server to use")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, Path(args.out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url, scratch = _database(args.database_url, work)
        started_here: list[subprocess.Popen] = []
        try:
            fill(url, args.rows, args.sent)
            port, counts = _free_port(), work / "accepted.json"
            sink = subprocess.Popen(
                [sys.executable, "-m", "bench.delivery", "--serve", str(port), "--out",
                 str(counts)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            started_here.append(sink)
            if sink.stdout is None or sink.stdout.readline().strip() != "ready":
                raise SystemExit("the SMTP server did not start")
            env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
            env.update(
                CREDIT_DATABASE_URL=url,
                CREDIT_SMTP_HOST="127.0.0.1",
                CREDIT_SMTP_PORT=str(port),
                CREDIT_OUTBOX_DIR=str(work / "outbox"),
                **BENCH_COMPANY,
            )
            started = time.monotonic()
            logs = [(work / f"sender{n}.out", work / f"sender{n}.err") for n in range(args.senders)]
            senders = [
                subprocess.Popen(
                    [CREDIT, "notices", "deliver", "--json"],
                    env=env,
                    cwd=work,
                    stdout=out.open("w"),
                    stderr=errors.open("w"),
                )  # fmt: skip
                for out, errors in logs
            ]
            started_here.extend(senders)
            codes = [proc.wait() for proc in senders]
            seconds = time.monotonic() - started
            for code, (_, errors) in zip(codes, logs, strict=True):
                if code != 0:
                    raise SystemExit(f"a sender failed ({code}):\n{errors.read_text()[-2000:]}")
            reports = [json.loads(out.read_text()) for out, _ in logs]
            sink.send_signal(signal.SIGTERM)
            sink.wait(timeout=30)
            accepted = Counter(json.loads(counts.read_text()))
        finally:
            for proc in started_here:  # nothing this benchmark started outlives it
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if scratch:
                _drop(args.database_url, scratch)
    backend = "postgresql" if scratch else "sqlite"
    print(
        f"{backend}: {args.senders} senders drained {args.rows:,} notices "
        f"(behind {args.sent:,} sent) in {seconds:.1f} s = {args.rows / seconds:.0f} per second; "
        f"per sender {[r.get('sent', 0) for r in reports]}; server accepted "
        f"{sum(accepted.values()):,}, keys twice {sum(1 for n in accepted.values() if n > 1)}"
    )


if __name__ == "__main__":
    main()
