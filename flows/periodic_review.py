"""Periodic review: re-assess every credit line whose review date has come."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from tasks._runtime import app
from tasks.notices import deliver_notices
from tasks.research import find_due_reviews, notify_reviews_started, review_customers

BATCH = 200


@flow(name="periodic-review", flow_run_name="periodic-review-{as_of}")
def periodic_review(as_of: date | None = None) -> dict:
    """Research, draft and route a review for each due line, in batches; notify the credit team."""
    as_of = as_of or date.today()  # the edge: a scheduled run reviews as of its own day
    due = find_due_reviews(as_of)
    codes = [d["customer"] for d in due]
    requester = app().directory.teams.review_requester
    started: list[dict] = []
    for i in range(0, len(codes), BATCH):
        started += review_customers(codes[i : i + BATCH], as_of, requester)
    notify_reviews_started(as_of, [{**d, **s} for d, s in zip(due, started, strict=True)])
    deliver_notices()
    get_run_logger().info("%d review(s) started as of %s", len(started), as_of)
    return {"as_of": as_of.isoformat(), "reviews": started}
