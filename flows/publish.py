"""Publish: activate the credit line; tell the customer and the sales owner."""

from __future__ import annotations

from datetime import date

from prefect import flow

from credit.services.publish import PublishedLine
from tasks.notices import deliver_notices
from tasks.publish import activate_credit_line


def publish_steps(request_id: int, as_of: date) -> PublishedLine:
    """The tasks of a publication, in the calling flow's run (a follow-up publishes this way: a
    nested flow run cost up to 2 s more to start, measured by bench.latency)."""
    result = activate_credit_line(request_id, as_of)
    deliver_notices()
    return result


@flow(name="publish", flow_run_name="publish-request-{request_id}")
def publish(request_id: int, as_of: date) -> PublishedLine:
    """Activate the approved request's credit line and send the terms letter."""
    return publish_steps(request_id, as_of)
