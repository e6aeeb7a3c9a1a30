"""The collector's desk: the worklist a page at a time (the collector each case is assigned to, a
priority by amount and days overdue, filters), a customer's case file, a credit hold placed or
released by hand where the policy allows it, and cases assigned to collectors.

- ``shared``: limits, who works cases, where each currency of a customer stands;
- ``worklist``: the open cases, filtered, ranked and paginated;
- ``actions``: manual holds and their release, assigning cases, what a form may name;
- ``case_file``: everything about one customer's case, and what the viewer may do on it.
"""

from __future__ import annotations

from credit.services.casework.actions import (
    assign_cases,
    customer_invoice,
    customer_notice,
    place_hold,
    release_hold,
)
from credit.services.casework.case_file import case_file
from credit.services.casework.worklist import (
    COLLECTOR_FILTERS,
    PROMISE_FILTERS,
    WorklistFilters,
    WorklistPage,
    open_case_count,
    worklist_page,
)

__all__ = [
    "COLLECTOR_FILTERS",
    "PROMISE_FILTERS",
    "WorklistFilters",
    "WorklistPage",
    "assign_cases",
    "case_file",
    "customer_invoice",
    "customer_notice",
    "place_hold",
    "open_case_count",
    "release_hold",
    "worklist_page",
]
