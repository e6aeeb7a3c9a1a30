"""`credit approve|reject` and `credit approvals ...`: decisions on credit requests and what
waits for an approver."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import typer

from credit.cli.handoff import HandedOver, hand_over, record
from credit.cli.output import (
    AsOpt,
    JsonOpt,
    clear_errors,
    console,
    err,
    fail,
    fmt_time,
    get_app,
    parse_date,
    print_json,
    table,
)
from credit.cli.running import run_flow
from credit.domain.words import counted, said

app = typer.Typer(help="What is waiting for an approver.", no_args_is_help=True)

# `credit approve|reject ID --subject NAME`: the approval engine's subject each name decides
# (a credit request unless told otherwise). Policy versions have `credit policy approve|reject`.
SUBJECTS = {
    "request": "credit_request",
    "order_release": "order_release",
    "write_off": "write_off",
}
SubjectOpt = Annotated[
    str,
    typer.Option(
        "--subject",
        help="What ID is: request (a credit request), order_release or write_off "
        "(`credit approvals list` names it).",
    ),
]


def continue_request(request_id: int, day: date) -> dict[str, Any]:
    """Run the approval flow of a request: deliver its notices, publish it if approved."""

    def call() -> Any:
        from flows.approval import approval

        return approval(request_id=request_id, as_of=day)

    return run_flow(f"Continuing request {request_id}", call)


def decide(
    request_id: int,
    *,
    user: str,
    approve: bool,
    comment: str | None,
    as_of: str | None,
    as_json: bool,
    subject: str = "request",
) -> None:
    """Record a decision on a request's pending level; a running service continues the request
    (publishing it once approved), else this command does."""
    day = parse_date(as_of)
    if subject not in SUBJECTS:
        fail(f"--subject: {subject!r} is not one of {', '.join(SUBJECTS)}")
    if subject != "request":
        return _decide_other(request_id, subject, user=user, approve=approve, comment=comment,
                             day=day, as_json=as_json)  # fmt: skip
    decided, a = record(
        "decide",
        subject="credit_request",  # services.SUBJECT_REQUEST (without loading the services)
        subject_id=request_id,
        username=user,
        approve=approve,
        comment=comment,
        as_of=day.isoformat(),
    )
    step = decided["step"]
    if not as_json:
        console.print(
            f"Request {request_id} level {step['level']} ({step['role']}): {step['decision']} "
            f"by {user}."
        )
    if a is None:
        done: dict[str, Any] | HandedOver = HandedOver(decided["service"])
    else:
        done = _follow_up_here(a, request_id, decided["follow_up"])
    if isinstance(done, HandedOver):
        progress = {**decided["progress"], "follow_up": decided["follow_up"]}
        if as_json:
            print_json({**progress, "handed_over_to": done.where})
            return
        _say_progress(request_id, progress)
        then = (
            "publishes the credit line and sends the terms letter"
            if progress["status"] == "approved"
            else "sends the notices"
        )
        console.print(f"Handed to {done.where}: it {then} now.", highlight=False)
        return
    if as_json:
        print_json(done)
        return
    _say_progress(request_id, done)


def _decide_other(  # noqa: PLR0913  # the decision's parts, each named
    subject_id: int,
    subject: str,
    *,
    user: str,
    approve: bool,
    comment: str | None,
    day: date,
    as_json: bool,
) -> None:
    """A decision on a subject whose decision hands nothing over (an order release): recorded,
    its notices left in the outbox for delivery."""
    decided, _ = record(
        "decide",
        subject=SUBJECTS[subject],
        subject_id=subject_id,
        username=user,
        approve=approve,
        comment=comment,
        as_of=day.isoformat(),
    )
    if as_json:
        print_json(decided)
        return
    step, progress = decided["step"], decided["progress"]
    name = subject.replace("_", " ").capitalize()
    console.print(
        f"{name} {subject_id} level {step['level']} ({step['role']}): {step['decision']} by "
        f"{user}. {name} {subject_id} is now {said(progress['status'])}"
        + (f", waiting for {progress['waiting_for']}" if progress.get("waiting_for") else "")
        + ".",
        highlight=False,
    )


def _follow_up_here(a: Any, request_id: int, follow_up: int | None) -> dict[str, Any] | HandedOver:
    from credit.faults import checkpoint

    checkpoint("approval.decided")  # the fault tests stop here: decided, not followed up
    try:
        with clear_errors():
            return hand_over(a, follow_up, label=f"Continuing request {request_id}")
    except typer.Exit:
        err.print(
            f"The decision is recorded; to deliver its notices and publish an approved line, "
            f"run `credit approvals resume {request_id}`."
        )
        raise


def _say_progress(request_id: int, progress: dict[str, Any]) -> None:
    msg = f"Request {request_id} is now {said(progress['status'])}"
    if progress.get("waiting_for"):
        msg += f", waiting for {progress['waiting_for']}"
    if progress.get("published"):
        p = progress["published"]
        msg += (
            f": credit line {p['currency']} {Decimal(p['limit']):,.2f}, "
            f"next review {p['next_review_on']}"
        )
    console.print(msg + ".")


def approve(
    request_id: Annotated[
        int,
        typer.Argument(
            help="Credit request id, or with --subject the order release's or write-off's id "
            "(`credit approvals list`)."
        ),
    ],
    *,
    user: Annotated[str, typer.Option("--as", help="The approver deciding (username).")],
    comment: Annotated[
        str | None, typer.Option("--comment", help="Why (recorded in the audit trail).")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
    subject: SubjectOpt = "request",
) -> None:
    """Approve the pending level of a credit request (or, with --subject, an order release); the lifecycle continues (next level or publish)."""  # noqa: E501
    decide(
        request_id, user=user, approve=True, comment=comment, as_of=as_of, as_json=as_json,
        subject=subject,
    )  # fmt: skip


def reject(
    request_id: Annotated[int, typer.Argument(help="Credit request id.")],
    *,
    user: Annotated[str, typer.Option("--as", help="The approver deciding (username).")],
    comment: Annotated[
        str, typer.Option("--comment", help="Why (required; sent to the requester).")
    ],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
    subject: SubjectOpt = "request",
) -> None:
    """Reject a credit request (or, with --subject, an order release) at its pending level; the requester is told why."""  # noqa: E501
    decide(
        request_id, user=user, approve=False, comment=comment, as_of=as_of, as_json=as_json,
        subject=subject,
    )  # fmt: skip


@app.command("list")
def approvals_list(
    user: Annotated[
        str | None, typer.Option("--for", help="Only steps this person's roles can decide.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approval steps waiting for a decision."""
    from credit import services

    a = get_app()
    with clear_errors():
        if user is not None:
            services.person_email(a, user)
        rows = services.pending_approvals(a, username=user)
    if as_json:
        print_json(rows)
        return
    table(
        "Waiting for approval",
        [
            "subject",
            "id",
            "customer",
            "kind",
            "amount",
            "rating",
            "level",
            "role",
            "asked",
            "requested by",
            "due",
        ],
        [
            [
                r["subject"],
                r["id"],
                r["customer"],
                r["kind"],
                f"{r['currency']} {Decimal(r['amount']):,.2f}" if r["amount"] else "-",
                r["rating"],
                r["level"],
                r["role"],
                r["approver"],
                r["requested_by"],
                fmt_time(r["due_at"]),
            ]
            for r in rows
        ],
    )


