"""Customer service: `credit service tasks|done` (follow-ups after a limit cut or a hold) and
`credit feedback`."""

from __future__ import annotations

from typing import Annotated

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    UserOpt,
    as_code,
    clear_errors,
    console,
    get_app,
    parse_date,
    print_json,
    table,
)

app = typer.Typer(
    help="Customer service's follow-ups after a limit cut or a hold.", no_args_is_help=True
)


def feedback(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    topic: Annotated[
        str, typer.Option("--topic", help="terms, limit, collection, service or other.")
    ],
    text: Annotated[str, typer.Option("--text", help="What the customer said.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who records it (audited).")],
    as_of: AsOpt = None,
) -> None:
    """Record customer feedback on terms and collection (the policy research report sums it up)."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.record_feedback(
            a, customer_code=as_code(customer), topic=topic, text=text, by=by, as_of=day
        )
    console.print(f"Feedback {result['id']} recorded for {result['customer']} ({result['topic']}).")


@app.command("tasks")
def service_tasks_command(
    status: Annotated[str, typer.Option("--status", help="open, done or all.")] = "open",
    as_json: JsonOpt = False,
) -> None:
    """Follow-ups for customer service: customers whose limit was cut or who were put on hold."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.service_tasks(a, status=status)
    if as_json:
        print_json(rows)
        return
    table(
        f"Service tasks ({status})",
        ["id", "customer", "reason", "opened", "sales owner", "status"],
        [
            [
                r["id"],
                f"{r['customer']} {r['name']}",
                r["reason"],
                r["opened_on"],
                r["sales_owner"],
                r["status"] + (f" ({r['done_by']}: {r['note']})" if r["done_by"] else ""),
            ]  # fmt: skip
            for r in rows
        ],
    )


@app.command("done")
def service_done(
    task_id: Annotated[int, typer.Argument(help="Service task id.")],
    *,
    note: Annotated[str, typer.Option("--note", help="What was agreed with the customer.")],
    actor: UserOpt,
    as_of: AsOpt = None,
) -> None:
    """Close a customer service follow-up with a note."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        services.close_service_task(a, task_id=task_id, by=actor, note=note, as_of=day)
    console.print(f"Service task {task_id} done.")
