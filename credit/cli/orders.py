"""`credit orders check`: may a new order ship on credit? (exit code 0 allow, 1 hold)"""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
)
from credit.domain.receivables_status import OrderDecision

app = typer.Typer(help="May a new order ship on credit?", no_args_is_help=True)


@app.command("check")
def orders_check(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    amount: Annotated[str, typer.Option("--amount", help="Order amount.")],
    currency: Annotated[
        str | None, typer.Option("--currency", help="Default: the credit line's currency.")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Allow or hold a new order: exposure (open receivables + open orders + this order) against
    the limit, a line on hold, invoices overdue beyond policy. Exit code 0 allow, 1 hold."""
    from credit import services

    day = parse_date(as_of)
    value = parse_money(amount, "--amount")
    a = get_app()
    with clear_errors():
        result = services.check_order(
            a, customer_code=as_code(customer), amount=value, as_of=day, currency=currency
        )
    allowed = result["decision"] == OrderDecision.ALLOW
    if as_json:
        print_json(result)
    else:
        colour = "green" if allowed else "red"
        cur = result["currency"]
        console.print(
            f"[bold {colour}]{result['decision'].upper()}[/] {result['customer']}: order "
            f"{fmt_amount(result['order_amount'], cur)}; exposure "
            f"{fmt_amount(result['exposure'], cur)} of limit "
            f"{fmt_amount(result['limit'], cur) if result['limit'] else '-'} (headroom "
            f"{fmt_amount(result['headroom'], cur) if result['headroom'] else '-'})",
            highlight=False,
        )
        for r in result["reasons"]:
            console.print(f"  - {r}", highlight=False)
        if result["group"]:
            _show_group(dict(result["group"]))
    raise typer.Exit(0 if allowed else 1)


def _show_group(check: dict[str, Any]) -> None:
    g, cur = check["group"], check["group"]["currency"]
    console.print(
        f"  group {g['code']} ({g['name']}): exposure with this order "
        f"{fmt_amount(check['exposure_with_order'], cur)} of group limit "
        f"{fmt_amount(g['limit'], cur)}",
        highlight=False,
    )