@app.command("sweep")
def approvals_sweep(as_of: AsOpt = None) -> None:
    """Send reminders for overdue approval steps and escalate those past their second deadline
    (the approval-sweeper flow; hourly when served)."""
    day = parse_date(as_of)
    a = get_app()

    def call() -> Any:
        from flows.approval import approval_sweeper

        swept = approval_sweeper(as_of=day)
        return swept, _left_over_followups(a)

    with clear_errors():
        counts, left_over = run_flow("Sweeping approvals", call)
    if left_over:
        console.print(
            f"{counted(left_over, 'follow-up')} that earlier commands left behind ran "
            "(no `credit serve` runs to take them)."
        )
    console.print(
        f"{counted(counts['reminders'], 'reminder')}, "
        f"{counted(counts['escalations'], 'escalation')} sent; "
        f"{counted(counts['published'], 'approved request')} published."
    )
    if counts.get("dispute_reminders") or counts.get("dispute_escalations"):
        console.print(
            f"Disputes past their due date: {counted(counts['dispute_reminders'], 'reminder')} "
            f"to their owners, {counted(counts['dispute_escalations'], 'escalation')} sent."
        )
    if counts["not_published"]:
        err.print(
            f"approved but not published (see the log; `credit approvals resume ID` after fixing "
            f"the cause): {', '.join(map(str, counts['not_published']))}"
        )
        raise typer.Exit(1)


def _left_over_followups(a: Any) -> int:
    """Without a service, the follow-ups of decisions whose command died before running them
    (recorded over a minute ago): run here, once each. A running service has them already."""
    from datetime import timedelta

    from credit import services
    from credit.services.followups import claimer_name
    from flows.followups import drain

    if services.running_service(a) is not None:
        return 0
    from credit.services import followups

    followups.release_dead(a, alive=set())  # those of a command killed on this machine
    return drain(a, claimer=claimer_name("cli"), older_than=timedelta(minutes=1))


@app.command("resume")
def approvals_resume(
    request_id: Annotated[int, typer.Argument(help="Credit request id.")],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue a request from what the database says: deliver its notices, publish it if approved
    (after a crash or an outage between a decision and its follow-up)."""
    day = parse_date(as_of)
    get_app()
    with clear_errors():
        progress = continue_request(request_id, day)
    if as_json:
        print_json(progress)
        return
    console.print(
        f"Request {request_id} is {said(progress['status'])}"
        + (f", waiting for {progress['waiting_for']}" if progress.get("waiting_for") else "")
        + "."
    )
