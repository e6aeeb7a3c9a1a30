"""Policy: a new version goes draft -> committee approval -> published (retiring the old one)."""

from __future__ import annotations

from datetime import date

from prefect import flow

from credit.settings import Settings
from tasks.approval import advance_policy, backtest_policy
from tasks.notices import deliver_notices


@flow(name="policy", flow_run_name="policy-v{version}")
def policy(version: int, as_of: date | None = None) -> dict:
    """Back-test and route a draft, continue after a decision, or publish when the committee has
    approved. The back-test (the last 90 days to ``as_of``) goes into the approval notices."""
    as_of = as_of or Settings.load().today()  # the edge: today in the company's time zone
    summary = backtest_policy(version, as_of)
    progress = advance_policy(version, summary)
    deliver_notices()
    return progress
