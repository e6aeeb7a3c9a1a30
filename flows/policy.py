"""Policy: a new version goes draft -> committee approval -> published (retiring the old one)."""

from __future__ import annotations

from prefect import flow

from tasks.approval import advance_policy
from tasks.notices import deliver_notices


@flow(name="policy", flow_run_name="policy-v{version}")
def policy(version: int) -> dict:
    """Route a draft, continue after a decision, or publish when the committee has approved."""
    progress = advance_policy(version)
    deliver_notices()
    return progress
