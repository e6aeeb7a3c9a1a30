"""The process-wide application context for tasks (settings read once, at the edge)."""

from __future__ import annotations

from functools import lru_cache

from credit.app import App
from credit.settings import Settings


@lru_cache(maxsize=4)
def _app_for(settings: Settings) -> App:
    return App(settings)


def app() -> App:
    """The App for the current environment (rebuilt if CREDIT_* settings change, as in tests)."""
    return _app_for(Settings.load())
