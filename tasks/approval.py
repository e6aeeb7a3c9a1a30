from __future__ import annotations

from dataclasses import asdict
from datetime import date

from prefect import task

from credit import services
from tasks._runtime import app


@task(name="advance-request")
def advance_request(request_id: int, as_of: date) -> dict:
    """Route or continue a credit request's approval chain from the database state."""
    return asdict(services.advance_request(app(), request_id=request_id, as_of=as_of))


@task(name="advance-policy")
def advance_policy(version: int) -> dict:
    """Route, publish or reject a policy version from the database state."""
    return asdict(services.advance_policy(app(), version=version))


@task(name="sweep-approvals")
def sweep_approvals(as_of: date) -> dict:
    """Reminders and escalations for overdue approval steps (each sent once)."""
    return services.sweep_approvals(app(), as_of=as_of)
