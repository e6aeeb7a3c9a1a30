"""Running the house: `credit serve` (the schedules), `credit web` (the approval page) and
`credit demo` (the whole lifecycle on the sample data)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credit.cli.output import (
    clear_errors,
    console,
    err,
    error_log,
    fail,
    fmt_time,
    get_app,
    require_company,
)
from credit.cli.prefect_server import prefect_server
from credit.cli.running import prefect_defaults

if TYPE_CHECKING:
    from credit.app import App


def serve(
    *,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone", help="Time zone of the cron schedules (default: CREDIT_TIMEZONE)."
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address the web app listens on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", help="Port of the web app (CREDIT_WEB_BASE_URL points here).")
    ] = 8765,
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not serve the web app.")] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=16, help="Follow-ups run at once.")
    ] = 2,
) -> None:
    """The one long-lived process of a single box: the Prefect server (or PREFECT_API_URL's), every
    deployment with its schedules, the follow-ups of decisions the moment they are recorded,
    outbox delivery and the web app. Ctrl-C or SIGTERM stops it cleanly."""
    a = get_app()
    zone = timezone or a.settings.timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: value {zone!r} is not an IANA time zone (e.g. Europe/Berlin)")
    require_company(a.settings, "credit serve")
    _refuse_second_service(a)
    if not no_web:
        _refuse_busy_port(host, port)
    prefect_defaults()
    with clear_errors(), prefect_server():
        from flows.service import Service, Web
        from flows.watched import tracebacks_to

        web = None if no_web else Web(host, port, lambda hook: _web_app(a, hook))
        service = Service(a, prefect_url=os.environ.get("PREFECT_API_URL"), web=web)
        service.workers = workers

        def ready() -> None:
            if web is not None:
                console.print(
                    f"Web app on http://{host}:{port} (links in notices point to "
                    f"{a.settings.web_base_url})",
                    highlight=False,
                )
            console.print(
                "Serving: schedules, follow-ups of decisions, outbox delivery. "
                "`credit status` shows what runs and waits; Ctrl-C stops.",
                highlight=False,
            )

        with tracebacks_to(error_log()), _stacks_on_sigusr1(error_log()):
            service.run(timezone=zone, on_ready=ready)
    console.print("credit serve stopped: schedules wait until it runs again.")


@contextmanager
def _stacks_on_sigusr1(log: Path) -> Iterator[None]:
    """`kill -USR1 <pid>` appends every thread's stack to the error log: what a service that
    seems stuck is doing, without stopping it."""
    import faulthandler
    import signal

    with log.open("a") as out:
        faulthandler.register(signal.SIGUSR1, file=out, all_threads=True)
        try:
            yield
        finally:
            faulthandler.unregister(signal.SIGUSR1)


def _refuse_second_service(a: App) -> None:
    """One service per database on a machine: a second would take the first one's socket and
    Prefect server away (on other machines, several may share a PostgreSQL database)."""
    import socket

    from credit import services

    with clear_errors():
        running = services.running_service(a)
    if running is not None and running["host"] == socket.gethostname()[:120]:
        fail(
            f"credit serve runs already for this database (pid {running['pid']}, since "
            f"{fmt_time(running['started_at'])}): stop it first (SIGTERM or Ctrl-C)"
        )


def _refuse_busy_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(
                f"--port: {host}:{port} is taken ({exc.strerror}; another `credit serve` or "
                "`credit web`?): choose another port, or --no-web"
            )


def _web_app(a: App, on_decided: Callable[[int, date], None]) -> Any:
    from credit.web import create_app

    return create_app(a, on_decided=on_decided)


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port (CREDIT_WEB_BASE_URL must point here).")
    ] = 8765,
) -> None:
    """Serve only the web workspace and the approval page of the signed links in approvers'
    notices; the follow-ups of its decisions run here (`credit serve` serves it too, with the
    schedules, its workers and delivery)."""
    import threading

    import uvicorn

    from credit import services
    from credit.services.followups import claimer_name

    a = get_app()
    # An approval published from the page sends the customer the terms letter.
    require_company(a.settings, "credit web")
    running = threading.Lock()

    def continue_request(request_id: int, _as_of: date) -> None:
        """A running service picks the decision's follow-up up; else run it here."""
        if services.running_service(a) is not None:
            return

        def run() -> None:
            prefect_defaults()
            from flows.followups import drain

            with running:
                try:
                    drain(a, claimer=claimer_name("web"))
                # the decision and its follow-up are recorded: `credit serve` runs it later
                except Exception:
                    err.print(
                        f"continuing request {request_id} failed; it waits for `credit serve` "
                        f"(or run `credit approvals resume {request_id}`)"
                    )

        threading.Thread(target=run, daemon=True).start()

    console.print(
        f"Workspace and approval page on http://{host}:{port} (links point to "
        f"{a.settings.web_base_url}); accounts: `credit users list`"
    )
    uvicorn.run(
        _web_app(a, continue_request), host=host, port=port, log_level="warning", log_config=None
    )


def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            help="Where the demo keeps its database, Prefect home and notices (wiped first).",
        ),
    ] = Path("var/demo"),
) -> None:
    """Run the whole lifecycle on the shipped sample data and say where the notices are."""
    import shutil
    import time

    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "prefect").mkdir(parents=True)
    os.environ["CREDIT_DATABASE_URL"] = f"sqlite:///{directory / 'credit.db'}"
    os.environ["CREDIT_OUTBOX_DIR"] = str(directory / "outbox")
    os.environ["CREDIT_REPORTS_DIR"] = str(directory / "reports")
    # Its letters are the made-up company's: never through a real mail server, never into the
    # real post room's folder, whatever .env says.
    os.environ["CREDIT_SMTP_HOST"] = ""
    os.environ["CREDIT_LETTERS_DIR"] = str(directory / "outbox" / "letters")
    os.environ.setdefault("PREFECT_HOME", str(directory / "prefect"))
    prefect_defaults()
    started = time.monotonic()
    console.print(
        f"Demo in {directory} (SQLite + Prefect local mode; the first flow starts Prefect)"
    )
    from flows.demo import DEMO_COMPANY, run_demo  # imports Prefect
    from flows.watched import watched_runs

    os.environ.update(DEMO_COMPANY)  # its own, visibly made-up company (not .env's)

    with clear_errors(), watched_runs(error_log=error_log()):
        run_demo(directory, console=console)
    console.print(f"Demo finished in {time.monotonic() - started:.0f} s.")
