from __future__ import annotations

from prefect import task

from credit import services
from credit.services.outbox import Delivered
from tasks.runtime import app


@task(name="deliver-notices", retries=3, retry_delay_seconds=[10, 60, 300])
def deliver_notices() -> Delivered:
    """Send what the outbox holds. Safe to retry: each row is claimed, sent once and marked."""
    return services.deliver(app())
