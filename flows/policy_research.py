"""The credit policy's research step and its periodic review: portfolio analytics as of a date,
written as a report (Markdown with charts, and a Prefect artifact), sent to the policy committee."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from credit.settings import Settings
from tasks.notices import deliver_notices
from tasks.policy_research import notify_policy_committee, portfolio_report, write_policy_report


@flow(name="policy-research", flow_run_name="policy-research-{as_of}")
def policy_research(
    as_of: date | None = None, months: int = 12, review_due: bool = False
) -> dict[str, Any]:
    """Compute the report, write it, tell the committee; ``review_due`` for the quarterly review."""
    as_of = as_of or Settings.load().today()  # the edge: today in the company's time zone
    report = portfolio_report(as_of, months)
    path = write_policy_report(report)
    notice = notify_policy_committee(as_of, report, path, review_due)
    deliver_notices()
    return {"as_of": as_of.isoformat(), "report": path, "notice": notice, "figures": report}


@flow(name="policy-review", flow_run_name="policy-review-{as_of}")
def policy_review(as_of: date | None = None) -> dict[str, Any]:
    """The periodic policy review (quarterly): the research report, and the committee is told the
    policy is due for evaluation."""
    return policy_research(as_of=as_of, review_due=True)
