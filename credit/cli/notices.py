"""`credit notices list|deliver|retry`: the notice outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from credit.cli.output import (
    JsonOpt,
    clear_errors,
    console,
    fail,
    fmt_time,
    get_app,
    print_json,
    table,
)
from credit.domain.words import counted

if TYPE_CHECKING:
    from credit.app import App
    from credit.services.outbox import Delivered

app = typer.Typer(help="The notice outbox.", no_args_is_help=True)


@app.command("list")
def notices_list(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer's notices.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind, e.g. dunning_reminder.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, sending, sent or failed.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Notices in the outbox with their delivery status."""
    from credit import services
    from credit.db.models import NoticeStatus

    if status is not None and status not in set(NoticeStatus):
        fail(f"--status: value {status!r}: choose pending, sending, sent or failed")
    a = get_app()
    with clear_errors():
        rows = services.list_notices(
            a, customer_code=customer, kind=kind, status=status, limit=10_000
        )
    if as_json:
        print_json(rows)
        return
    failed = any(r["status"] == NoticeStatus.FAILED for r in rows)
    table(
        f"Notices ({len(rows)})",
        ["id", "kind", "status", "to", "subject", "created"]
        + (["attempts", "last error"] if failed else []),
        [
            [
                r["id"],
                r["kind"] + (" (letter)" if r["channel"] == "letter" else ""),
                r["status"],
                r["delivered_to"] if r["channel"] == "letter" else ", ".join(r["recipients"]),
                r["subject"],
                fmt_time(r["created_at"]),
            ]
            + ([r["attempts"], r["last_error"]] if failed else [])
            for r in rows
        ],
    )


@app.command("deliver")
def notices_deliver(
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Also send the notices waiting out a retry delay, now (after an outage was "
            "fixed, say; audited).",
        ),
    ] = False,
    by: Annotated[
        str | None, typer.Option("--as", help="Who asks for --now (audited; a directory user).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send whatever the outbox still holds (after an outage, say)."""
    from credit import services

    a = get_app()
    if now and by is None:
        fail("--now sends notices before their retry is due: say who asks with --as USER")
    from credit.cli.running import progress_display

    with clear_errors(), progress_display("Delivering notices"):
        report = services.deliver(a, now=now, by=by)
    if as_json:
        print_json(report)
        return
    if report["released"]:
        console.print(
            f"{counted(report['released'], 'waiting notice')} released to be sent now, not after "
            "their delay"
        )
    console.print(
        f"sent {report['sent']}, retrying later {report['retried']}, failed {report['failed']}, "
        f"held by another sender {report['skipped']}"
    )
    if report["stopped"]:
        console.print(f"[yellow]stopped for now: {report['stopped']}[/yellow]", highlight=False)
    show_not_sent(report, a)


def show_not_sent(report: Delivered, a: App) -> None:
    """What a delivery left in the outbox, and what to do about it."""
    from credit.notices import local_time

    if report["waiting"]:
        from zoneinfo import ZoneInfo

        when = local_time(report["next_attempt"], ZoneInfo(a.settings.timezone))
        console.print(
            f"[yellow]{counted(report['waiting'], 'notice')} "
            f"{'waits' if report['waiting'] == 1 else 'wait'} for a retry; the next attempt "
            "is due at "
            f"{when}. To send them now: credit notices deliver --now --as USER[/yellow]",
            highlight=False,
        )
    if report["held"]:
        console.print(
            f"[red]{counted(report['held'], 'notice')} to customers not sent: "
            f"{report['held_reason']}. "
            "They stay in the outbox and go out with the next delivery once set.[/red]",
            highlight=False,
        )
    if report["repeated"]:
        console.print(
            f"[yellow]{counted(report['repeated'], 'notice')} being sent by a sender that stopped: "
            "sent again with the same Message-ID (a recipient may see one twice)[/yellow]"
        )
    if report["failed"]:
        console.print(
            f"[red]{counted(report['failed'], 'notice')} failed for good; the operator was told. "
            "See them with `credit notices list --status failed`, fix the cause, then "
            "`credit notices retry ID...`[/red]"
        )


@app.command("retry")
def notices_retry(
    ids: Annotated[list[int], typer.Argument(help="Ids of failed notices to send again.")],
    by: Annotated[str, typer.Option("--as", help="Who asks (for the audit trail).")],
    reason: Annotated[str, typer.Option("--reason", help="What was fixed.")],
) -> None:
    """Put failed notices back in the outbox once the cause is fixed; the next delivery sends
    them."""
    from credit import services

    a = get_app()
    with clear_errors():
        done = services.retry_notices(a, notice_ids=ids, by=by, reason=reason)
    console.print(f"{counted(len(done), 'notice')} back in the outbox: {', '.join(map(str, done))}")
