"""Flow runs that the user watches from the command line (``credit ...``, ``credit demo``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def watched_runs() -> Iterator[None]:
    """Flow runs in this process, watched by the user: without Prefect's heartbeat thread.
    Heartbeats let a server notice that a worker's run crashed; here the user sees it, and
    stopping the thread costs up to a second at the end of every run. A heartbeat frequency the
    user set (PREFECT_FLOWS_HEARTBEAT_FREQUENCY) is kept, and deployments run by workers or
    ``credit serve`` keep theirs."""
    if "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" in os.environ:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
