"""Flow runs that the user watches from the command line (``credit ...``, ``credit demo``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def watched_runs() -> Iterator[None]:
    """Flow runs in this process, watched by the user: without Prefect's heartbeat thread.
    Heartbeats let a server notice that a worker's run crashed; here the user sees it, and
    stopping the thread costs up to a second at the end of every run. A heartbeat frequency the
    user set (in the environment, a profile, prefect.toml ...) is kept, and deployments run by
    workers or ``credit serve`` keep theirs."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
