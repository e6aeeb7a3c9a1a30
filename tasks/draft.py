from __future__ import annotations

from decimal import Decimal

from prefect import task

from credit import services
from tasks._runtime import app


@task(name="draft-request")
def draft_request(assessment_id: int, requested_limit: str | None) -> int:
    """Turn an assessment into a credit request; returns the request id."""
    limit = Decimal(requested_limit) if requested_limit is not None else None
    return services.draft_request(app(), assessment_id=assessment_id, requested_limit=limit)
