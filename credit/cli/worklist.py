"""The collections team at work: `credit worklist` (per collector, by priority), `credit worklist
log|assign`, `credit promise` and `credit dispute open|resolve|list`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    UserOpt,
    as_code,
    clear_errors,
    console,
    fail,
    fmt_amount,
    get_app,
    parse_date,
    parse_money,
    print_json,
    table,
)

app = typer.Typer(
    help="The collections team's worklist: handovers and call tasks.",
    invoke_without_command=True,
)
dispute_app = typer.Typer(
    help="Disputed invoices: they leave dunning until resolved.", no_args_is_help=True
)


@dispute_app.command("open")
def dispute_open(
    invoice: Annotated[str, typer.Argument(help="Invoice number.")],
    *,
    reason: Annotated[str, typer.Option("--reason", help="What the customer disputes.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who records the dispute (audited).")],
    code: Annotated[
        str | None,
        typer.Option(
            "--code",
            help="Reason code from the policy (team.dispute_codes), e.g. "
            "pricing, delivery, quality, quantity, duplicate, other; default: its default.",
        ),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="Who settles it (anyone in the directory, e.g. sales): "
            "notified now, reminded once it is past its due date.",
        ),
    ] = None,
    due: Annotated[
        str | None,
        typer.Option("--due", help="Settle by, YYYY-MM-DD (default: the code's days from now)."),
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that the customer disputes an invoice: it leaves dunning until resolved."""
    from credit import services

    day = parse_date(as_of)
    due_on = parse_date(due, "--due") if due is not None else None
    a = get_app()
    with clear_errors():
        result = services.open_dispute(
            a, invoice_number=invoice, reason=reason, by=by, as_of=day, today=a.settings.today(),
            code=code, owner=owner, due=due_on,
        )  # fmt: skip
    if as_json:
        print_json(result)
        return
    owned = f", owner {result['owner']} (notified)" if result["owner"] else ""
    console.print(
        f"{result['invoice']} ({result['customer']}) is disputed ({result['code']}, due "
        f"{result['due_on']}{owned}): it is left out of dunning until `credit dispute resolve`."
    )


@dispute_app.command("list")
def dispute_list(
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only the disputes this person owns.")
    ] = None,
    resolved: Annotated[
        bool, typer.Option("--resolved", help="The resolved disputes too.")
    ] = False,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open disputes, oldest first: reason code, owner, due date, age."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        rows = services.dispute_list(a, as_of=day, owner=owner, resolved=resolved)
    if as_json:
        print_json(rows)
        return
    table(
        f"Disputes as of {day}" + (f" owned by {owner}" if owner else ""),
        ["invoice", "customer", "amount", "code", "owner", "opened", "due", "age", "status"],
        [
            [
                r["invoice"], r["customer"], fmt_amount(r["amount"], r["currency"]),
                r["code"] or "-", r["owner"] or "-", f"{r['opened_on']} ({r['opened_by']})",
                (r["due_on"] or "-")
                + (f" ({r['days_past_due']} days past)" if r["days_past_due"] else ""),
                f"{r['age_days']} days", r["status"],
            ]
            for r in rows
        ],
    )  # fmt: skip
    if not rows:
        console.print("No disputes.")


@dispute_app.command("resolve")
def dispute_resolve(
    invoice: Annotated[str, typer.Argument(help="Invoice number.")],
    *,
    by: Annotated[str, typer.Option("--as", "--by", help="Who resolves it (audited).")],
    note: Annotated[
        str, typer.Option("--note", help="The outcome (e.g. credit note CN-12 issued).")
    ],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close an invoice's dispute: what is still open on it is dunned again."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.resolve_dispute(
            a, invoice_number=invoice, by=by, note=note, as_of=day, today=a.settings.today()
        )
    if as_json:
        print_json(result)
        return
    console.print(f"{result['invoice']} ({result['customer']}): dispute resolved.")


