"""Collections: age receivables and take each customer's next dunning step, in batches."""

from __future__ import annotations

from collections import Counter
from datetime import date

from prefect import flow, get_run_logger

from credit.settings import Settings
from tasks.collections import dun_customers, find_collection_candidates
from tasks.notices import deliver_notices

BATCH = 500


@flow(name="collections", flow_run_name="collections-{as_of}")
def collections(as_of: date | None = None, dry_run: bool = False) -> dict:
    """One notice per customer and currency per level; hold and handover as the policy says."""
    as_of = (
        as_of or Settings.load().today()
    )  # the edge: a scheduled run collects as of its own day in the company's time zone
    ids = find_collection_candidates(as_of)
    outcomes: list[dict] = []
    for i in range(0, len(ids), BATCH):
        outcomes += dun_customers(ids[i : i + BATCH], as_of, dry_run)
    if not dry_run:
        deliver_notices()
    counts = Counter(o["status"] for o in outcomes)
    failed = [o for o in outcomes if o["status"] == "error"]
    if failed:
        # Everyone else was dunned and told; the run still fails so the operator sees it.
        raise RuntimeError(
            f"collections {as_of}: {len(failed)} customer(s) failed and were left as they were: "
            + "; ".join(f"{o['customer']}: {o['reason']}" for o in failed[:20])
        )
    levels = Counter(o["level_name"] for o in outcomes if o["status"] in ("sent", "would_send"))
    get_run_logger().info("collections %s: %s; levels %s", as_of, dict(counts), dict(levels))
    return {
        "as_of": as_of.isoformat(),
        "dry_run": dry_run,
        "customers": len(ids),
        "counts": dict(counts),
        "levels": dict(levels),
        "actions": [o for o in outcomes if o["status"] != "nothing_due"],
    }
