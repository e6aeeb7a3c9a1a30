"""Approval: route a request through the authority matrix, one short run per decision.

The wait for people lives in the database. This flow runs after the draft and after every
decision: it asks the next approver, sends the rejection, or publishes once the chain is complete.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from credit.domain.authority import RequestStatus
from credit.settings import Settings
from flows.publish import publish, publish_steps
from tasks.approval import (
    advance_request,
    approved_requests,
    remind_dispute_owners,
    sweep_approvals,
)
from tasks.notices import deliver_notices


@flow(name="approval", flow_run_name="approval-request-{request_id}")
def approval(request_id: int, as_of: date) -> dict:
    """Advance one credit request; publishes it when every level has approved."""
    return approval_steps(request_id, as_of)


def approval_steps(request_id: int, as_of: date) -> dict:
    """The tasks of advancing a request (and publishing it), in the calling flow's run."""
    progress = advance_request(request_id, as_of)
    deliver_notices()
    log = get_run_logger()
    if progress["status"] == RequestStatus.APPROVED:
        log.info("request %s approved at every level: publishing", request_id)
        progress["published"] = publish_steps(request_id, as_of)
        progress["status"] = RequestStatus.PUBLISHED
    else:
        log.info("request %s: %s %s", request_id, progress["status"], progress["waiting_for"] or "")
    return progress


@flow(name="approval-sweeper")
def approval_sweeper(as_of: date | None = None) -> dict:
    """Hourly: remind approvers at the first deadline, escalate at the second (each notice once);
    remind the owners of disputes past their due date (once per dispute and due date)."""
    as_of = (
        as_of or Settings.load().today()
    )  # the edge: a scheduled run sweeps as of its own day in the company's time zone
    counts = sweep_approvals(as_of)
    disputes = remind_dispute_owners(as_of)
    # A decision is committed with what it decides; publishing and sending follow in the
    # approver's own run. If that run died, its work is picked up here, once.
    published, stuck = 0, []
    for request_id in approved_requests():
        try:
            publish(request_id, as_of)
            published += 1
        except Exception as exc:  # one request that cannot publish must not hold up the rest
            get_run_logger().error("approved request %s not published: %s", request_id, exc)
            stuck.append(request_id)
    deliver_notices()
    return {**counts, **disputes, "published": published, "not_published": stuck}
