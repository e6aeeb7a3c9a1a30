"""Collections: age receivables and take each customer's next dunning step, in batches."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Failed, State

from credit import progress
from credit.services.collections import CollectionsRunFailed, RunSummary, merge_summaries
from credit.settings import Settings
from tasks.collections import (
    collections_processes,
    dun_customers,
    dun_in_processes,
    find_collection_candidates,
    finish_partitions,
    partition_summaries,
    plan_partitions,
    start_partition_runs,
    wait_for_partitions,
    work_partitions,
)
from tasks.notices import deliver_notices
from tasks.runtime import as_is

BATCH = 2000  # customers per task: a handful of tasks per run, a transaction per 500 inside


@flow(name="collections", flow_run_name="collections-{as_of}")
def collections(
    as_of: date | None = None, dry_run: bool = False, partitions: int = 0
) -> dict | State:
    """One notice per customer and currency per level; hold and handover as the policy says.

    A large run (``CREDIT_COLLECTIONS_PARALLEL_FROM`` customers, 5,000 by default) uses every
    core of this machine: helper processes work partitions of it beside this one, each sending
    what it queued (``CREDIT_COLLECTIONS_PROCESSES``; ``partitions=1`` keeps it in one process).

    With ``partitions`` > 1 the customers are split into that many partitions and as many helper
    runs of the ``collections-partition`` deployment are asked for: the pool's workers (on any
    machine) claim the partitions, and this run takes over whatever they leave.

    A live run dated before the latest run, or before payments already recorded, is refused. If
    customers fail, the others are still dunned and the run ends Failed, its result (every
    outcome, the errors included) attached: calling the flow raises
    :class:`~credit.services.collections.CollectionsRunFailed` carrying it."""
    as_of = (
        as_of or Settings.load().today()
    )  # the edge: a scheduled run collects as of its own day in the company's time zone
    ids = find_collection_candidates(as_of, dry_run)
    if partitions > 1 and ids:
        return _partitioned(as_of, dry_run, ids, partitions)
    progress.expect("customers", len(ids))
    processes = collections_processes(len(ids)) if partitions == 0 and not dry_run else 1
    if processes > 1:
        done = dun_in_processes(as_is(ids), as_of, dry_run, processes)
        return _finish(as_of, dry_run, len(ids), done["summary"], partitions=done["partitions"])
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    progress.expect("batches", len(batches))
    summaries = []
    for batch in batches:
        summaries.append(dun_customers(as_is(batch), as_of, dry_run))
        progress.advance("batches")
    summary = merge_summaries(summaries)
    if not dry_run:
        deliver_notices()
    return _finish(as_of, dry_run, len(ids), summary)


def _partitioned(as_of: date, dry_run: bool, ids: list[int], parts: int) -> dict | State:
    run_key = f"collections:{as_of.isoformat()}:{flow_run.id}"
    progress.expect("customers", len(ids))  # those dunned here are counted
    plan_partitions(run_key, as_is(ids), parts)
    helpers = start_partition_runs(run_key, as_of, dry_run, parts)
    if helpers:  # the pool's workers do the partitions; this run waits for them
        wait_for_partitions(run_key, helpers)
    # Whatever is left (no helpers, or a helper died: its lease ends) is done here.
    finish_partitions(run_key, as_of, dry_run)
    if not dry_run:
        deliver_notices()  # whatever a helper queued and could not send
    done = partition_summaries(run_key)
    return _finish(
        as_of,
        dry_run,
        len(ids),
        merge_summaries([p["summary"] for p in done]),
        partitions=[{k: p[k] for k in ("part", "worker", "customers")} for p in done],
    )


@flow(name="collections-partition", flow_run_name="collections-partition-{as_of}")
def collections_partition(run_key: str, as_of: date, dry_run: bool = False) -> dict:
    """A helper of a partitioned collections run: claim partitions until none is left, then send
    their notices (claims and leases keep helpers from sending one twice)."""
    done = work_partitions(run_key, as_of, dry_run)
    if not dry_run:
        deliver_notices()
    get_run_logger().info("%s: partitions %s done here", run_key, done)
    return {"run_key": run_key, "partitions": done}


def _finish(
    as_of: date,
    dry_run: bool,
    customers: int,
    summary: RunSummary,
    *,
    partitions: list | None = None,
) -> dict | State:
    result = {
        "as_of": as_of.isoformat(),
        "dry_run": dry_run,
        "customers": customers,
        "counts": summary["counts"],
        "by_currency": summary.get("by_currency", {}),
        "levels": summary["levels"],
        "actions": summary["actions"],
        "actions_total": summary["actions_total"],
        "failed": len(summary["errors"]),
        "errors": summary["errors"][:100],
    }
    if partitions is not None:
        result["partitions"] = partitions
    failed = summary["errors"]
    if failed:
        # Everyone else was dunned and told; the run still fails so the operator sees it, and
        # whoever called it gets the whole result (the table and the counts) with the failure.
        message = (
            f"collections {as_of}: {len(failed)} customer(s) failed and were left as they were: "
            + "; ".join(f"{o['customer']}: {o['reason']}" for o in failed[:20])
        )
        # The state's message is what the Prefect UI shows; the tracebacks are in the log.
        return Failed(message=message, data=CollectionsRunFailed(message, result))
    get_run_logger().info(
        "collections %s: %s; levels %s", as_of, summary["counts"], summary["levels"]
    )
    return result
