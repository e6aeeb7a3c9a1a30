from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact

from credit import services
from credit.db.engine import refresh_statistics
from credit.services.research import Collected, ReminderCounts, ScoredSummary
from credit.services.reviews import DueReview, ReviewedPage
from credit.services.risk import RiskScan
from tasks.runtime import app


@task(name="collect-and-clean")
def collect_customer_data(
    customer_code: str,
    as_of: date,
    *,
    requested_by: str,
    review_key: str,
    analyst: str | None = None,
    requested_limit: str | None = None,
    override_reason: str | None = None,
) -> Collected:
    """Collect and clean the customer's data into an assessment; returns its id and the
    cleaning report."""
    return services.collect_customer_data(
        app(),
        customer_code=customer_code,
        as_of=as_of,
        requested_by=requested_by,
        review_key=review_key,
        analyst=analyst,
        requested_limit=Decimal(requested_limit) if requested_limit is not None else None,
        override_reason=override_reason,
    )


@task(name="score-assessment")
def score_assessment(
    assessment_id: int, customer_code: str, reuse_qualitative: bool = False
) -> ScoredSummary:
    """Quantitative scorecard and risk signals; ask the analyst or complete. Publishes the
    breakdown."""
    scored = services.score_assessment(
        app(), assessment_id=assessment_id, reuse_qualitative=reuse_qualitative
    )
    slug = re.sub(r"[^a-z0-9-]+", "-", customer_code.lower()).strip("-")
    slug += "-" + hashlib.sha1(customer_code.encode()).hexdigest()[:6]  # C.1 and C-1 stay apart
    create_table_artifact(
        key=f"scorecard-{slug}",
        table=[
            {
                "factor": f["label"],
                "value": f["value"] if f["value"] is not None else "missing",
                "band": f["band"],
                "points": f["points"],
                "weight": f["weight"],
                "weighted": f["weighted"],
            }
            for f in scored["factors"]
        ],
        description=f"Assessment {assessment_id} of {customer_code}: quantitative score "
        f"{scored['quantitative_score']}, status {scored['status']}",
    )
    return scored


@task(name="resume-research")
def resume_research(as_of: date) -> dict[str, list[int]]:
    """Finish research runs that stopped half way (scored, drafted and routed)."""
    return services.resume_research(app(), as_of=as_of)


@task(name="send-research-reminders")
def send_research_reminders() -> ReminderCounts:
    return services.send_research_reminders(app())


@task(name="scan-risk")
def scan_risk(as_of: date) -> RiskScan:
    """Risk signals for every customer with a credit line; high ones alert and flag for
    re-review."""
    return services.scan_risk(app(), as_of=as_of)


def review_requester() -> str:
    """Who a periodic review's requests are requested by (the directory's review requester)."""
    return app().directory.teams.review_requester


@task(name="count-due-reviews")
def count_due_reviews(as_of: date) -> int:
    """How many lines are due (the run's progress total); the database's planner statistics
    refreshed first (the run's queries lean on them)."""
    refresh_statistics(app().engine)
    return services.count_due_lines(app(), as_of=as_of)


@task(name="review-due-page")
def review_due_page(as_of: date, after: int, size: int, requested_by: str) -> ReviewedPage:
    """The due lines of the next ``size`` customers after ``after``: research, draft and route
    those not under way. Returns the reviews started (with their line, for the credit team's
    notice), the lines still under way, how many lines the page held and where the next starts."""
    page = services.due_reviews_page(
        app(), as_of=as_of, after=after, size=size, include_in_progress=True
    )
    due = [d for d in page["due"] if not d["in_progress"]]
    started = (
        services.review_customers(app(), due=due, as_of=as_of, requested_by=requested_by)
        if due
        else []
    )
    by_code = {d["customer"]: d for d in due}
    return {
        "started": [{**by_code[s["customer"]], "review": s} for s in started],
        "under_way": [d for d in page["due"] if d["in_progress"]],
        "lines": page["lines"],
        "after": page["after"],
    }


@task(name="notify-reviews-started")
def notify_reviews_started(
    as_of: date, reviews: list[dict[str, Any]], under_way: list[DueReview] | None = None
) -> int | None:
    return services.notify_reviews_started(
        app(), as_of=as_of, reviews=reviews, under_way=under_way or []
    )
