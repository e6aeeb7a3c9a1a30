"""Running a Prefect flow from a command: Prefect's defaults for a terminal, and a progress
display while the flow runs in this process. Prefect is imported only when a flow starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from credit import progress
from credit.cli.output import err, error_log, fail

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from credit.services.service_state import ServiceView


def prefect_defaults() -> None:
    """Quiet logs, no analytics (server or client), ``.env`` parsed once, and time for local
    mode's server to start (it runs in a subprocess; on a busy machine that takes longer than
    Prefect's 20 s default). The user's own settings win. Called before Prefect is imported.

    A line of ``.env`` that cannot be parsed ends the command here, with one line: Prefect would
    otherwise warn of it, in its own words, each time it reads the file."""
    from credit.settings import SettingsError, check_env_file

    if os.path.isfile(".env"):
        try:
            check_env_file(".env")
        except SettingsError as exc:
            fail(str(exc))
    # The product's runs (and `credit serve`'s server database) live with its other state in var/,
    # not in the user's ~/.prefect.
    os.environ.setdefault("PREFECT_HOME", os.path.abspath(os.path.join("var", "prefect")))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's client sends usage events from a terminal and prints a notice about it on the
    # first flow a folder runs, in the middle of the command's output: neither, as for the server.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Prefect's settings read the working directory's .env (ours) once, not hundreds of times.
    from flows.env_file import read_once

    read_once()
    # Prefect's event sender says how many events it still has to send while the process ends:
    # nothing a user can act on.
    import logging

    for name in ("EventsWorker", "prefect.events.clients"):
        logging.getLogger(name).setLevel(logging.ERROR)


def use_service_prefect() -> None:
    """Flows this command runs itself report to the running service's Prefect server (no
    temporary server of its own: seconds saved) when one runs and PREFECT_API_URL is not set."""
    if os.environ.get("PREFECT_API_URL"):
        return

    from credit import services
    from credit.app import App
    from credit.settings import Settings

    try:
        service = services.running_service(App(Settings.load()))
    except Exception:  # bad settings, no database yet: the command itself says so
        return
    url = reachable_prefect(service)
    if url:
        os.environ["PREFECT_API_URL"] = url


def reachable_prefect(service: ServiceView | None) -> str | None:
    """The service's Prefect API, unless it listens on loopback on another machine."""
    import socket
    from urllib.parse import urlsplit

    if service is None or not service["prefect_url"]:
        return None
    loopback = urlsplit(service["prefect_url"]).hostname in ("127.0.0.1", "localhost", "::1")
    if not loopback or service["host"] == socket.gethostname()[:120]:
        return service["prefect_url"]
    return None


def start_prefect_early() -> None:
    """Start Prefect's local server now (when there is no Prefect server to use), so that it loads
    while the command does its own checks; :func:`run_flow` uses it."""
    prefect_defaults()  # before the command imports its flow (and Prefect with it)
    use_service_prefect()
    from flows.local_server import start_early

    start_early()


class _Bars:
    """A Rich progress row per thing a run counts (customers, batches, notices ...), under the
    command's own row: a bar with done and total."""

    def __init__(self, shown: Progress) -> None:
        self.shown = shown
        self.rows: dict[str, tuple[TaskID, list[int]]] = {}  # what: (its row, [done, total])

    def _add(self, what: str, *, done: int = 0, total: int = 0) -> None:
        if what not in self.rows:
            self.rows[what] = (self.shown.add_task(f"  {what}", total=0, counts=""), [0, 0])
        row, counts = self.rows[what]
        counts[0] += done
        counts[1] += total
        self.shown.update(
            row, completed=counts[0], total=counts[1], counts=f"{counts[0]}/{counts[1]}"
        )

    def expect(self, what: str, count: int) -> None:
        self._add(what, total=count)

    def advance(self, what: str, count: int) -> None:
        self._add(what, done=count)


@contextmanager
def progress_display(label: str) -> Iterator[None]:
    """While the block runs: ``label`` with a spinner on stderr, and a bar with real counts for
    each thing the run reports through :mod:`credit.progress` (nothing when stderr is not a
    terminal)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as shown:
        shown.add_task(label, total=None, counts="")
        with progress.watching(_Bars(shown)):
            yield


def run_flow(label: str, call: Callable[[], Any]) -> Any:
    """Run a Prefect flow in this process with a progress display (Prefect is imported here)."""
    prefect_defaults()
    use_service_prefect()
    from flows.local_server import local_api, start_early

    server = start_early()  # loads while this process imports Prefect and the flow
    from flows.watched import watched_runs

    with local_api(server), watched_runs(error_log=error_log()), progress_display(label):
        return call()
