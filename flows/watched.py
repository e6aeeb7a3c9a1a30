"""Flow runs that the user watches from the command line (``credit ...``, ``credit demo``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class _NoTracebacks(logging.Filter):
    """On the terminal of a watched run: a failed task or flow is reported by the command itself
    (one line), so Prefect's own failure records go to the error log only; any other record keeps
    its message and loses its traceback, which goes to the error log."""

    def __init__(self, error_log: logging.Handler) -> None:
        super().__init__()
        self.error_log = error_log

    def filter(self, record: logging.LogRecord) -> bool:
        failed = record.name.startswith(RUN_LOGGERS) and record.levelno >= logging.ERROR
        if failed or record.exc_info:
            self.error_log.handle(record)
        if failed:
            return False
        # The terminal's handler is the root's, the last to see a record: the handlers of the run
        # loggers (Prefect's API) have had it whole.
        record.exc_info, record.exc_text = None, None
        return True


@contextmanager
def watched_runs(error_log: Path | None = None) -> Iterator[None]:
    """Flow runs in this process, watched by the user.

    - Without Prefect's heartbeat thread: heartbeats let a server notice that a worker's run
      crashed; here the user sees it, and stopping the thread costs up to a second at the end of
      every run. A heartbeat frequency the user set (in the environment, a profile, prefect.toml
      ...) is kept, and deployments run by workers or ``credit serve`` keep theirs.
    - No traceback on the terminal: with ``error_log``, failures and tracebacks that Prefect logs
      go to that file; the command says in one line what went wrong."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    with ExitStack() as stack:
        if "heartbeat_frequency" not in get_current_settings().flows.model_fields_set:
            stack.enter_context(
                temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
            )
        if error_log is not None:
            stack.enter_context(tracebacks_to(error_log))
        yield


@contextmanager
def tracebacks_to(path: Path) -> Iterator[None]:
    """Prefect's failure records and every traceback logged go to ``path``, not the terminal."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # Prefect configures its handlers on first use: now, not later
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    consoles = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    guard = _NoTracebacks(handler)
    for h in consoles:
        h.addFilter(guard)
    try:
        yield
    finally:
        for h in consoles:
            h.removeFilter(guard)
        handler.close()
