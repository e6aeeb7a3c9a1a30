"""A collections run's summary: counts per status and level, the errors, the first actions."""

from __future__ import annotations

from typing import Any

from credit.domain.dunning import OutcomeStatus

ACTIONS_SHOWN = 1000  # actions a run reports one by one; the rest are counted (all are stored)


def run_summary(
    outcomes: list[dict[str, Any]], into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Fold a batch's outcomes into a run's summary: counts per status and per level sent, every
    error, and the first :data:`ACTIONS_SHOWN` actions (a run over 100,000 customers reports its
    figures, not 100,000 rows: each action is in the dunning history, the outbox and the audit)."""
    summary: dict[str, Any] = into if into is not None else {
        "counts": {}, "levels": {}, "errors": [], "actions": [], "actions_total": 0,
        "by_currency": {},
    }  # fmt: skip
    by_currency = summary.setdefault("by_currency", {})
    for o in outcomes:
        summary["counts"][o["status"]] = summary["counts"].get(o["status"], 0) + 1
        per = by_currency.setdefault(o["currency"], {})  # "": a customer that failed as a whole
        per[o["status"]] = per.get(o["status"], 0) + 1
        if o["status"] in (OutcomeStatus.SENT, OutcomeStatus.WOULD_SEND):
            summary["levels"][o["level_name"]] = summary["levels"].get(o["level_name"], 0) + 1
        if o["status"] == OutcomeStatus.ERROR:
            summary["errors"].append(o)
        if o["status"] != OutcomeStatus.NOTHING_DUE:
            summary["actions_total"] += 1
            if len(summary["actions"]) < ACTIONS_SHOWN:
                summary["actions"].append(o)
    return summary


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary from several (batches, or partitions run by other workers)."""
    out: dict[str, Any] = {
        "counts": {}, "levels": {}, "errors": [], "actions": [], "actions_total": 0,
        "by_currency": {},
    }  # fmt: skip
    for part in parts:
        for key in ("counts", "levels"):
            for k, v in part[key].items():
                out[key][k] = out[key].get(k, 0) + v
        for cur, counts in part.get("by_currency", {}).items():
            per = out["by_currency"].setdefault(cur, {})
            for k, v in counts.items():
                per[k] = per.get(k, 0) + v
        out["errors"] += part["errors"]
        out["actions"] += part["actions"][: ACTIONS_SHOWN - len(out["actions"])]
        out["actions_total"] += part["actions_total"]
    return out
