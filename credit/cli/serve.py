"""Running the house: `credit serve` (the schedules), `credit web` (the approval page) and
`credit demo` (the whole lifecycle on the sample data)."""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from credit.cli.output import (
    clear_errors,
    console,
    err,
    error_log,
    fail,
    get_app,
    require_company,
)
from credit.cli.running import prefect_defaults


def serve(
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone", help="Time zone of the cron schedules (default: CREDIT_TIMEZONE)."
        ),
    ] = None,
) -> None:
    """Run all deployments on this machine (collections and periodic review daily) with Prefect's serve()."""  # noqa: E501
    a = get_app()
    zone = timezone or a.settings.timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: value {zone!r} is not an IANA time zone (e.g. Europe/Berlin)")
    require_company(a.settings, "credit serve")
    prefect_defaults()
    with clear_errors(), _prefect_server():
        from flows.serve import serve_all
        from flows.watched import tracebacks_to

        with tracebacks_to(error_log()):
            serve_all(timezone=zone)
    console.print("credit serve stopped: schedules wait until it runs again.")


@contextmanager
def _prefect_server() -> Generator[None, None, None]:
    """The Prefect server `credit serve` talks to: PREFECT_API_URL's, or else one it runs itself,
    in a session of its own, for as long as it serves.

    Prefect's local mode would start a temporary server in the command's process group: Ctrl-C in
    the terminal then stopped that server first, and serve spent a minute retrying it before it
    could stop. Here Ctrl-C reaches serve alone; serve stops, then its server. The server's state
    (runs, the UI at its address) lives in PREFECT_HOME."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as probe:  # 4200 (Prefect's usual port) when free, else any free one
        port = 4200 if probe.connect_ex(("127.0.0.1", 4200)) != 0 else 0
    if port == 0:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
    log_path = error_log().with_name("prefect-server.log")
    url = f"http://127.0.0.1:{port}/api"
    with log_path.open("a", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                fail(
                    f"the Prefect server did not start (exit code {server.returncode}); "
                    f"see {log_path}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail(f"the Prefect server did not answer within 120 s; see {log_path}")
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = url
        console.print(
            f"Prefect server (and its UI) on http://127.0.0.1:{port}; its log: {log_path}"
        )
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port (CREDIT_WEB_BASE_URL must point here).")
    ] = 8765,
) -> None:
    """Serve the approval page that the signed links in approvers' notices open."""
    import threading

    import uvicorn

    from credit.web import create_app

    a = get_app()
    # An approval published from the page sends the customer the terms letter.
    require_company(a.settings, "credit web")

    def continue_request(request_id: int, as_of: date) -> None:
        def run() -> None:
            prefect_defaults()
            from flows.approval import approval

            try:
                approval(request_id=request_id, as_of=as_of)
            # the decision is recorded; `credit approvals resume` finishes the rest
            except Exception:
                err.print(
                    f"continuing request {request_id} failed; "
                    f"run `credit approvals resume {request_id}`"
                )

        threading.Thread(target=run, daemon=True).start()

    console.print(
        f"Approval page on http://{host}:{port} (links point to {a.settings.web_base_url})"
    )
    uvicorn.run(
        create_app(a, on_decided=continue_request), host=host, port=port, log_level="warning"
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
