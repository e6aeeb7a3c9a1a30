"""`credit collections run`: age receivables and send each customer's next dunning level."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    clear_errors,
    console,
    err,
    error_log,
    fmt_amount,
    get_app,
    parse_date,
    print_json,
    table,
)
from credit.cli.running import run_flow, start_prefect_early
from credit.domain.receivables_status import OutcomeStatus
from credit.domain.words import counted, said

app = typer.Typer(help="Dunning: age receivables and send the next level.", no_args_is_help=True)

# The outcomes in the order the summary line counts them, in words.
OUTCOME_WORDS: dict[str, str] = {
    OutcomeStatus.SENT: "sent",
    OutcomeStatus.WOULD_SEND: "would be sent",
    OutcomeStatus.CLEARED: "cleared",
    OutcomeStatus.WOULD_CLEAR: "would be cleared",
    OutcomeStatus.PROMISE_BROKEN: "promise broken",
    OutcomeStatus.ALREADY_DONE: "already done",
    OutcomeStatus.DEFERRED: "deferred",
    OutcomeStatus.PROMISED: "promised",
    OutcomeStatus.PAUSED: "paused",
    OutcomeStatus.SKIPPED: "skipped",
    OutcomeStatus.NOTHING_DUE: "nothing due",
    OutcomeStatus.COURTESY: "courtesy reminders sent",
    OutcomeStatus.WOULD_COURTESY: "courtesy reminders would be sent",
    OutcomeStatus.ERROR: "failed",
}


def collections_summary(result: dict[str, Any]) -> str:
    """``6 customers checked: EUR 4 sent, 1 nothing due; USD 1 sent; 1 failed``: the outcomes
    per currency (a customer may owe in several), a customer that failed as a whole last."""
    by_currency = result.get("by_currency") or {"": result.get("counts", {})}

    def words(counts: dict[str, int]) -> str:
        order = [*OUTCOME_WORDS, *sorted(set(counts) - set(OUTCOME_WORDS))]
        return ", ".join(
            f"{counts[s]} {OUTCOME_WORDS.get(s, s.replace('_', ' '))}"
            for s in order
            if counts.get(s)
        )

    groups = [
        f"{cur} {words(by_currency[cur])}" if cur else words(by_currency[cur])
        for cur in sorted(by_currency, key=lambda c: (c == "", c))
        if words(by_currency[cur])
    ]
    return f"{counted(result['customers'], 'customer')} checked: " + (
        "; ".join(groups) or "nothing due"
    )


@contextmanager
def collections_log(path: Path | None = None) -> Generator[Path, None, None]:
    """Send what the collections service logs (a failing customer's traceback, with the SQL) to
    the error log instead of the terminal, for the duration of the command: the run's table says
    which customers failed and why, in one line each."""
    path = path or error_log()
    import logging

    class FileOnFirstRecord(logging.FileHandler):  # no folder, no file, unless something is logged
        def _open(self) -> Any:
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            return super()._open()

    logger = logging.getLogger("credit.services.collections")
    handler = FileOnFirstRecord(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        handler.close()


@app.command("run")
def collections_run(
    as_of: AsOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show who would get which level; send and change nothing."),
    ] = False,
    partitions: Annotated[
        int,
        typer.Option(
            "--partitions",
            min=0,
            max=1000,
            help="0 (default): a large run (CREDIT_COLLECTIONS_PARALLEL_FROM customers) uses a "
            "process per core of this machine (CREDIT_COLLECTIONS_PROCESSES); 1: one process; N > 1: "
            "split the customers into N partitions that workers of the Prefect pool claim "
            "alongside this run (needs PREFECT_API_URL and the collections-partition deployment; "
            "without them this run does every partition itself).",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Age open invoices and send each customer's next dunning level (holds and handovers included).

    A live run dated before the latest run, or before payments already recorded, is refused;
    --dry-run may look at any date. A customer that fails is listed with the reason and left as
    it was, the others are dunned, and the command then exits with 1."""
    from credit import services
    from credit.services.collections import CollectionsRunFailed, check_run_date

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        # before Prefect starts: a plain refusal (a date typed in the future too)
        check_run_date(a, as_of=day, dry_run=dry_run, today=a.settings.today())
        due = services.collection_candidates(a, as_of=day, dry_run=dry_run)
    if not due:
        _nothing_due(a, day=day, dry_run=dry_run, as_json=as_json)
        return
    start_prefect_early()  # its server loads while this process imports the flow

    def call() -> Any:
        from flows.collections import collections

        with collections_log() as log_path:
            try:
                return collections(as_of=day, dry_run=dry_run, partitions=partitions), log_path
            except CollectionsRunFailed as failed:  # the others were dunned: show them all
                return failed.result, log_path

    with clear_errors():
        result, log_path = run_flow(f"Collections as of {day}", call)
    if as_json:
        print_json(result)
    else:
        show_run(result, day=day, dry_run=dry_run)
    failed = result.get("failed", 0)
    if failed:
        err.print(
            f"[bold red]error:[/] {counted(failed, 'customer')} failed and "
            f"{'was' if failed == 1 else 'were'} left as {'it was' if failed == 1 else 'they were'}"
            f" (the result column says why); the full error is in {log_path}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _nothing_due(a: Any, *, day: date, dry_run: bool, as_json: bool) -> None:
    """No customer has anything past due, an open dunning episode or a promise to settle: the run
    would take no step, so no flow run is started (the orchestrator's start-up alone costs
    seconds). A live run still sends what the outbox holds, as the flow would."""
    from credit import services

    result: dict[str, Any] = {
        "as_of": day.isoformat(), "dry_run": dry_run, "customers": 0, "counts": {},
        "by_currency": {}, "levels": {}, "actions": [], "actions_total": 0, "failed": 0,
        "errors": [], "flow_run": None,
    }  # fmt: skip
    if not dry_run:
        with clear_errors():
            result["delivered"] = services.deliver(a)
    if as_json:
        print_json(result)
        return
    console.print(
        f"Collections as of {day}: nothing due (no customer has anything past due, an open "
        "dunning episode or a promise to settle); no flow run was needed.",
        highlight=False,
    )


def show_run(result: dict[str, Any], *, day: date, dry_run: bool) -> None:
    """The run's actions as a table, then the summary line."""
    table(
        f"Collections as of {day}" + (" (dry run)" if dry_run else ""),
        ["customer", "currency", "level", "channel", "overdue", "invoices", "action", "result"],
        [
            [
                o["customer"],
                o["currency"],
                f"{o['level']} {o['level_name']}" if o["status"] != OutcomeStatus.ERROR else "",
                o.get("channel", ""),
                fmt_amount(o["overdue_total"], o["currency"]),
                ", ".join(o["invoices"]),
                o["action"],
                said(o["status"]) + (f": {o['reason']}" if o.get("reason") else ""),
            ]
            for o in result["actions"]
        ],
    )
    shown = len(result["actions"])
    if result.get("actions_total", shown) > shown:
        console.print(
            f"the first {shown} of {result['actions_total']} actions are shown; every one is "
            "in `credit audit list` and `credit notices list`"
        )
    console.print(collections_summary(result), highlight=False)
