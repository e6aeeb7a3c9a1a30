"""The ``credit`` command line: one module per command group, assembled here.

Commands only translate: they parse what was typed, call a service (or start a flow) and print
the answer. Services and flows are imported inside the command bodies, so `credit --help` and
the commands that only read never import Prefect. The entry point is `credit.console:main`."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from credit.cli import (
    approvals,
    audit,
    collections,
    customers,
    dunning_profiles,
    groups,
    imports,
    init,
    notices,
    orders,
    payments,
    policy,
    research,
    reviews,
    risk,
    serve,
    service,
    status,
    users,
    worklist,
    writeoffs,
)

# Old spellings of a group that still run, unlisted: `credit review start` is
# `credit reviews start`.
ALIASES = {"review": "reviews"}


class CreditGroup(TyperGroup):
    """The top-level group: it also answers to the hidden ALIASES."""

    # Any: Typer types these with the click it vendors (typer._click, a private module).
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return super().get_command(ctx, ALIASES.get(cmd_name, cmd_name))


app = typer.Typer(
    cls=CreditGroup,
    help="Customer credit management: research, approval, credit lines, periodic review and "
    "collections, run as Prefect flows with every step's notice in an outbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The commands of their own, then the groups, in the order `credit --help` lists them.
COMMANDS = (
    init.init,
    research.assess,
    approvals.approve,
    approvals.reject,
    worklist.promise,
    service.feedback,
    serve.serve,
    status.status,
    serve.web,
    serve.demo,
)
GROUPS = (
    (reviews.app, "reviews"),
    (approvals.app, "approvals"),
    (collections.app, "collections"),
    (customers.app, "customers"),
    (groups.app, "groups"),
    (notices.app, "notices"),
    (policy.app, "policy"),
    (audit.app, "audit"),
    (research.app, "research"),
    (risk.app, "risk"),
    (imports.app, "import"),
    (worklist.dispute_app, "dispute"),
    (orders.app, "orders"),
    (payments.app, "payments"),
    (worklist.app, "worklist"),
    (service.app, "service"),
    (users.app, "users"),
    (writeoffs.app, "writeoff"),
)
for command in COMMANDS:
    app.command()(command)
customers.app.command("profile")(dunning_profiles.customers_profile)
for group, name in GROUPS:
    app.add_typer(group, name=name)

__all__ = ["app"]
