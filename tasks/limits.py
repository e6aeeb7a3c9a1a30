"""Temporary limits falling back on their end date (run by the periodic review flow, daily)."""

from __future__ import annotations

from datetime import date

from prefect import task

from credit import services
from credit.services.limits.temporary import Expired
from tasks.runtime import app


@task(name="expire-temporary-limits")
def expire_temporary_limits(as_of: date) -> list[Expired]:
    """Every temporary limit whose last day has passed falls back to the limit before it."""
    return services.expire_temporary_limits(app(), as_of=as_of)
