"""`credit status`: what runs (the service, flow runs), what is scheduled next, what waits."""

from __future__ import annotations

import json
from typing import Any

from credit.cli.output import (
    JsonOpt,
    clear_errors,
    console,
    fmt_time,
    get_app,
    print_json,
    table,
)
from credit.domain.words import counted


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    import urllib.request  # 17 ms (http, email, ssl): only `credit status` asks a server

    request = urllib.request.Request(
        f"{api.rstrip('/')}/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=3) as answer:
        return json.loads(answer.read())


def prefect_runs(api: str) -> dict[str, Any]:
    """Scheduled and running flow runs from the Prefect server's REST API (no Prefect import:
    this is a read command)."""
    names: dict[str, str] = {}
    for d in _post(api, "deployments/filter", {"limit": 200}):
        names[d["id"]] = d["name"]
    flows = {f["id"]: f["name"] for f in _post(api, "flows/filter", {"limit": 200})}

    def runs(states: list[str], limit: int) -> list[dict[str, str]]:
        found = _post(
            api,
            "flow_runs/filter",
            {
                "flow_runs": {"state": {"type": {"any_": states}}},
                "sort": "EXPECTED_START_TIME_ASC",
                "limit": limit,
            },
        )
        return [
            {
                "flow": flows.get(r["flow_id"], "?")
                + (f"/{names[r['deployment_id']]}" if r.get("deployment_id") in names else ""),
                "run": r["name"],
                "state": r.get("state_name") or r.get("state_type") or "",
                "at": r.get("expected_start_time") or "",
            }
            for r in found
        ]

    upcoming: dict[str, dict[str, str]] = {}
    for r in runs(["SCHEDULED"], 100):  # the next run of each schedule
        upcoming.setdefault(r["flow"], r)
    return {"running": runs(["RUNNING", "PENDING"], 20), "scheduled": list(upcoming.values())}


def status(as_json: JsonOpt = False) -> None:
    """What is running (the service, flow runs), what is scheduled next, and what is waiting:
    follow-ups of decisions, approvals, analysts' ratings, the outbox."""
    import os

    from credit import services

    a = get_app()
    with clear_errors():
        state = services.house_status(a)
    from credit.cli.running import reachable_prefect

    api = reachable_prefect(state["service"]) or os.environ.get("PREFECT_API_URL")
    prefect: dict[str, Any] = {}
    if api:
        try:
            prefect = prefect_runs(api)
        except (OSError, ValueError, KeyError) as exc:  # URLError is an OSError
            prefect = {"error": f"the Prefect server at {api} did not answer ({exc})"}
    if as_json:
        print_json({**state, "prefect": prefect})
        return
    _print(state, prefect)


def _print(state: Any, prefect: dict[str, Any]) -> None:
    svc = state["service"]
    if svc:
        console.print(
            f"Service: credit serve on {svc['host']} (pid {svc['pid']}), up since "
            f"{fmt_time(svc['started_at'])}; web {svc['web_url'] or '-'}; Prefect "
            f"{svc['prefect_url'] or '-'}",
            highlight=False,
        )
    else:
        last = state["last_service_seen"]
        console.print(
            "Service: not running"
            + (f" (last seen {fmt_time(last)})" if last else "")
            + ". Commands run their follow-ups themselves; nothing runs on schedule. "
            "Start it with `credit serve`.",
            highlight=False,
        )
    if prefect.get("error"):
        console.print(prefect["error"], highlight=False)
    for title, key in (("Running now", "running"), ("Next run of each schedule", "scheduled")):
        if prefect.get(key):
            table(
                title,
                ["flow", "run", "state", "at"],
                [[r["flow"], r["run"], r["state"], fmt_time(r["at"])] for r in prefect[key]],
            )
    fu = state["follow_ups"]
    box = state["outbox"]
    console.print(
        f"Follow-ups of decisions: {fu['pending']} waiting, {fu['running']} running, "
        f"{fu['failed']} failed",
        highlight=False,
    )
    if state["open_follow_ups"]:
        table(
            "Follow-ups not done",
            ["id", "kind", "asked by", "since", "status", "attempts", "last error"],
            [
                [
                    f["id"],
                    f["kind"],
                    f["requested_by"],
                    fmt_time(f["created_at"]),
                    f["status"],
                    f["attempts"],
                    (f["error"] or "")[:80],
                ]
                for f in state["open_follow_ups"]
            ],
        )
    due = state["oldest_approval_due"]
    console.print(
        f"Approvals waiting: {state['approvals_waiting']} ({state['approvals_overdue']} overdue"
        + (f", oldest due {fmt_time(due)}" if due else "")
        + f"); {counted(state['ratings_waiting'], 'qualitative rating')} waiting for analysts",
        highlight=False,
    )
    console.print(
        f"Outbox: {box['pending']} to send ({box['retrying']} waiting out a retry), "
        f"{box['failed']} failed"
        + (" (`credit notices list --status failed`)" if box["failed"] else ""),
        highlight=False,
    )
