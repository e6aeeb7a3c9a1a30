from __future__ import annotations

from datetime import date

from prefect import task

from credit import services
from tasks._runtime import app


@task(name="assess-customer")
def assess_customer(customer_code: str, as_of: date, requested_by: str, review_key: str) -> int:
    """Score and rate one customer; returns the assessment id."""
    return services.assess_customer(
        app(),
        customer_code=customer_code,
        as_of=as_of,
        requested_by=requested_by,
        review_key=review_key,
    )


@task(name="review-customers")
def review_customers(customer_codes: list[str], as_of: date, requested_by: str) -> list[dict]:
    """Research, draft and route a batch of scheduled re-reviews."""
    return services.review_customers(
        app(), customer_codes=customer_codes, as_of=as_of, requested_by=requested_by
    )


@task(name="find-due-reviews")
def find_due_reviews(as_of: date) -> list[dict]:
    return services.due_reviews(app(), as_of=as_of)


@task(name="notify-reviews-started")
def notify_reviews_started(as_of: date, reviews: list[dict]) -> int | None:
    return services.notify_reviews_started(app(), as_of=as_of, reviews=reviews)
