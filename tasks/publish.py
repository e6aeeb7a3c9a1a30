from __future__ import annotations

from datetime import date

from prefect import task

from credit import services
from credit.services.publish import PublishedLine
from tasks.runtime import app


@task(name="activate-credit-line")
def activate_credit_line(request_id: int, as_of: date) -> PublishedLine:
    """Activate the credit line of an approved request and queue the letters."""
    return services.publish_request(app(), request_id=request_id, as_of=as_of)
