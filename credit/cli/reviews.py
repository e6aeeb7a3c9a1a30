"""`credit reviews start|due`: start a credit review, and the periodic reviews that are due."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credit.cli.handoff import HandedOver, hand_over, record
from credit.cli.output import (
    AsOpt,
    JsonOpt,
    as_code,
    clear_errors,
    console,
    fmt_amount,
    get_app,
    parse_date,
    parse_money,
    print_json,
    table,
)
from credit.cli.running import run_flow
from credit.domain.words import counted, said

if TYPE_CHECKING:
    from credit.services.reviews import DueReview

app = typer.Typer(
    help="Credit reviews: start one, and the periodic re-reviews that are due.",
    no_args_is_help=True,
)

UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="A temporary limit: the requested limit holds through this date (YYYY-MM-DD), "
        "then the line falls back to the limit before it.",
    ),
]


@app.command("start")
def review_start(
    customer_code: Annotated[str, typer.Argument(help="Customer code, e.g. C-1001.")],
    *,
    by: Annotated[
        str,
        typer.Option(
            "--as", "--by", help="The credit manager asking (username in approvers.yaml)."
        ),
    ],
    requested_limit: Annotated[
        str | None,
        typer.Option(
            "--requested-limit",
            help="Limit asked for instead of the policy's recommendation (needs --reason).",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why the requested limit overrides the recommendation."),
    ] = None,
    analyst: Annotated[
        str | None,
        typer.Option(
            "--analyst", help="Who gives the qualitative rating (default: the requester)."
        ),
    ] = None,
    until: UntilOpt = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Research a customer: collect and clean the data, score it, and ask the analyst for the
    qualitative rating (answered with `credit assess`); without a qualitative part the request is
    drafted and routed at once."""

    day = parse_date(as_of)
    limit = (
        parse_money(requested_limit, "--requested-limit") if requested_limit is not None else None
    )
    code = as_code(customer_code)
    ends = parse_date(until, "--until") if until is not None else None
    asked, a = record(
        "request_review",
        customer_code=code,
        requested_by=by,
        as_of=day.isoformat(),
        analyst=analyst,
        requested_limit=str(limit) if limit is not None else None,
        override_reason=reason,
        **({"until": ends.isoformat()} if ends else {}),
    )
    if a is None:
        done: dict[str, Any] | HandedOver = HandedOver(asked.pop("service"))
    else:
        with clear_errors():
            done = hand_over(a, asked["follow_up"], label=f"Reviewing {code}")
    if isinstance(done, HandedOver):
        if as_json:
            print_json({**asked, "status": "requested", "handed_over_to": done.where})
            return
        console.print(
            f"Review of {code} asked for: handed to {done.where}, which researches the customer "
            f"now and asks {analyst or by} for the qualitative rating if the policy needs one "
            "(`credit research waiting` lists it).",
            highlight=False,
        )
        return
    if as_json:
        print_json(done)
        return
    msg = f"Review of {code}: assessment {done['assessment_id']}"
    if done.get("request_id"):
        msg += f", request {done['request_id']}"
    msg += f": {said(done['status'])}"
    if done.get("waiting_for"):
        msg += f", waiting for {done['waiting_for']}"
    console.print(msg + ".")


@app.command("due")
def reviews_due(
    as_of: AsOpt = None,
    run: Annotated[
        bool, typer.Option("--run", help="Start the reviews (periodic_review flow).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Credit lines whose periodic review is due as of a date; --run starts them."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    if run:  # the run reads the due lines a page at a time; the whole list is not held here
        with clear_errors():
            lines = services.count_due_lines(a, as_of=day)
        _start_due_reviews(day, count=lines, as_json=as_json)
        return
    with clear_errors():
        due = services.due_reviews(a, as_of=day, include_in_progress=True)
    if as_json:
        print_json(due)
    else:
        _show_due(day, due)


def _start_due_reviews(day: date, *, count: int, as_json: bool) -> None:
    def call() -> Any:
        from flows.periodic_review import periodic_review

        return periodic_review(as_of=day)

    with clear_errors():
        result = run_flow(f"Reviewing {counted(count, 'due line')}", call)
    if as_json:
        print_json(result)
        return
    for e in result.get("temporary_limits_expired", []):
        console.print(
            f"Temporary limit of {e['customer']} ended {e['until']}: "
            f"{fmt_amount(e['limit'], e['currency'])} -> {fmt_amount(e['fallen_back_to'], e['currency'])}",
            highlight=False,
        )
    table(
        f"Reviews started as of {day}",
        ["customer", "request", "status", "waiting for"],
        [
            [
                r["customer"],
                r.get("request_id", "-"),
                r.get("status", r.get("error", "")),
                r.get("waiting_for") or "",
            ]
            for r in result["reviews"]
        ],
    )


def _show_due(day: date, due: list[DueReview]) -> None:
    table(
        f"Reviews due as of {day}",
        ["customer", "name", "due", "why", "limit", "rating", "line", "review"],
        [
            [
                d["customer"],
                d["name"],
                d["next_review_on"],
                d["reason"],
                fmt_amount(d["limit"], d["currency"]),
                d["rating"],
                d["status"],
                (
                    f"in progress: {d['in_progress']['what']} since "
                    f"{d['in_progress']['since']}, waiting for {d['in_progress']['waiting_for']}"
                )
                if d["in_progress"]
                else "to start (--run)",
            ]
            for d in due
        ],
    )
    if not due:
        console.print(f"No credit line is due for review as of {day}.")
