"""Draft: turn a complete assessment into a credit request from the policy's rating table."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.draft import draft_request
from tasks.notices import deliver_notices


def draft_steps(assessment_id: int) -> int:
    """The tasks of a draft, in the calling flow's run; the request id."""
    request_id = draft_request(assessment_id)
    deliver_notices()
    get_run_logger().info("assessment %s drafted as request %s", assessment_id, request_id)
    return request_id


@flow(name="draft", flow_run_name="draft-assessment-{assessment_id}")
def draft(assessment_id: int) -> int:
    """Create the credit request for an assessment; returns the request id."""
    return draft_steps(assessment_id)
