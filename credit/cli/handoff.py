"""Handing a recorded decision's follow-up to the running service, or running it here.

A command that records something (a review asked for, a rating, a decision, a policy proposal)
commits it together with its follow-up. While ``credit serve`` runs, the command ends there and
the service runs the follow-up at once; this module never imports Prefect then. Without a
service, the command runs the follow-up itself (Prefect's local mode: seconds) and says, once a
day, how to get instant answers."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import typer

from credit.cli.output import err, error_log
from credit.cli.running import run_flow

if TYPE_CHECKING:
    from credit.app import App


class HandedOver:
    """The follow-up is the service's: what to tell the user instead of its result."""

    def __init__(self, where: str) -> None:
        self.where = where


def hand_over(a: App, followup_id: int | None, *, label: str) -> dict[str, Any] | HandedOver:
    """The follow-up's result when it ran here, or :class:`HandedOver` when a service runs it."""
    from credit import services

    if followup_id is None:
        return HandedOver("nothing follows")
    service = services.running_service(a)
    if service is not None:
        return HandedOver(f"credit serve on {service['host']} (pid {service['pid']})")
    _hint_once()

    def call() -> Any:
        from credit.services.followups import claimer_name
        from flows.followups import run_one

        return run_one(a, followup_id, claimer=claimer_name("cli"))

    result = run_flow(label, call)
    if result is None:  # a service started meanwhile and took it
        return HandedOver("the service (it started meanwhile)")
    return dict(result)


def _hint_once() -> None:
    """Once a day: the follow-up runs here because no service runs, and how to change that."""
    marker = error_log().with_name(".serve-hint")
    today = date.today().isoformat()  # the edge: a reminder per calendar day on this machine
    try:
        if marker.exists() and marker.read_text(encoding="utf-8").strip() == today:
            return
        marker.write_text(today, encoding="utf-8")
    except OSError:
        pass
    err.print(
        "note: no `credit serve` is running, so this command runs what follows itself "
        "(Prefect's local mode: seconds). With `credit serve` running it answers at once.",
        style="dim",
        highlight=False,
    )


def record(op: str, **kwargs: Any) -> tuple[dict[str, Any], App | None]:
    """Record a decision (an operation of :mod:`credit.cli.operations`): by the running service
    on this machine when its socket answers (then no app: it is the service's to follow up),
    else here; the answer, and the app when recorded here. Refusals end the command (exit 2)."""
    from credit.cli import remote
    from credit.cli.output import clear_errors, fail, get_app

    try:
        answer = remote.call(op, **kwargs)
    except remote.RemoteRefusal as exc:
        if exc.unexpected:
            err.print(
                f"[bold red]error:[/] the service failed on this request ({exc}); its log "
                "has the details (`credit status` says where it runs)",
                highlight=False,
            )
            raise typer.Exit(1) from None
        fail(str(exc))
    except remote.ServiceGone as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if answer is not None:
        return answer, None
    from credit.cli import operations

    a = get_app()
    with clear_errors():
        return operations.OPERATIONS[op](a, **kwargs), a
