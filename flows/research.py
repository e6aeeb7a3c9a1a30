"""Research: collect and clean the customer's data, score it, ask the analyst for the qualitative
part (the wait lives in the database), combine and rate."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from credit.services.research import ReminderCounts, ScoredSummary
from credit.settings import Settings
from tasks.notices import deliver_notices
from tasks.research import (
    collect_customer_data,
    resume_research,
    score_assessment,
    send_research_reminders,
)


class ResearchDone(ScoredSummary):
    """The scored assessment, with what cleaning did to the customer's data."""

    cleaning: dict[str, Any]


class Reminded(ReminderCounts):
    """Reminders and escalations sent, and interrupted research runs finished."""

    resumed: int


@flow(name="research", flow_run_name="research-{customer_code}-{as_of}")
def research(
    customer_code: str,
    requested_by: str,
    as_of: date,
    review_key: str,
    *,
    analyst: str | None = None,
    requested_limit: str | None = None,
    override_reason: str | None = None,
) -> ResearchDone:
    """Returns the assessment's status: complete, or awaiting the analyst's qualitative rating."""
    return research_steps(
        customer_code,
        requested_by,
        as_of,
        review_key,
        analyst=analyst,
        requested_limit=requested_limit,
        override_reason=override_reason,
    )


def research_steps(
    customer_code: str,
    requested_by: str,
    as_of: date,
    review_key: str,
    *,
    analyst: str | None = None,
    requested_limit: str | None = None,
    override_reason: str | None = None,
) -> ResearchDone:
    """The tasks of research, in the calling flow's run."""
    collected = collect_customer_data(
        customer_code,
        as_of,
        requested_by=requested_by,
        review_key=review_key,
        analyst=analyst,
        requested_limit=requested_limit,
        override_reason=override_reason,
    )
    scored = score_assessment(collected["assessment_id"], customer_code)
    deliver_notices()
    get_run_logger().info(
        "customer %s: assessment %s %s", customer_code, scored["assessment_id"], scored["status"]
    )
    return {**scored, "cleaning": collected["cleaning"]}


@flow(name="research-reminders")
def research_reminders(as_of: date | None = None) -> Reminded:
    """Finish interrupted research and remind analysts of overdue qualitative ratings (hourly)."""
    as_of = (
        as_of or Settings.load().today()
    )  # the edge: a scheduled run works as of its own day in the company's time zone
    resumed = resume_research(as_of)
    sent: Reminded = {
        **send_research_reminders(),
        "resumed": len(resumed["scored"]) + len(resumed["drafted"]),
    }
    deliver_notices()
    return sent
