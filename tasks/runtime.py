"""The process-wide application context for tasks (settings read once, at the edge)."""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar, cast

from prefect.utilities.annotations import quote

from credit.app import App
from credit.settings import Settings


@lru_cache(maxsize=4)
def _app_for(settings: Settings) -> App:
    return App(settings)


def app() -> App:
    """The App for the current environment (rebuilt if CREDIT_* settings change, as in tests)."""
    return _app_for(Settings.load())


T = TypeVar("T")


def as_is(value: T) -> T:
    """``value`` for a task's parameter, passed through untouched: Prefect does not walk it.

    Prefect visits every element of a task's parameters twice before the task starts (looking
    for futures and states to wait for and resolve): for a list of 2,000 dicts that is 0.25 to
    0.4 s a task, and for the 100,000 ids of a run more. Flows pass plain data they built
    themselves (no futures inside), so they wrap it with Prefect's ``quote`` (whose purpose this
    is); the task receives the value itself. Typed as ``T`` so the task's signature still checks.
    """
    return cast(T, quote(value))
