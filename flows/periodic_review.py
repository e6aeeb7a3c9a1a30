"""Periodic review: fall back temporary limits that have ended, scan for risk signals, then re-assess every line whose review date has come
and every customer a high-severity signal flagged."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from credit import progress
from credit.services.reviews import DueReview
from credit.settings import Settings
from tasks.limits import expire_temporary_limits
from tasks.notices import deliver_notices
from tasks.research import (
    count_due_reviews,
    notify_reviews_started,
    review_due_page,
    review_requester,
    scan_risk,
)
from tasks.runtime import as_is

BATCH = 2000  # customers per task (a page of due lines): a transaction per 200 inside


@flow(name="periodic-review", flow_run_name="periodic-review-{as_of}")
def periodic_review(as_of: date | None = None) -> dict[str, Any]:
    """Risk scan, then research -> draft -> approval for each due or flagged line, in batches."""
    as_of = (
        as_of or Settings.load().today()
    )  # the edge: a scheduled run reviews as of its own day in the company's time zone
    expired = expire_temporary_limits(as_of)  # before the scan: it sees the limits as they are
    risk = scan_risk(as_of)
    # A page of customers at a time (the run holds one page of due lines, not the whole list).
    # A line whose earlier review is still under way is not started again, but the credit team
    # hears of it: an overdue review never vanishes.
    requester = review_requester()
    progress.expect("due lines", count_due_reviews(as_of))
    started: list[dict[str, Any]] = []
    under_way: list[DueReview] = []
    after: int | None = 0
    while after is not None:
        page = review_due_page(as_of, after, BATCH, requester)
        started += page["started"]
        under_way += page["under_way"]
        progress.advance("due lines", page["lines"])
        after = page["after"]
    # in due date and customer order, as `credit reviews due` lists them (pages go by customer id)
    started.sort(key=_due_order)
    under_way.sort(key=_due_order)
    notify_reviews_started(as_of, as_is(started), as_is(under_way))
    deliver_notices()
    get_run_logger().info("%d review(s) started as of %s; risk scan %s", len(started), as_of, risk)
    return {
        "as_of": as_of.isoformat(),
        "risk": risk,
        "reviews": [s["review"] for s in started],
        "under_way": under_way,
        "temporary_limits_expired": expired,
    }


def _due_order(d: Mapping[str, Any]) -> tuple[str, str]:
    return (d["next_review_on"], d["customer"])
