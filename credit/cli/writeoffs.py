"""`credit writeoff propose|list|approve|reject`: writing off an uncollectable balance, a credit
decision taken through the approval engine (listed by `credit approvals list` too)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credit.cli.handoff import record
from credit.cli.output import (
    AsOpt,
    JsonOpt,
    UserOpt,
    as_code,
    clear_errors,
    console,
    fmt_amount,
    get_app,
    parse_date,
    print_json,
    table,
)
from credit.domain.words import said

OUTBOX = "Its notices are in the outbox: `credit serve` sends them, or `credit notices deliver`."

app = typer.Typer(
    help="Write-offs of uncollectable balances: proposed by a collector, approved by amount.",
    no_args_is_help=True,
)


@app.command("propose")
def writeoff_propose(  # noqa: PLR0913  (typer: one parameter per option)
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    currency: Annotated[str, typer.Option("--currency", help="The currency written off.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it cannot be collected.")],
    actor: UserOpt,
    invoice: Annotated[
        list[str] | None,
        typer.Option(
            "--invoice", help="An invoice to write off (repeat; default: every open item)."
        ),
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose a write-off (collectors): it is routed by amount to its approvers at once."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.propose_write_off(
            a,
            customer_code=as_code(customer),
            currency=currency,
            invoices=invoice or [],
            reason=reason,
            by=actor,
            as_of=day,
            today=a.settings.today(),
        )
    if as_json:
        print_json(result)
        return
    console.print(
        f"Write-off {result['id']} of {fmt_amount(result['amount'], result['currency'])} for "
        f"{result['customer']} ({', '.join(i['invoice'] for i in result['items'])}) proposed, "
        f"waiting for {result['waiting_for'] or 'nobody'}.",
        highlight=False,
    )
    console.print(OUTBOX, highlight=False)


@app.command("list")
def writeoff_list(
    customer: Annotated[str | None, typer.Option("--customer", help="One customer.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="in_approval, approved or rejected.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write-offs, newest first."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.list_write_offs(
            a, customer_code=as_code(customer) if customer else None, status=status
        )
    if as_json:
        print_json(rows)
        return
    table(
        "Write-offs",
        ["id", "customer", "amount", "items", "status", "proposed", "booked", "reason"],
        [
            [
                r["id"],
                r["customer"],
                fmt_amount(r["amount"], r["currency"]),
                ", ".join(i["invoice"] for i in r["items"]),
                said(r["status"]),
                f"{r['proposed_on']} {r['proposed_by']}",
                fmt_amount(r["booked"], r["currency"]) if r["booked"] else "",
                r["reason"],
            ]
            for r in rows
        ],
    )
    if not rows:
        console.print("No write-offs.")


def _decide(
    write_off_id: int, *, user: str, approve: bool, comment: str | None, as_of: str | None
) -> None:
    day = parse_date(as_of)
    decided, _ = record(
        "decide",
        subject="write_off",  # SUBJECT_WRITE_OFF (without loading the services)
        subject_id=write_off_id,
        username=user,
        approve=approve,
        comment=comment,
        as_of=day.isoformat(),
    )
    step: dict[str, Any] = decided["step"]
    progress: dict[str, Any] = decided["progress"]
    console.print(
        f"Write-off {write_off_id} level {step['level']} ({step['role']}): {step['decision']} by "
        f"{user}. It is now {said(progress['status'])}"
        + (f", waiting for {progress['waiting_for']}" if progress.get("waiting_for") else "")
        + (": booked as credit notes" if progress["status"] == "approved" else "")
        + ".",
        highlight=False,
    )
    console.print(OUTBOX, highlight=False)


@app.command("approve")
def writeoff_approve(
    write_off_id: Annotated[int, typer.Argument(help="Write-off id (`credit approvals list`).")],
    *,
    user: Annotated[str, typer.Option("--as", help="The approver deciding (username).")],
    comment: Annotated[str | None, typer.Option("--comment", help="Why (audited).")] = None,
    as_of: AsOpt = None,
) -> None:
    """Approve the pending level of a write-off; the last level books it."""
    _decide(write_off_id, user=user, approve=True, comment=comment, as_of=as_of)


@app.command("reject")
def writeoff_reject(
    write_off_id: Annotated[int, typer.Argument(help="Write-off id.")],
    *,
    user: Annotated[str, typer.Option("--as", help="The approver deciding (username).")],
    comment: Annotated[
        str, typer.Option("--comment", help="Why (required; sent to the proposer).")
    ],
    as_of: AsOpt = None,
) -> None:
    """Reject a write-off at its pending level: nothing is booked."""
    _decide(write_off_id, user=user, approve=False, comment=comment, as_of=as_of)
