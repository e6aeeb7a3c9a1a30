"""A credit review started by a credit manager: research -> draft -> approval (then it waits)."""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.approval import approval
from flows.draft import draft
from flows.research import research


@flow(name="credit-review", flow_run_name="review-{customer_code}-{as_of}")
def credit_review(
    customer_code: str,
    requested_by: str,
    as_of: date,
    review_key: str,
    requested_limit: str | None = None,
) -> dict:
    """Run research, draft and the first approval routing; the decision comes later."""
    assessment_id = research(customer_code, requested_by, as_of, review_key)
    request_id = draft(assessment_id, requested_limit)
    progress = approval(request_id, as_of)
    return {"assessment_id": assessment_id, "request_id": request_id, **progress}
