"""Periodic review: fall back temporary limits that have ended, scan for risk signals, then re-assess every line whose review date has come
and every customer a high-severity signal flagged."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from credit import progress
from credit.services.reviews import ReviewStarted
from credit.settings import Settings
from tasks.limits import expire_temporary_limits
from tasks.notices import deliver_notices
from tasks.research import (
    find_due_reviews,
    notify_reviews_started,
    review_customers,
    review_requester,
    scan_risk,
)
from tasks.runtime import as_is

BATCH = 2000  # customers per task: a handful of tasks per run, a transaction per 200 inside


@flow(name="periodic-review", flow_run_name="periodic-review-{as_of}")
def periodic_review(as_of: date | None = None) -> dict[str, Any]:
    """Risk scan, then research -> draft -> approval for each due or flagged line, in batches."""
    as_of = (
        as_of or Settings.load().today()
    )  # the edge: a scheduled run reviews as of its own day in the company's time zone
    expired = expire_temporary_limits(as_of)  # before the scan: it sees the limits as they are
    risk = scan_risk(as_of)
    listed = find_due_reviews(as_of)
    # A line whose earlier review is still under way is not started again, but the credit team
    # hears of it: an overdue review never vanishes.
    due = [d for d in listed if not d["in_progress"]]
    under_way = [d for d in listed if d["in_progress"]]
    requester = review_requester()
    started: list[ReviewStarted] = []
    progress.expect("reviews", len(due))
    for i in range(0, len(due), BATCH):
        started += review_customers(as_is(due[i : i + BATCH]), as_of, requester)
        progress.advance("reviews", len(due[i : i + BATCH]))
    by_code = {d["customer"]: d for d in due}
    notify_reviews_started(
        as_of, as_is([{**by_code[s["customer"]], "review": s} for s in started]), as_is(under_way)
    )
    deliver_notices()
    get_run_logger().info("%d review(s) started as of %s; risk scan %s", len(started), as_of, risk)
    return {
        "as_of": as_of.isoformat(),
        "risk": risk,
        "reviews": started,
        "under_way": under_way,
        "temporary_limits_expired": expired,
    }
