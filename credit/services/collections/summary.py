"""A collections run's summary: counts per status and level, the errors, the first actions."""

from __future__ import annotations

from typing import TypedDict

from credit.domain.dunning import OutcomeStatus

ACTIONS_SHOWN = 1000  # actions a run reports one by one; the rest are counted (all are stored)


class OutcomeRow(TypedDict):
    """A :class:`~credit.services.collections.decide.DunningOutcome` as a run reports it."""

    customer: str
    currency: str
    level: int
    level_name: str
    overdue_total: str
    invoices: list[str]
    action: str
    status: str  # an OutcomeStatus
    channel: str
    reason: str
    notices: list[str]


class RunSummary(TypedDict):
    counts: dict[str, int]  # outcome status -> customer-currencies
    levels: dict[str, int]  # level name -> notices sent (or, dry, that would be)
    errors: list[OutcomeRow]
    actions: list[OutcomeRow]  # the first ACTIONS_SHOWN outcomes other than nothing_due
    actions_total: int
    by_currency: dict[str, dict[str, int]]  # currency -> status -> count


def empty_summary() -> RunSummary:
    return {
        "counts": {}, "levels": {}, "errors": [], "actions": [], "actions_total": 0,
        "by_currency": {},
    }  # fmt: skip


def run_summary(outcomes: list[OutcomeRow], into: RunSummary | None = None) -> RunSummary:
    """Fold a batch's outcomes into a run's summary: counts per status and per level sent, every
    error, and the first :data:`ACTIONS_SHOWN` actions (a run over 100,000 customers reports its
    figures, not 100,000 rows: each action is in the dunning history, the outbox and the audit)."""
    summary = into if into is not None else empty_summary()
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


def merge_summaries(parts: list[RunSummary]) -> RunSummary:
    """One summary from several (batches, or partitions run by other workers)."""
    out = empty_summary()
    for part in parts:
        _add_counts(out["counts"], part["counts"])
        _add_counts(out["levels"], part["levels"])
        for cur, counts in part.get("by_currency", {}).items():
            _add_counts(out["by_currency"].setdefault(cur, {}), counts)
        out["errors"] += part["errors"]
        out["actions"] += part["actions"][: ACTIONS_SHOWN - len(out["actions"])]
        out["actions_total"] += part["actions_total"]
    return out


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v
