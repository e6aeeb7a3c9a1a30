from __future__ import annotations

from prefect import task

from credit import services
from tasks.runtime import app


@task(name="draft-request")
def draft_request(assessment_id: int) -> int:
    """Turn a complete assessment into a credit request; returns the request id."""
    return services.draft_request(app(), assessment_id=assessment_id)
