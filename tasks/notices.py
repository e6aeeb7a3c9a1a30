from __future__ import annotations

from typing import Any

from prefect import task

from credit import services
from tasks._runtime import app


@task(name="deliver-notices", retries=3, retry_delay_seconds=[10, 60, 300])
def deliver_notices() -> dict[str, Any]:
    """Send what the outbox holds. Safe to retry: each row is claimed, sent once and marked."""
    return services.deliver(app())
