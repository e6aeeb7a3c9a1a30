"""Running a Prefect flow from a command: Prefect's defaults for a terminal, and a progress
display while the flow runs in this process. Prefect is imported only when a flow starts."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from credit.cli.output import err, error_log


def prefect_defaults() -> None:
    """Quiet logs, no analytics, and time for local mode's server to start (it runs in a
    subprocess; on a busy machine that takes longer than Prefect's 20 s default). The user's own
    settings win."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Prefect's event sender says how many events it still has to send while the process ends:
    # nothing a user can act on.
    import logging

    for name in ("EventsWorker", "prefect.events.clients"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_flow(label: str, call: Callable[[], Any]) -> Any:
    """Run a Prefect flow in this process with a progress display (Prefect is imported here)."""
    prefect_defaults()
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flows.watched import watched_runs

    with (
        watched_runs(error_log=error_log()),
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        progress.add_task(label, total=None)
        return call()
