"""``credit serve``: run every deployment on this machine with Prefect's ``serve``."""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.approval import approval, approval_sweeper
from flows.collections import collections, collections_partition
from flows.periodic_review import periodic_review
from flows.policy import policy
from flows.policy_research import policy_research, policy_review
from flows.research import research_reminders
from flows.review import complete_review, credit_review


def serve_all(timezone: str = "UTC") -> None:
    """Collections and periodic review daily, reminders hourly, the policy review quarterly (as in
    prefect.yaml); the rest on demand."""
    # Sync code: to_deployment returns the deployment itself (its typing also allows the awaitable
    # it returns in an async context).
    deployments = cast(
        "list[RunnerDeployment]",
        [
            collections.to_deployment(
                name="daily", schedule=Cron("0 6 * * *", timezone=timezone), concurrency_limit=1
            ),
            periodic_review.to_deployment(
                name="daily", schedule=Cron("0 5 * * *", timezone=timezone), concurrency_limit=1
            ),
            approval_sweeper.to_deployment(
                name="hourly", schedule=Cron("5 * * * *", timezone=timezone), concurrency_limit=1
            ),
            research_reminders.to_deployment(
                name="hourly", schedule=Cron("15 * * * *", timezone=timezone), concurrency_limit=1
            ),
            # Helpers of a partitioned collections run: served here, each runs in its own process.
            collections_partition.to_deployment(name="on-demand"),
            credit_review.to_deployment(name="on-demand"),
            complete_review.to_deployment(name="on-demand"),
            approval.to_deployment(name="on-demand"),
            policy.to_deployment(name="on-demand"),
            policy_review.to_deployment(
                name="quarterly",
                schedule=Cron("0 7 1 1,4,7,10 *", timezone=timezone),
                concurrency_limit=1,
            ),
            policy_research.to_deployment(name="on-demand"),
        ],
    )
    serve(*deployments)
