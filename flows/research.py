"""Research: collect and score a customer's data, rate it, tell the credit manager."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from tasks.notices import deliver_notices
from tasks.research import assess_customer


@flow(name="research", flow_run_name="research-{customer_code}-{as_of}")
def research(customer_code: str, requested_by: str, as_of: date, review_key: str) -> int:
    """Score and rate one customer under the published policy; returns the assessment id."""
    assessment_id = assess_customer(customer_code, as_of, requested_by, review_key)
    deliver_notices()
    get_run_logger().info("customer %s assessed: assessment %s", customer_code, assessment_id)
    return assessment_id
