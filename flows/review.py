"""A credit review started by a credit manager: research -> (analyst's rating) -> draft ->
approval."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from credit.domain.research_status import AssessmentStatus
from flows.approval import approval_steps
from flows.draft import draft_steps
from flows.research import research_steps


@flow(name="credit-review", flow_run_name="review-{customer_code}-{as_of}")
def credit_review(
    customer_code: str,
    requested_by: str,
    as_of: date,
    review_key: str,
    *,
    requested_limit: str | None = None,
    override_reason: str | None = None,
    analyst: str | None = None,
) -> dict[str, Any]:
    """Research; if the policy needs the analyst's qualitative rating the run ends and
    `credit assess` continues the review, otherwise draft and route it now."""
    scored = research_steps(
        customer_code,
        requested_by,
        as_of,
        review_key,
        analyst=analyst,
        requested_limit=requested_limit,
        override_reason=override_reason,
    )
    if scored["status"] != AssessmentStatus.COMPLETE:
        return {
            "assessment_id": scored["assessment_id"],
            "status": scored["status"],
            "waiting_for": f"qualitative rating by {scored['analyst']}",
        }
    return complete_steps(scored["assessment_id"], as_of)


@flow(name="complete-review", flow_run_name="complete-review-{assessment_id}")
def complete_review(assessment_id: int, as_of: date) -> dict[str, Any]:
    """Draft the request from a complete assessment and route it for approval (their tasks in
    this run: a nested flow run cost up to 2 s more to start, measured by bench.latency)."""
    return complete_steps(assessment_id, as_of)


def complete_steps(assessment_id: int, as_of: date) -> dict[str, Any]:
    """The tasks of drafting and routing, in the calling flow's run."""
    request_id = draft_steps(assessment_id)
    progress = approval_steps(request_id, as_of)
    return {"assessment_id": assessment_id, "request_id": request_id, **progress}
