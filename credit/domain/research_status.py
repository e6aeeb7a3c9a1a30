"""Where a credit research stands: the statuses an assessment moves through, and what a review
run reports of a customer whose review could not start."""

from __future__ import annotations

from enum import StrEnum


class AssessmentStatus(StrEnum):
    """An assessment's status (``credit_assessment.status``): collected, then either complete
    or waiting for the analyst's qualitative rating (complete once given, or cancelled)."""

    COLLECTED = "collected"
    AWAITING_QUALITATIVE = "awaiting_qualitative"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


# An assessment still under way: a new review of the customer cannot start beside it.
IN_PROGRESS = (AssessmentStatus.COLLECTED, AssessmentStatus.AWAITING_QUALITATIVE)


# A due review's reason when its date has come (a flagged customer's reads "risk signal: ...");
# a recent qualitative rating may be carried over into a scheduled review only.
SCHEDULED = "scheduled"


class ReviewOutcome(StrEnum):
    """The status a review run reports for a customer besides its assessment's or request's."""

    NOT_STARTED = "not started"
