"""`credit assess` and `credit research ...`: the analyst's qualitative rating and the
assessments waiting for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from credit.cli.handoff import HandedOver, hand_over, record
from credit.cli.output import (
    AsOpt,
    JsonOpt,
    as_code,
    clear_errors,
    console,
    fail,
    fmt_amount,
    fmt_time,
    get_app,
    parse_date,
    parse_money,
    print_json,
    table,
)
from credit.cli.running import run_flow
from credit.domain.words import counted, said

app = typer.Typer(
    help="The research step: qualitative ratings waiting and reminders.", no_args_is_help=True
)


def parse_factors(factors: list[str]) -> dict[str, Decimal]:
    """``--factor NAME=SCORE`` options as scores by factor name (0-100, each name once)."""
    scores: dict[str, Decimal] = {}
    for item in factors:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--factor: value {item!r} is not NAME=SCORE")
        try:
            score = Decimal(value.strip())
        except ArithmeticError:
            fail(f"--factor {name}: value {value!r} is not a number")
        if not score.is_finite() or not 0 <= score <= 100:
            fail(f"--factor {name}: value {value!r} must be between 0 and 100")
        if name.strip() in scores:
            fail(f"--factor {name}: given twice")
        scores[name.strip()] = score
    return scores


def assess(
    customer_code: Annotated[
        str, typer.Argument(help="Customer code whose assessment waits for you.")
    ],
    *,
    user: Annotated[str, typer.Option("--as", help="The assigned analyst (username).")],
    factor: Annotated[
        list[str],
        typer.Option(
            "--factor", help="NAME=SCORE (0-100) for each qualitative factor of the policy."
        ),
    ],
    comment: Annotated[
        str, typer.Option("--comment", help="Why these ratings (required, audited).")
    ],
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit", help="Propose this limit instead of the recommendation (needs --reason)."
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the limit differs (audited).")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give the qualitative rating a review waits for; the review then drafts and routes the request.
    The analyst may propose another limit than the recommendation, with a reason."""  # noqa: E501
    day = parse_date(as_of)
    scores = parse_factors(factor)
    override = parse_money(limit, "--limit") if limit is not None else None
    if override is not None and not (reason and reason.strip()):
        fail("--limit overrides the recommendation: give the reason with --reason")
    done, a = record(
        "assess",
        customer_code=as_code(customer_code),
        username=user,
        scores={k: str(v) for k, v in scores.items()},
        comment=comment,
        override_limit=str(override) if override is not None else None,
        override_reason=reason,
        as_of=day.isoformat(),
    )
    if not as_json:
        console.print(
            f"Assessment {done['assessment_id']}: qualitative rating recorded; combined score "
            f"{done['score']}, rating {done['rating']}, recommended limit "
            f"{fmt_amount(done['recommended_limit'], done['currency'])}."
        )

    if a is None:
        result: dict[str, Any] | HandedOver = HandedOver(done.pop("service"))
    else:
        with clear_errors():
            result = hand_over(
                a, done["follow_up"], label=f"Drafting the request of {customer_code}"
            )
    if isinstance(result, HandedOver):
        if as_json:
            print_json({**done, "handed_over_to": result.where})
            return
        console.print(
            f"Handed to {result.where}: it drafts the request and asks the first approver now "
            "(`credit approvals list`).",
            highlight=False,
        )
        return
    if as_json:
        print_json({**done, **result})
        return
    console.print(
        f"Request {result['request_id']}: {said(result['status'])}"
        + (f", waiting for {result['waiting_for']}" if result.get("waiting_for") else "")
        + "."
    )


@app.command("waiting")
def research_waiting(as_json: JsonOpt = False) -> None:
    """Assessments waiting for an analyst's qualitative rating."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.waiting_assessments(a)
    if as_json:
        print_json(rows)
        return
    table(
        "Waiting for a qualitative rating",
        ["assessment", "customer", "analyst", "requested by", "quantitative score", "due"],
        [
            [
                r["assessment_id"],
                r["customer"],
                r["analyst"],
                r["requested_by"],
                r["quantitative_score"],
                fmt_time(r["due_at"]),
            ]
            for r in rows
        ],
    )


@app.command("reassign")
def research_reassign(
    customer_code: Annotated[str, typer.Argument(help="Customer whose assessment waits.")],
    to: Annotated[str, typer.Option("--to", help="The analyst who rates instead.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who reassigns (audited).")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """Give a waiting qualitative rating to another analyst (they are asked at once)."""
    from credit import services

    a = get_app()
    with clear_errors():
        assessment_id = services.reassign_analyst(
            a, customer_code=as_code(customer_code), to=to, by=by, reason=reason
        )
        services.deliver(a)
    console.print(f"Assessment {assessment_id} now waits for {to}.")


@app.command("cancel")
def research_cancel(
    customer_code: Annotated[str, typer.Argument(help="Customer whose assessment waits.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who cancels (audited).")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """Abandon a review waiting for its qualitative rating, so that a new review can start."""
    from credit import services

    a = get_app()
    with clear_errors():
        assessment_id = services.cancel_research(
            a, customer_code=as_code(customer_code), by=by, reason=reason
        )
    console.print(f"Assessment {assessment_id} cancelled.")


@app.command("remind")
def research_remind() -> None:
    """Send reminders for overdue qualitative ratings (the research-reminders flow; hourly when served)."""  # noqa: E501
    get_app()

    def call() -> Any:
        from flows.research import research_reminders

        return research_reminders()

    with clear_errors():
        sent = run_flow("Sending reminders", call)
    console.print(
        f"{counted(sent['reminders'], 'reminder')}, "
        f"{counted(sent['escalations'], 'escalation')} sent."
    )
