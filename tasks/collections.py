from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, cast

from prefect import task

from credit.db.engine import refresh_statistics
from credit.services import collections as collections_service
from credit.services import local_partitions, partitions
from credit.services.collections import RunSummary
from tasks.runtime import app

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun


@task(name="find-collection-candidates")
def find_collection_candidates(as_of: date, dry_run: bool = False) -> list[int]:
    """Ids of customers with something past due, an open dunning episode or an open promise
    (a live run dated in the past is refused, with the reason); the database's planner
    statistics refreshed first (the run's queries lean on them)."""
    if not dry_run:
        refresh_statistics(app().engine)
    return collections_service.collection_candidates(app(), as_of=as_of, dry_run=dry_run)


@task(name="dun-customers")
def dun_customers(customer_ids: list[int], as_of: date, dry_run: bool) -> RunSummary:
    """Take the next dunning step for a batch of customers (a transaction per few hundred);
    returns the batch's summary, not one row per customer."""
    outcomes = collections_service.dun_customers(
        app(), customer_ids=customer_ids, as_of=as_of, dry_run=dry_run
    )
    return collections_service.run_summary(outcomes)


@task(name="collections-processes")
def collections_processes(customers: int) -> int:
    """How many processes of this machine a run over ``customers`` uses (1: this one alone)."""
    return local_partitions.processes_for(app(), customers)


@task(name="dun-in-processes")
def dun_in_processes(customer_ids: list[int], as_of: date, dry_run: bool, processes: int) -> dict:
    """Dun the customers in ``processes`` processes of this machine, each sending what it
    queued; the merged summary and the partitions."""
    return local_partitions.dun_in_processes(
        app(), customer_ids=customer_ids, as_of=as_of, dry_run=dry_run, processes=processes
    )


@task(name="plan-partitions")
def plan_partitions(run_key: str, customer_ids: list[int], parts: int) -> int:
    """Split the run's customers into partitions any worker may claim."""
    return partitions.plan_partitions(
        app(), run_key=run_key, customer_ids=customer_ids, parts=parts
    )


@task(name="work-partitions")
def work_partitions(run_key: str, as_of: date, dry_run: bool) -> list:
    """Claim partitions of the run (FOR UPDATE SKIP LOCKED) and dun them until none is free."""
    return partitions.work_partitions(app(), run_key=run_key, as_of=as_of, dry_run=dry_run)


@task(name="finish-partitions")
def finish_partitions(run_key: str, as_of: date, dry_run: bool) -> list:
    """Do whatever partition is left, waiting for those other workers hold until they are done
    or their lease ends."""
    return partitions.finish_run(app(), run_key=run_key, as_of=as_of, dry_run=dry_run)


@task(name="partition-summaries")
def partition_summaries(run_key: str) -> list[dict]:
    return partitions.partition_summaries(app(), run_key=run_key)


@task(name="start-partition-runs")
def start_partition_runs(run_key: str, as_of: date, dry_run: bool, workers: int) -> list[str]:
    """Ask the work pool for ``workers`` runs of the partition deployment (each a helper that
    claims partitions until none is left). Without a server or deployment, nobody helps: the run
    does every partition itself, and says so."""
    from prefect.deployments import run_deployment
    from prefect.logging import get_run_logger

    started: list[str] = []
    for n in range(workers):
        try:
            # Sync code: run_deployment returns the flow run itself (its typing also allows the
            # awaitable it returns in an async context).
            child = cast(
                "FlowRun",
                run_deployment(
                    PARTITION_DEPLOYMENT,
                    parameters={
                        "run_key": run_key,
                        "as_of": as_of.isoformat(),
                        "dry_run": dry_run,
                    },
                    timeout=0,
                    idempotency_key=f"{run_key}:helper-{n}",
                ),
            )
        except Exception as exc:  # no server, no deployment: this run works alone
            get_run_logger().warning(
                "cannot start helper runs of %s (%s: %s); this run does every partition itself",
                PARTITION_DEPLOYMENT,
                type(exc).__name__,
                exc,
            )
            break
        started.append(str(child.id))
    return started


@task(name="wait-for-partitions")
def wait_for_partitions(
    run_key: str,
    helper_ids: list[str],
    *,
    poll: float = 2.0,
    start_grace: float = 300.0,
    deadline: float = 12 * 3600.0,
) -> dict:
    """Wait while the helpers work: until every partition is done, or no helper is running or
    about to (they finished, crashed, or no worker picked them up within ``start_grace``
    seconds), or a partition's lease has ended (its worker died while Prefect still shows the
    run as running), or ``deadline``. The caller then does what is left; helpers that never
    started are cancelled."""
    import time
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    began = time.monotonic()
    not_started = (StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED)
    with get_client(sync_client=True) as client:
        while True:
            runs = [client.read_flow_run(UUID(i)) for i in helper_ids]
            parts = partitions.partition_summaries(app(), run_key=run_key)
            if all(p["status"] == partitions.PartitionStatus.DONE for p in parts):
                break
            running = [r for r in runs if r.state_type == StateType.RUNNING]
            waiting = [r for r in runs if r.state_type in not_started]
            waited = time.monotonic() - began
            if not running and (not waiting or waited > start_grace):
                break
            if partitions.unfinished_with_lease_ended(app(), run_key=run_key) or waited > deadline:
                break
            time.sleep(poll)
        for r in runs:
            if r.state_type in not_started:
                client.set_flow_run_state(
                    r.id, Cancelled(message="no partition left for this helper"), force=True
                )
        return {str(r.id): (r.state_type.value if r.state_type else "") for r in runs}


PARTITION_DEPLOYMENT = "collections-partition/on-demand"
