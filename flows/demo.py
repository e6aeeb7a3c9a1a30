"""The demo: the whole lifecycle on the shipped sample data, on SQLite and Prefect's local mode.

Run it with ``credit demo`` (or ``make demo``); it sets up its own folder first.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from credit import services
from credit.importers import import_file
from credit.resources import resource_dir
from flows.approval import approval
from flows.collections import collections
from flows.periodic_review import periodic_review
from flows.policy import policy
from flows.review import credit_review
from tasks._runtime import app

REVIEW_DAY = date(2026, 10, 1)
COLLECTION_DAYS = [
    date(2026, 10, 1),
    date(2026, 10, 15),
    date(2026, 10, 31),
    date(2026, 11, 15),
    date(2026, 11, 30),
    date(2026, 12, 15),
]
PERIODIC_DAY = date(2027, 1, 4)


def run_demo(directory: Path, console: Console) -> None:
    a = app()
    data = resource_dir("sample_data")
    say = console.print

    say("[bold]1. Set-up[/]: migrate the database and publish config/policy.yaml as version 1")
    services.init_database(a, actor="demo")
    for kind in ("customers", "financials", "invoices", "payments"):
        with a.uow() as uow:
            plan = import_file(
                uow.session, kind=kind, path=data / f"{kind}.csv", actor="demo", dry_run=False
            )
            uow.commit()
        say(f"   imported {kind}: {len(plan.created)} new rows")

    say("[bold]2. Research, draft and approval routing[/] for three customers (as of 2026-10-01)")
    reviews = {}
    for code, limit in (("C-1001", "120000"), ("C-1003", "30000"), ("C-1004", "20000")):
        r = credit_review(
            customer_code=code,
            requested_by="ben.manager",
            as_of=REVIEW_DAY,
            review_key=f"demo:{code}",
            requested_limit=limit,
        )
        reviews[code] = r["request_id"]
        say(
            f"   {code}: requested {limit}, request {r['request_id']} {r['status']}, waiting for "
            f"{r['waiting_for']}"
        )

    say("[bold]3. Decisions[/] (each one starts a short approval flow run)")
    for user, code, why in (
        ("ben.manager", "C-1001", "self-approval"),
        ("junior.analyst", "C-1003", "beyond authority"),
    ):
        try:
            services.decide(
                a,
                subject=services.SUBJECT_REQUEST,
                subject_id=reviews[code],
                username=user,
                approve=True,
                comment=None,
            )
            raise AssertionError(f"{why} was accepted")
        except services.DecisionRefused as exc:
            say(f"   refused ({why}): {exc}")
    steps = [
        ("carla.manager", "C-1001", True, "Strong balance sheet, clean payment record."),
        ("fiona.director", "C-1001", True, "Within the group's exposure appetite."),
        ("carla.manager", "C-1003", True, "Acceptable; quarterly review."),
        ("carla.manager", "C-1004", False, "Loss-making start-up: prepayment only for now."),
    ]
    for user, code, ok, comment in steps:
        services.decide(
            a,
            subject=services.SUBJECT_REQUEST,
            subject_id=reviews[code],
            username=user,
            approve=ok,
            comment=comment,
        )
        progress = approval(request_id=reviews[code], as_of=REVIEW_DAY)
        say(
            f"   {user} {'approved' if ok else 'rejected'} {code}: request now {progress['status']}"
            + (f", waiting for {progress['waiting_for']}" if progress.get("waiting_for") else "")
        )

    say("[bold]4. Policy lifecycle[/]: version 2 proposed, approved by the committee, published")
    version = services.propose_policy(
        a,
        path=data / "policy_v2.yaml",
        by="carla.manager",
        reason="Higher cap for A-rated customers; higher tolerance",
    )
    progress = policy(version=version)
    say(f"   version {version} {progress['status']}, waiting for {progress['waiting_for']}")
    for user in ("fiona.director", "victor.cfo"):
        services.decide(
            a,
            subject=services.SUBJECT_POLICY,
            subject_id=version,
            username=user,
            approve=True,
            comment="Agreed in the credit committee.",
        )
        progress = policy(version=version)
    say(f"   version {version} is {progress['status']}")

    say("[bold]5. Collections[/] over simulated weeks (one level per run, never skipping)")
    for day in COLLECTION_DAYS:
        result = collections(as_of=day)
        moves = [
            f"{o['customer']}:{o['level_name']}"
            for o in result["actions"]
            if o["status"] in ("sent", "cleared")
        ]
        say(f"   {day}: {', '.join(moves) or 'nothing due'}")
    again = collections(as_of=COLLECTION_DAYS[-1])
    sent_again = [o for o in again["actions"] if o["status"] == "sent"]
    say(
        f"   {COLLECTION_DAYS[-1]} again: {len(sent_again)} new notice(s) (a rerun sends nothing twice)"
    )

    say(f"[bold]6. Periodic review[/] as of {PERIODIC_DAY}")
    result = periodic_review(as_of=PERIODIC_DAY)
    for r in result["reviews"]:
        say(
            f"   {r['customer']}: request {r.get('request_id')} {r.get('status')}, waiting for "
            f"{r.get('waiting_for')}"
        )

    _summary(a, directory, console)


def _summary(a, directory: Path, console: Console) -> None:  # type: ignore[no-untyped-def]
    rows = services.customer_list(a)
    t = Table(title="Customers after the demo", title_justify="left")
    for col in ("code", "name", "rating", "limit", "terms", "line", "dunning level"):
        t.add_column(col)
    for r in rows:
        view = services.customer_overview(a, code=r["code"], as_of=PERIODIC_DAY)
        levels = ", ".join(f"{cur} {lv}" for cur, lv in view["dunning_level"].items() if lv) or "-"
        limit = f"{r['currency']} {Decimal(r['limit']):,.2f}" if r["limit"] else "-"
        t.add_row(
            r["code"],
            r["name"],
            r["rating"] or "-",
            limit,
            f"{r['terms_days']} d" if r["terms_days"] is not None else "-",
            r["status"] or "-",
            levels,
        )
    console.print(t)
    notices = services.list_notices(a, customer_code=None, kind=None, limit=100_000)
    by_kind = Counter(n["kind"] for n in notices)
    k = Table(title="Notices", title_justify="left")
    k.add_column("kind")
    k.add_column("count", justify="right")
    for kind, count in sorted(by_kind.items()):
        k.add_row(kind, str(count))
    console.print(k)
    actions = Counter(e["action"] for e in services.audit_events(a, entity=None, limit=1_000_000))
    console.print(
        f"Audit trail: {sum(actions.values())} events - {actions['credit_line.publish']} credit lines "
        f"published, {actions['approval.approve']} approvals, {actions['approval.reject']} rejection(s), "
        f"{actions['approval.refused']} refused attempt(s), {actions['credit_line.hold']} hold(s) placed, "
        f"{actions['credit_line.release']} released, {actions['dunning.level']} dunning steps."
    )
    status = Counter(n["status"] for n in notices)
    outbox = Path(a.settings.outbox_dir).resolve()
    console.print(
        f"[bold green]{len(notices)} notices[/] ({dict(status)}); the .eml files are in "
        f"[bold]{outbox}[/] ({len(list(outbox.glob('*.eml')))} files)."
    )
    console.print(
        f"Database: {a.settings.database_url}. Try: CREDIT_DATABASE_URL={a.settings.database_url} "
        "credit customers show C-1003"
    )
