"""Scale-out on Prefect's own parts: a Prefect server on PostgreSQL, a process work pool, two
workers, the deployments from prefect.yaml, and one partitioned collections run that the workers
share. Every expected notice exists exactly once, and the run equals a single-process run on a
copy of the same ledger, notice for notice. Everything started here is stopped here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import date
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bench.collections import _digest
from bench.portfolio import generate
from credit.app import App
from credit.db.engine import make_engine
from credit.db.models import Notice, WorkPartition
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, postgres_url, scratch_postgres

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AS_OF = date(
    2026, 11, 3
)  # a past day: a live run typed at the CLI may not be dated later than today


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT first (a worker ignores SIGTERM for a while), then kill the process group."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the Prefect server exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the Prefect server did not become healthy:\n{log.read_text()[-3000:]}")


# What the SMTP servers read of a message: its headers (the body is not parsed).
HEADERS = BytesHeaderParser()


class Inbox:
    """A real SMTP server on loopback that counts every message by its notice key."""

    def __init__(self) -> None:
        self.keys: Counter = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        key = HEADERS.parsebytes(envelope.content)["X-Credit-Notice-Key"]
        with self.lock:
            self.keys[key] += 1
        return "250 OK"


def _kill_flow_runs(api: str) -> None:
    """Flow-run processes start in their own session (a worker's SIGINT does not reach them):
    kill whatever still talks to this test's server."""
    marker = f"PREFECT_API_URL={api}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue


def test_two_workers_share_a_partitioned_run_and_it_equals_a_single_process_run(tmp_path):
    from aiosmtpd.controller import Controller

    postgres_url()  # skips with the reason when PostgreSQL is not configured
    base = make_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    api = ""
    prefect_db = f"prefect_scale_{uuid.uuid4().hex[:8]}"
    reference_db = f"credit_ref_{uuid.uuid4().hex[:8]}"
    started: list[subprocess.Popen] = []
    with scratch_postgres() as app_url, base.connect() as admin:
        admin.execute(text(f'CREATE DATABASE "{prefect_db}"'))
        try:
            written = generate(app_url, customers=1000, invoices=8000, seed=11, as_of=AS_OF)
            assert written["customer"] == 1000
            app_db = app_url.rsplit("/", 1)[1]
            admin.execute(text(f'CREATE DATABASE "{reference_db}" TEMPLATE "{app_db}"'))
            reference_url = app_url.rsplit("/", 1)[0] + f"/{reference_db}"

            port = _free_port()
            api = f"http://127.0.0.1:{port}/api"
            pg = make_engine(postgres_url()).url
            env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "PREFECT_"))}
            env.update(
                PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                PREFECT_HOME=str(tmp_path / "prefect-home"),
                PREFECT_API_URL=api,
                PREFECT_SERVER_ANALYTICS_ENABLED="false",
                PREFECT_LOGGING_LEVEL="WARNING",
                PREFECT_WORKER_QUERY_SECONDS="1",
                CREDIT_HOME=str(REPO),
                CREDIT_DATABASE_URL=app_url,
                CREDIT_OUTBOX_DIR=str(tmp_path / "outbox"),
                CREDIT_SMTP_HOST="127.0.0.1",  # real mail: a second send would be a second mail
                CREDIT_SMTP_PORT=str(smtp.port),
                **TEST_COMPANY,
            )
            server_env = {
                **env,
                "PREFECT_API_DATABASE_CONNECTION_URL": pg.set(
                    drivername="postgresql+asyncpg", database=prefect_db
                ).render_as_string(hide_password=False),
                "PREFECT_UI_ENABLED": "false",
            }
            server_log = tmp_path / "server.log"
            server = subprocess.Popen(
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port",
                 str(port)],
                env=server_env, cwd=REPO, stdout=server_log.open("w"), stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            started.append(server)
            t0 = time.monotonic()
            _wait_healthy(api, server, server_log)
            print(f"Prefect server on PostgreSQL healthy in {time.monotonic() - t0:.1f} s")

            def prefect(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
                proc = subprocess.run(
                    [str(BIN / "prefect"), *args], env=env, cwd=REPO, capture_output=True,
                    text=True, timeout=timeout,
                )  # fmt: skip
                assert proc.returncode == 0, f"prefect {args}:\n{proc.stdout}\n{proc.stderr}"
                return proc

            prefect("work-pool", "create", "credit", "--type", "process")
            prefect("--no-prompt", "deploy", "-n", "collections/daily",
                    "-n", "collections-partition/on-demand")  # fmt: skip
            # Four runs at most per worker: the run and its six helpers need both workers.
            for n in (1, 2):
                log = tmp_path / f"worker{n}.log"
                started.append(
                    subprocess.Popen(
                        [str(BIN / "prefect"), "worker", "start", "--pool", "credit", "--name",
                         f"worker-{n}", "--limit", "4"],
                        env={**env, "PREFECT_LOGGING_LEVEL": "INFO"}, cwd=REPO,
                        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                    )
                )  # fmt: skip

            t0 = time.monotonic()
            run = prefect(
                "deployment", "run", "collections/daily", "-p", f"as_of={AS_OF.isoformat()}",
                "-p", "partitions=6", "--watch", "--watch-timeout", "600", timeout=700,
            )  # fmt: skip
            seconds = time.monotonic() - t0
            assert "Completed" in run.stdout, run.stdout + run.stderr

            # The single-process reference, on the copy made before the run (in the CLI's own
            # process, reporting to the same server).
            ref = subprocess.run(
                [str(BIN / "credit"), "collections", "run", "--as-of", AS_OF.isoformat(),
                 "--json"],
                env={**{k: v for k, v in env.items() if not k.startswith("CREDIT_SMTP")},
                     "CREDIT_DATABASE_URL": reference_url,
                     "CREDIT_OUTBOX_DIR": str(tmp_path / "outbox-reference")},
                cwd=tmp_path, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert ref.returncode == 0, ref.stdout + ref.stderr

            app = App(
                Settings.load(
                    env_file=None, environ={"CREDIT_DATABASE_URL": app_url, **TEST_COMPANY}
                )
            )
            with app.uow() as uow:
                parts = uow.session.exec(select(WorkPartition)).all()
                notices = uow.session.exec(select(Notice)).all()
            app.engine.dispose()
            processes = Counter((p.claimed_by or "").split(":")[-1] for p in parts)
            submitted = {
                n: (tmp_path / f"worker{n}.log")
                .read_text()
                .count(f"Worker 'worker-{n}' submitting flow run")
                for n in (1, 2)
            }
            with inbox.lock:
                keys = Counter(inbox.keys)
            print(
                f"partitioned run: {len(notices)} notices in {seconds:.1f} s (trigger to "
                f"completion); flow runs per worker {submitted}; partitions per process "
                f"{dict(processes)}; mails received {sum(keys.values())}, "
                f"keys sent more than once {sum(1 for n in keys.values() if n > 1)}"
            )
            assert {p.status for p in parts} == {"done"} and len(parts) == 6
            assert all(submitted.values()), f"a worker ran nothing: {submitted}"
            assert len(processes) >= 2, f"one process did every partition: {dict(processes)}"
            assert len(notices) > 800 and all(n.status == "sent" for n in notices)
            assert set(keys.values()) == {1}  # every notice mailed exactly once
            assert set(keys) == {n.idempotency_key for n in notices}
            assert _digest(app_url) == _digest(reference_url)  # notice for notice
        finally:
            for proc in reversed(started):
                _stop(proc)
            if api:
                _kill_flow_runs(api)
            smtp.stop()
            for db in (prefect_db, reference_db):
                admin.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            base.dispose()
