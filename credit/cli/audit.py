"""`credit audit list|verify|limits`: the append-only audit trail and the evidence of every
credit-limit change."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credit.cli.output import (
    JsonOpt,
    clear_errors,
    console,
    err,
    fail,
    fmt_amount,
    fmt_time,
    get_app,
    parse_date,
    print_json,
    table,
)

if TYPE_CHECKING:
    from credit.services.queries import LimitChange

app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)

LIMIT_CSV_COLUMNS = [
    "at",
    "customer",
    "currency",
    "old_limit",
    "new_limit",
    "terms_days",
    "rating",
    "policy_version",
    "request_id",
    "level",
    "role",
    "decided_by",
    "decided_at",
    "decision",
    "amount_seen",
    "exposure_seen",
    "evidence_hash",
]


@app.command("list")
def audit_list(
    entity: Annotated[
        str | None, typer.Option("--entity", help="Only events about this id or code.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many of the latest events.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The latest audit events: who did what, when, why, before and after."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.audit_events(a, entity=entity, limit=limit)
    if as_json:
        print_json(rows)
        return
    table(
        "Audit trail",
        ["id", "at", "actor", "via", "action", "entity", "reason"],
        [
            [
                r["id"],
                fmt_time(r["at"]),
                r["actor"],
                via_text(r["via"]),
                r["action"],
                f"{r['entity_type']}:{r['entity_id']}",
                r["reason"],
            ]
            for r in rows
        ],
    )


def via_text(via: dict[str, Any] | None) -> str:
    """How an actor acted, in a few words: ``web (password)``, ``cli root@host``, or ``-`` for
    the flows' own steps."""
    if not via:
        return "-"
    if via.get("channel") == "web":
        return f"web ({via.get('method', '?')})"
    if via.get("channel") == "cli":
        return f"cli {via.get('os_user', '?')}@{via.get('host', '?')}"
    return str(via.get("channel", "?"))


@app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check the audit trail's hash chain; names the first event that was edited, deleted, inserted or moved."""  # noqa: E501
    from credit import services

    a = get_app()
    with clear_errors():
        result = services.verify_audit(a)
    if as_json:
        print_json(result)
    elif result["ok"]:
        console.print(
            f"Audit trail intact: {result['events']} events, every link and hash checks out."
        )
    else:
        err.print(
            f"[bold red]Audit trail broken at event {result['broken_at']}[/]: {result['reason']}",
            highlight=False,
        )
    if not result["ok"]:
        raise typer.Exit(1)


def csv_safe(value: Any) -> str:
    """A spreadsheet must not run what a cell says: text starting with = + - @ (or a tab/CR) is
    prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@app.command("limits")
def audit_limits(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (audit clock, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV for a spreadsheet (formula cells neutralised).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Every credit-limit change in a period with its approval evidence: who, when, what they saw."""  # noqa: E501
    from credit import services

    lo, hi = parse_date(start, "--from"), parse_date(end, "--to")
    if hi < lo:
        fail(f"--to {hi} is before --from {lo}")
    a = get_app()
    with clear_errors():
        rows = services.limit_changes(a, start=lo, end=hi)
    if as_json:
        print_json(rows)
    elif as_csv:
        write_limit_changes_csv(rows)
    else:
        table(
            f"Credit-limit changes {lo} to {hi}",
            ["at", "customer", "old", "new", "request", "approvals (who, when, evidence)"],
            [
                [
                    fmt_time(r["at"]),
                    r["customer"],
                    fmt_amount(r["old_limit"], r["currency"]) if r["old_limit"] else "-",
                    fmt_amount(r["new_limit"], r["currency"]),
                    r["request_id"],
                    "; ".join(
                        f"L{st['level']} {st['by']} {(st['at'] or '')[:16]} "
                        f"#{(st['evidence_hash'] or '')[:10]}"
                        for st in r["approvals"]
                    ),
                ]
                for r in rows
            ],
        )


def write_limit_changes_csv(rows: list[LimitChange]) -> None:
    """The limit changes as CSV on standard output: one row per approval step (a change without
    one gets a row of its own), every cell safe for a spreadsheet."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(LIMIT_CSV_COLUMNS)
    for r in rows:
        for st in r["approvals"] or [{}]:
            saw = st.get("saw") or {}
            cells = (
                r["at"],
                r["customer"],
                r["currency"],
                r["old_limit"],
                r["new_limit"],
                r["terms_days"],
                r["rating"],
                r["policy_version"],
                r["request_id"],
                st.get("level"),
                st.get("role"),
                st.get("by"),
                st.get("at"),
                st.get("decision"),
                saw.get("amount"),
                json.dumps(saw.get("exposure", {}), sort_keys=True),
                st.get("evidence_hash"),
            )
            writer.writerow([csv_safe(v) for v in cells])
