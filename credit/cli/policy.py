"""`credit policy ...`: the credit policy and its versions: show, diff, research, backtest,
propose, and the committee's approve and reject."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from credit.cli.dunning_profiles import show_profiles
from credit.cli.handoff import HandedOver, hand_over, record
from credit.cli.output import (
    AsOpt,
    JsonOpt,
    clear_errors,
    console,
    fmt_amount,
    get_app,
    parse_date,
    print_json,
    table,
)
from credit.cli.running import run_flow
from credit.domain.words import counted, said

app = typer.Typer(help="The credit policy and its versions.", no_args_is_help=True)


@app.command("show")
def policy_show(
    version: Annotated[
        int | None, typer.Option("--version", help="Version number (default: the published one).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a policy version: status, rating table, authority matrix and dunning schedule."""
    from credit import services

    a = get_app()
    with clear_errors():
        view = services.policy_view(a, version=version)
    if as_json:
        print_json(view)
        return
    body = view["body"]
    console.print(
        f"[bold]{view['name']}[/] version {view['version']} ({said(view['status'])}), proposed by "
        f"{view['proposed_by']}; sha256 {view['sha256'][:12]}"
    )
    table(
        "Ratings",
        ["grade", "min score", "limit rule", "terms", "conditions", "review"],
        [
            [
                r["grade"],
                r["min_score"],
                f"min({r['limit']['share_of_equity']} x equity, "
                f"{r['limit']['share_of_revenue']} x revenue, "
                f"{fmt_amount(r['limit']['cap'], body['base_currency'])})",
                f"{r['terms_days']} d",
                ", ".join(r["conditions"]) or "-",
                r["review"],
            ]
            for r in body["ratings"]
        ],
    )
    table(
        "Authority matrix",
        ["level", "role", "up to"],
        [
            [
                lv["level"],
                lv["role"],
                fmt_amount(lv["up_to"], body["base_currency"]) if lv["up_to"] else "no limit",
            ]
            for lv in body["authority"]["levels"]
        ],
    )
    effects = view["risk_effects"]
    table(
        "Risk effects on the rating",
        ["signal severity", "best rating", "limit cut", "conditions added"],
        [
            [
                e["severity"],
                e["max_rating"] or "-",
                f"{e['limit_cut_pct']}%" if e["limit_cut_pct"] else "-",
                ", ".join(e["conditions"]) or "-",
            ]
            for e in effects
        ],
    )
    console.print(
        "Risk signals change nothing in the rating under this version."
        if not effects
        else f"Signals in force: those research finds, and those recorded in the "
        f"{view['effects_lookback_days']} days before it that no review has answered."
    )
    table(
        "Dunning schedule",
        ["level", "name", "sent", "channel", "action", "asks payment within"],
        [
            [lv["level"], lv["label"], lv["when"], lv["channel"], lv["action"], lv["pay_within"]]
            for lv in view["dunning_levels"]
        ],
    )
    show_profiles(view["dunning_profiles"])


