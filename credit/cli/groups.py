"""`credit groups create|add|remove|limit|show|list`: customer groups (a parent company's
customers) with a limit of their own, which `credit orders check` compares every member's
exposure together against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    clear_errors,
    console,
    fmt_amount,
    get_app,
    parse_date,
    parse_money,
    print_json,
    table,
)

if TYPE_CHECKING:
    from credit.services.limits.groups import GroupView

app = typer.Typer(
    help="Customer groups: a parent company's customers under one group limit.",
    no_args_is_help=True,
)

ByOpt = Annotated[
    str,
    typer.Option("--as", help="Who decides (a role of the authority matrix with the authority)."),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (audited).")]
CodeArg = Annotated[str, typer.Argument(help="Group code, e.g. ACME.")]


def show(view: GroupView) -> None:
    cur = view["currency"]
    state = "[red]over its limit[/]" if view["over_limit"] else "within its limit"
    console.print(
        f"[bold]{view['code']}[/] {view['name']}: exposure {fmt_amount(view['exposure'], cur)} "
        f"(receivables {fmt_amount(view['receivables'], cur)} + open orders "
        f"{fmt_amount(view['open_orders'], cur)}) of group limit {fmt_amount(view['limit'], cur)}, "
        f"headroom {fmt_amount(view['headroom'], cur)}: {state} (as of {view['as_of']})",
        highlight=False,
    )
    table(
        f"Members of {view['code']}",
        ["customer", "name", "receivables", "open orders", "exposure"],
        [
            [
                m["customer"],
                m["name"],
                fmt_amount(m["receivables"], cur),
                fmt_amount(m["open_orders"], cur),
                fmt_amount(m["exposure"], cur),
            ]
            for m in view["members"]
        ],
    )
    for what in view["unvalued"]:
        console.print(f"  not counted: {what}", highlight=False)


def _out(view: GroupView, as_json: bool) -> None:
    if as_json:
        print_json(view)
    else:
        show(view)


@app.command("create")
def groups_create(  # noqa: PLR0913  (the group's own options)
    code: CodeArg,
    *,
    name: Annotated[str, typer.Option("--name", help="The group's (parent company's) name.")],
    currency: Annotated[str, typer.Option("--currency", help="The group limit's currency.")],
    limit: Annotated[str, typer.Option("--limit", help="The group limit.")],
    by: ByOpt,
    reason: ReasonOpt,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group with its limit (a credit decision: audited, within the decider's
    authority)."""
    from credit import services

    day = parse_date(as_of)
    value = parse_money(limit, "--limit")
    with clear_errors():
        view = services.create_group(
            get_app(), code=code, name=name, currency=currency, limit=value, by=by,
            reason=reason, as_of=day,
        )  # fmt: skip
    _out(view, as_json)


@app.command("limit")
def groups_limit(
    code: CodeArg,
    *,
    limit: Annotated[str, typer.Option("--limit", help="The new group limit.")],
    by: ByOpt,
    reason: ReasonOpt,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a group's limit (audited, within the decider's authority)."""
    from credit import services

    day = parse_date(as_of)
    value = parse_money(limit, "--limit")
    with clear_errors():
        view = services.set_group_limit(
            get_app(), code=code, limit=value, by=by, reason=reason, as_of=day
        )
    _out(view, as_json)


@app.command("add")
def groups_add(
    code: CodeArg,
    customers: Annotated[list[str], typer.Argument(help="Customer codes to add.")],
    *,
    by: ByOpt,
    reason: ReasonOpt,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put customers in a group (a customer is in one group at most)."""
    from credit import services

    day = parse_date(as_of)
    with clear_errors():
        view = services.add_members(
            get_app(), code=code, customers=customers, by=by, reason=reason, as_of=day
        )
    _out(view, as_json)


@app.command("remove")
def groups_remove(
    code: CodeArg,
    customer: Annotated[str, typer.Argument(help="Customer code to take out.")],
    *,
    by: ByOpt,
    reason: ReasonOpt,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a customer out of its group."""
    from credit import services

    day = parse_date(as_of)
    with clear_errors():
        view = services.remove_member(
            get_app(), code=code, customer_code=customer, by=by, reason=reason, as_of=day
        )
    _out(view, as_json)


@app.command("show")
def groups_show(code: CodeArg, as_of: AsOpt = None, as_json: JsonOpt = False) -> None:
    """A group: its limit, every member's exposure and the group's headroom."""
    from credit import services

    day = parse_date(as_of)
    with clear_errors():
        view = services.show_group(get_app(), code=code, as_of=day)
    _out(view, as_json)


@app.command("list")
def groups_list(as_of: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Every group with its exposure against its limit."""
    from credit import services

    day = parse_date(as_of)
    with clear_errors():
        views = services.list_groups(get_app(), as_of=day)
    if as_json:
        print_json(views)
        return
    table(
        f"Customer groups as of {day}",
        ["code", "name", "members", "exposure", "limit", "headroom"],
        [
            [
                v["code"],
                v["name"],
                len(v["members"]),
                fmt_amount(v["exposure"], v["currency"]),
                fmt_amount(v["limit"], v["currency"]),
                fmt_amount(v["headroom"], v["currency"]),
            ]
            for v in views
        ],
    )
    if not views:
        console.print("No customer groups.")
