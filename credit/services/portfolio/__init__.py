"""What the workspace reads of the portfolio: the customer search (keyset pages), a customer's
file beyond :func:`~credit.services.queries.customer_overview`, one notice as it was sent, and
the dashboard's figures.

The dashboard aggregates in SQL and hands the sums to the same domain functions as the policy
research report (:func:`credit.services.analytics.portfolio_report`): the ledger is folded into
a few hundred documents whose dates keep every comparison those functions make (a date moves to
the next day they ask about: a month end or ``as_of``; due dates with the same month ends before
them and the same aging bucket share one). Its figures are the report's, read with a handful of
grouped queries instead of every invoice (:mod:`credit.services.portfolio.fold`)."""

from credit.services.portfolio.customer_file import (
    NoticeView,
    customer_file,
    customer_notice,
    factor_why,
)
from credit.services.portfolio.dashboard import dashboard
from credit.services.portfolio.search import (
    LEVEL_ANY,
    PER_PAGE,
    CustomerPage,
    CustomerSearch,
    SearchChoices,
    search_choices,
    search_customers,
)

__all__ = [
    "LEVEL_ANY",
    "PER_PAGE",
    "CustomerPage",
    "CustomerSearch",
    "NoticeView",
    "SearchChoices",
    "customer_file",
    "customer_notice",
    "dashboard",
    "factor_why",
    "search_choices",
    "search_customers",
]