@app.command("diff")
def policy_diff(
    from_version: Annotated[
        int | None, typer.Option("--from", help="Version to compare from (default: published).")
    ] = None,
    to_version: Annotated[
        int | None, typer.Option("--to", help="Version to compare to (default: the newest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What a policy version changes: bands, weights, ratings and limits, terms, the authority
    matrix, the dunning schedule, order checks and risk rules."""
    from credit import services

    a = get_app()
    with clear_errors():
        result = services.policy_diff(a, from_version=from_version, to_version=to_version)
    if as_json:
        print_json(result)
        return
    f, t = result["from"], result["to"]
    table(
        f"Policy version {f['version']} ({said(f['status'])}) → {t['version']} "
        f"({said(t['status'])}): "
        f"{counted(len(result['changes']), 'change')}",
        ["section", "change"],
        [[c["section"], c["text"]] for c in result["changes"]],
    )


@app.command("research")
def policy_research_command(
    as_of: AsOpt = None,
    months: Annotated[
        int, typer.Option("--months", help="How many months back.", min=1, max=36)
    ] = 12,
    review: Annotated[
        bool, typer.Option("--review", help="Also tell the committee the policy is due for review.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Portfolio analytics as of a date (aging, DSO, collection rate and CEI per month, late payment
    and bad debt by rating, utilisation, concentration, what the policy did), written as a report
    with charts under the reports folder and sent to the policy committee."""
    day = parse_date(as_of)
    get_app()

    def call() -> Any:
        from flows.policy_research import policy_research

        return policy_research(as_of=day, months=months, review_due=review)

    with clear_errors():
        result = run_flow(f"Policy research as of {day}", call)
    if as_json:
        print_json(result)
        return
    figures = result["figures"]
    last = figures["monthly"][-1]
    console.print(
        f"Receivables {fmt_amount(figures['receivables'], figures['base_currency'])}; "
        f"{last['month']}: DSO "
        f"{last['dso'] or '-'} days, collection rate {last['collection_rate'] or '-'}%, CEI "
        f"{last['cei'] or '-'}%; top 5 customers "
        f"{figures['concentration']['top_share_pct'] or '-'}% of the exposure."
    )
    for w in figures["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"Report: [bold]{result['report']}[/] (sent to the policy committee).")


@app.command("backtest")
def policy_backtest(
    version: Annotated[int, typer.Argument(help="The draft policy version.")],
    *,
    start: Annotated[
        str | None, typer.Option("--from", help="First date (default: 90 days before --to).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date (default: today).")] = None,
    every: Annotated[int, typer.Option("--every", help="Days between dates.", min=1)] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Shadow-run a draft policy on the stored history: whose rating, limit, terms, dunning level
    and hold would differ, and the totals. Nothing is sent or changed."""
    from datetime import timedelta

    from credit import services
    from credit.services.backtest import span

    last = parse_date(end, "--to")
    first = parse_date(start, "--from") if start else last - timedelta(days=90)
    a = get_app()
    with clear_errors():
        result = services.backtest(a, version=version, dates=span(first, last, every))
    if as_json:
        print_json(result)
        return
    table(
        f"Policy version {version} against version {result['against']}: decisions that change",
        ["date", "customer", "rating", "limit", "terms", "conditions"],
        [
            [
                d["date"],
                d["customer"],
                f"{d['live']['rating']} → {d['draft']['rating']}",
                f"{d['live']['limit']} → {d['draft']['limit']}",
                f"{d['live']['terms_days']} → {d['draft']['terms_days']}",
                f"{', '.join(d['live']['conditions']) or '-'} → "
                f"{', '.join(d['draft']['conditions']) or '-'}",
            ]
            for d in result["decisions"]
        ],
    )
    if result["dunning"]:
        table(
            "Dunning levels that differ",
            ["date", "customer", "currency", "level", "hold"],
            [
                [
                    d["date"],
                    d["customer"],
                    d["currency"],
                    f"{d['live_level']} → {d['draft_level']}",
                    f"{d['live_hold']} → {d['draft_hold']}",
                ]  # fmt: skip
                for d in result["dunning"]
            ],
        )
    for t in result["totals"]:
        console.print(
            f"{t['date']}: in dunning {t['customers_in_dunning']['live']} → "
            f"{t['customers_in_dunning']['draft']}, holds {t['holds']['live']} → "
            f"{t['holds']['draft']}, notices to date {t['notices_to_date']['live']} → "
            f"{t['notices_to_date']['draft']}",
            highlight=False,
        )
    console.print("Nothing was sent or changed (a shadow run).")


@app.command("propose")
def policy_propose(
    file: Annotated[Path, typer.Argument(help="Policy YAML (same schema as config/policy.yaml).")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who proposes (username).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the policy changes.")] = "",
) -> None:
    """Propose a new policy version; it goes to the committee the current policy names."""
    from credit import services

    a = get_app()
    with clear_errors():
        version = services.propose_policy(
            a, path=file, by=by, reason=reason, as_of=a.settings.today()
        )
        key = f"policy:{version}:proposed"
        follow_up = services.followup_by_key(a, key)
        progress = hand_over(
            a, follow_up["id"] if follow_up else None, label=f"Policy version {version}"
        )
    if isinstance(progress, HandedOver):
        console.print(
            f"Policy version {version} is proposed and routed to the committee; handed to "
            f"{progress.where}, which sends their notices now (`credit approvals list`).",
            highlight=False,
        )
        return
    console.print(
        f"Policy version {version} is {said(progress['status'])}, waiting for "
        f"{progress['waiting_for']}."
    )


def _policy_decide(version: int, *, user: str, approve: bool, comment: str | None) -> None:
    from credit.settings import Settings

    decided, a = record(
        "decide",
        subject="credit_policy",  # services.SUBJECT_POLICY (without loading the services)
        subject_id=version,
        username=user,
        approve=approve,
        comment=comment,
        as_of=Settings.load().today().isoformat(),  # the edge: today in the company's time zone
    )
    step = decided["step"]
    console.print(f"Policy version {version} ({step['role']}): {step['decision']} by {user}.")
    if a is None:
        done: dict[str, Any] | HandedOver = HandedOver(decided["service"])
    else:
        with clear_errors():
            done = hand_over(a, decided["follow_up"], label=f"Policy version {version}")
    progress = decided["progress"] if isinstance(done, HandedOver) else done
    msg = f"Policy version {version} is now {said(progress['status'])}"
    console.print(
        msg + (f", waiting for {progress['waiting_for']}." if progress.get("waiting_for") else ".")
    )
    if isinstance(done, HandedOver):
        console.print(f"Handed to {done.where}: it sends the notices now.", highlight=False)


@app.command("approve")
def policy_approve(
    version: Annotated[int, typer.Argument(help="Policy version.")],
    user: Annotated[str, typer.Option("--as", help="Committee member deciding.")],
    comment: Annotated[str | None, typer.Option("--comment")] = None,
) -> None:
    """Approve a proposed policy version as a committee member."""
    _policy_decide(version, user=user, approve=True, comment=comment)


@app.command("reject")
def policy_reject(
    version: Annotated[int, typer.Argument(help="Policy version.")],
    user: Annotated[str, typer.Option("--as", help="Committee member deciding.")],
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")],
) -> None:
    """Reject a proposed policy version."""
    _policy_decide(version, user=user, approve=False, comment=comment)


# --------------------------------------------------------------------------- running
