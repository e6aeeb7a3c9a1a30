"""`credit serve` as a credit team meets it: a real service process, decisions from the CLI and
from the approval page in Chromium, each followed up by the service (the next notice sent); a
service killed between a decision and its follow-up, restarted, doing the follow-up exactly once;
SIGTERM stopping it cleanly. Timing is not asserted here (bench/latency.py prints it)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlmodel import col, select

from credit.app import App
from credit.db.models import AuditEvent, CreditLine, FollowUp, Notice, ServiceInstance
from credit.settings import Settings
from tests.conftest import import_sample
from tests.e2e.conftest import CREDIT, cli, forget_deployments  # noqa: F401 - the fixture
from tests.integration.test_lifecycle_services import DAY, decide, review
from tests.integration.test_web import free_port, link_of

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _app(cli) -> App:  # noqa: F811
    return App(Settings.load(env_file=None, environ=cli.env))


@contextmanager
def serving(cli, **extra: str) -> Iterator[subprocess.Popen[str]]:  # noqa: F811
    """`credit serve` on the test's database (and the session's Prefect server), up when the
    block starts; stopped with SIGTERM after it (unless it died)."""
    app = _app(cli)
    service = subprocess.Popen(
        [CREDIT, "serve", "--port", cli.env["CREDIT_WEB_PORT"]],
        cwd=cli.path, env={**cli.env, **extra}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: service.poll() is not None or (_alive(app) and _listening(cli)),
            "the service to start",
            120,
        )
        assert service.poll() is None, service.stdout.read() if service.stdout else ""
        yield service
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)


def _listening(cli: Any) -> bool:  # noqa: F811
    """Its web app accepts connections (the test's port)."""
    import socket

    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", int(cli.env["CREDIT_WEB_PORT"]))) == 0


def _alive(app: App) -> bool:
    with app.uow() as uow:
        return (
            uow.session.exec(
                select(ServiceInstance).where(col(ServiceInstance.stopped_at).is_(None))
            ).first()
            is not None
        )


def wait_for(ready: Any, what: str, seconds: float = 120, why: Any = None) -> None:
    """Wait until ``ready()``: a bound for liveness, not a time limit (two test workers share
    the machine; a flow run may wait its turn)."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}: {why and why()}"
        time.sleep(0.1)


def stacks_of(service: subprocess.Popen[str], cli: Any) -> str:  # noqa: F811
    """What every thread of a service that seems stuck is doing (`kill -USR1` writes it)."""
    log = cli.path / "var" / "log" / "credit-errors.log"
    service.send_signal(signal.SIGUSR1)
    time.sleep(1)
    return log.read_text()[-20000:] if log.exists() else f"no {log}"


def sent(app: App, kind: str) -> list[Notice]:
    with app.uow() as uow:
        return list(
            uow.session.exec(select(Notice).where(Notice.kind == kind, Notice.status == "sent"))
        )


def follow_ups(app: App) -> list[FollowUp]:
    with app.uow() as uow:
        return list(uow.session.exec(select(FollowUp).order_by(col(FollowUp.id))))


@pytest.fixture(autouse=True)
def _no_deployments_left(prefect_api_url):
    """`credit serve` registers its deployments on the session's Prefect server: gone after
    each test (a later partitioned run would wait for helpers of them that nobody serves)."""
    yield
    forget_deployments()


@pytest.fixture
def ledger(cli):  # noqa: F811
    """The sample ledger; C-1001 waits for level 1 of two, C-1003 for its one level."""
    port = str(free_port())
    cli.env.update(CREDIT_WEB_PORT=port, CREDIT_WEB_BASE_URL=f"http://127.0.0.1:{port}")
    cli("init")
    app = _app(cli)
    import_sample(app)
    two = review(app, "C-1001", "120000")  # carla.manager, then fiona.director
    one = review(app, "C-1003", "30000")  # carla.manager
    return app, two, one


def test_served_decisions_from_the_cli_and_the_web_page_are_followed_up(cli, ledger):  # noqa: F811
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium: `apt-get install chromium` (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    app, two, one = ledger
    with serving(cli) as service:
        status = cli("status").stdout
        assert "credit serve on" in status and f"pid {service.pid}" in status
        # From the CLI: level 1 of C-1001. The service records it for the command (which loads
        # no database code at all) and continues the request ...
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "credit.console", "approve", str(two),
             "--as", "carla.manager", "--as-of", str(DAY)],
            cwd=cli.path, env=cli.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Handed to credit serve" in done.stdout
        assert "waiting for level 2 (finance_director)" in done.stdout
        loaded = {ln.rsplit("|", 1)[-1].strip() for ln in done.stderr.splitlines() if "|" in ln}
        assert "credit.cli" in loaded and "sqlalchemy" not in loaded
        # ... a refusal comes back as the same one line and exit code 2
        refused = cli("approve", str(two), "--as", "carla.manager", expect=2)
        assert "carla.manager" in refused.stderr and "Traceback" not in refused.stderr
        # ... and the service sends the next approver's notice.
        wait_for(lambda: len(sent(app, "approval_needed")) == 3, "fiona.director's notice")
        # From the page: C-1003's only level; the service publishes it, the customer is told.
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(link_of(app, one))
            page.fill("textarea[name=comment]", "Fine for a quarter.")
            page.click("#approve")
            page.locator("#result").wait_for()
            assert "approved" in page.inner_text("#result")
            browser.close()
        wait_for(lambda: len(sent(app, "terms_letter")) == 1, "C-1003's terms letter")
        wait_for(lambda: all(f.status == "done" for f in follow_ups(app)), "every follow-up")
    assert service.returncode == 0
    assert "credit serve stopped" in (service.stdout.read() if service.stdout else "")
    assert not _alive(app)
    assert "Service: not running" in cli("status").stdout
    with app.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
        assert line.customer_id is not None
    # Without a service the command does the whole job itself, as before.
    done = cli("approve", str(two), "--as", "fiona.director", "--as-of", str(DAY))
    assert "now published" in done.stdout and "Handed to" not in done.stdout
    assert len(sent(app, "terms_letter")) == 2


def test_a_service_killed_between_a_decision_and_its_follow_up_does_it_once_restarted(
    cli,  # noqa: F811
    ledger,
):
    app, _, one = ledger
    # The follow-ups the ledger's reviews left are claimed first: the service dies at once.
    crashed = subprocess.run(
        [CREDIT, "serve", "--port", cli.env["CREDIT_WEB_PORT"]], cwd=cli.path,
        env={**cli.env, "CREDIT_CRASH_AT": "followup.claimed"}, capture_output=True, timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL
    decide(app, one, "carla.manager")  # the last level, while no service runs: nothing follows
    waiting = [f for f in follow_ups(app) if f.status != "done"]
    assert any(f.kind == "approval" for f in waiting)
    assert "Service: not running" in cli("status").stdout
    with serving(cli) as service:
        wait_for(
            lambda: all(f.status == "done" for f in follow_ups(app)),
            "the follow-ups",
            why=lambda: (
                [(f.kind, f.status, f.attempts, f.claimed_by, f.error) for f in follow_ups(app)],
                stacks_of(service, cli),
            ),
        )
        wait_for(lambda: len(sent(app, "terms_letter")) == 1, "the terms letter")
        time.sleep(2)  # a second run would show now
    assert len(sent(app, "terms_letter")) == 1
    with app.uow() as uow:
        published = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "credit_line.publish")
        ).all()
        assert len(published) == 1
        assert len(uow.session.exec(select(CreditLine)).all()) == 1
    claimed = [f for f in follow_ups(app) if f.attempts > 1]
    assert claimed, "the follow-up the killed service held was run again by the new one"


def test_a_decision_handed_to_a_running_service_never_imports_prefect(cli, ledger):  # noqa: F811
    from credit.services import service_state

    app, two, _ = ledger
    # A service that counts as running: registered and beating, its process (this one) there.
    service_state.register(app, prefect_url=None, web_url=None)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "credit.console", "approve", str(two),
         "--as", "carla.manager", "--as-of", str(DAY)],
        cwd=cli.path, env=cli.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Handed to credit serve" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "credit.services" in imported  # the measurement works
    assert not {m for m in imported if m == "prefect" or m.startswith(("prefect.", "flows"))}
    [waiting] = [f for f in follow_ups(app) if f.status == "pending" and f.kind == "approval"]
    assert waiting.requested_by == "carla.manager"
