from __future__ import annotations

from typing import Any

from prefect import task
from prefect.runtime import flow_run

from credit import services
from tasks._runtime import app

# The relay delivering each flow run's notices in this process while the run goes on.
_RELAYS: dict[str, Any] = {}


@task(name="deliver-notices", retries=3, retry_delay_seconds=[10, 60, 300])
def deliver_notices() -> dict:
    """Send what the outbox holds. Safe to retry: each row is claimed, sent once and marked."""
    return services.deliver(app())


@task(name="start-delivery")
def start_delivery() -> None:
    """Start sending this run's notices in the background, batch by batch, while it works."""
    _RELAYS[str(flow_run.id)] = services.start_relay(app())


def relay_hand_over() -> Any:
    """The callback a batch calls after it commits (None outside a run with a relay)."""
    relay = _RELAYS.get(str(flow_run.id))
    return relay.hand_over if relay is not None else None


@task(name="finish-delivery", retries=3, retry_delay_seconds=[10, 60, 300])
def finish_delivery() -> dict:
    """Stop the relay and send whatever the outbox still holds. Safe to retry."""
    return services.finish_delivery(app(), _RELAYS.pop(str(flow_run.id), None))