def promise(  # noqa: PLR0913  (typer: one parameter per option)
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    actor: UserOpt,
    amount: Annotated[str | None, typer.Option("--amount", help="Amount promised.")] = None,
    by_date: Annotated[
        str | None,
        typer.Option("--date", help="The date the customer promised to pay by, YYYY-MM-DD."),
    ] = None,
    instalment: Annotated[
        list[str] | None,
        typer.Option(
            "--instalment",
            help="An instalment plan instead of --amount/--date: DATE=AMOUNT, repeated "
            "(e.g. --instalment 2027-03-10=500.00 --instalment 2027-03-24=500.00).",
        ),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Default: the customer's currency.")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="What was agreed.")] = "",
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a promise to pay (or an instalment plan): escalation pauses until the date; a broken
    promise (or one broken instalment) resumes it one level up and raises a risk signal."""
    from credit import services

    day = parse_date(as_of)
    plan = parse_instalments(instalment or [])
    if plan and (amount is not None or by_date is not None):
        fail("--instalment: give either --amount and --date or instalments, not both")
    if not plan and (amount is None or by_date is None):
        fail("--amount and --date are needed (or an instalment plan: --instalment DATE=AMOUNT)")
    promised = plan[-1][0] if plan else parse_date(by_date, "--date")
    value = sum((v for _, v in plan), Decimal(0)) if plan else parse_money(amount or "", "--amount")
    a = get_app()
    with clear_errors():
        result = services.record_promise(
            a,
            customer_code=as_code(customer),
            amount=value,
            promised_for=promised,
            by=actor,
            as_of=day,
            currency=currency,
            note=note,
            today=a.settings.today(),
            instalments=plan,
        )
    if as_json:
        print_json(result)
        return
    if plan:
        console.print(
            f"{result['customer']} agreed a plan of {len(plan)} instalments, "
            f"{fmt_amount(result['amount'], result['currency'])} in all: "
            + ", ".join(
                f"{fmt_amount(i['amount'], result['currency'])} by {i['due_on']}"
                for i in result["instalments"]
            )
            + "; escalation paused while the plan holds."
        )
        return
    console.print(
        f"{result['customer']} promised {fmt_amount(result['amount'], result['currency'])} by "
        f"{result['promised_for']}: escalation paused until then"
        + (
            f" (replaces promise {', '.join(map(str, result['replaced']))})"
            if result["replaced"]
            else ""
        )
        + "."
    )


@app.callback()
def worklist_show(
    ctx: typer.Context,
    *,
    as_of: AsOpt = None,
    viewer: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Who is looking: a collector sees their own cases and the "
            "unassigned ones unless --collector says otherwise.",
        ),
    ] = None,
    collector: Annotated[
        str | None,
        typer.Option("--collector", help="mine (with --as), all, unassigned or a username."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Open handovers and call tasks, highest priority first (overdue in the base currency x
    days of the oldest overdue item x the risk weight of the rating / 1,000): collector,
    amount, oldest overdue, last action, promise, next step."""
    if ctx.invoked_subcommand is not None:
        return
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        rows = services.worklist(a, as_of=day, viewer=viewer, collector=collector)
    if as_json:
        print_json(rows)
        return
    table(
        f"Collections worklist as of {day}",
        ["priority", "customer", "task", "collector", "amount", "oldest overdue", "last action",
         "promised", "next step"],
        [
            [
                "-" if r["priority"] is None else f"{r['priority']:,}",
                f"{r['customer']} {r['name']}",
                r["task"],
                r["collector"] or "unassigned",
                fmt_amount(r["amount"], r["currency"]),
                f"{r['oldest_overdue_days']} days ({r['oldest_due_date'] or '-'})",
                r["last_action"],
                r["promised_date"] or "",
                r["next_step"],
            ]
            for r in rows
        ],
    )  # fmt: skip
    if not rows:
        console.print("Nothing on the worklist.")


@app.command("log")
def worklist_log(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    note: Annotated[str, typer.Option("--note", help="What was said or done.")],
    actor: UserOpt,
    kind: Annotated[
        str, typer.Option("--kind", help="call (closes the open call task) or note.")
    ] = "note",
    as_of: AsOpt = None,
) -> None:
    """Log a call or a note against a customer."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.log_note(
            a, customer_code=as_code(customer), note=note, by=actor, as_of=day, kind=kind
        )
    closed = result["call_tasks_closed"]
    console.print(
        f"{result['kind']} logged for {result['customer']}"
        + (f"; call task closed ({', '.join(closed)})" if closed else "")
        + "."
    )


@app.command("assign")
def worklist_assign(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    to: Annotated[
        str, typer.Option("--to", help="The collector (or credit manager) who takes the cases.")
    ],
    actor: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")],
) -> None:
    """Reassign a customer's open cases to a collector (credit managers; audited)."""
    from credit.services.casework import assign_cases

    if not reason.strip():
        fail("--reason is required: say why the cases change hands (audited)")
    a = get_app()
    with clear_errors():
        result = assign_cases(
            a, customer_code=as_code(customer), collector=to, by=actor, reason=reason
        )
    console.print(
        f"{result['customer']}: {len(result['cases'])} open case(s) assigned to "
        f"{result['collector']}."
    )


def parse_instalments(values: list[str]) -> list[tuple[date, Decimal]]:
    """``--instalment DATE=AMOUNT`` values as (date, amount), in the order given."""
    plan = []
    for v in values:
        on, sep, amount = v.partition("=")
        if not sep:
            fail(f"--instalment: value {v!r}: write DATE=AMOUNT, e.g. 2027-03-10=500.00")
        plan.append(
            (parse_date(on.strip(), "--instalment"), parse_money(amount.strip(), "--instalment"))
        )
    return plan
