"""`credit orders check|release|exempt`: may a new order ship on credit? (exit code 0 allow,
1 hold); ask for a held order to be released (an approval decision); exempt a customer from the
check until a date."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    UserOpt,
    as_code,
    clear_errors,
    console,
    fail,
    fmt_amount,
    get_app,
    parse_date,
    parse_money,
    print_json,
)
from credit.domain.receivables_status import OrderDecision
from credit.domain.words import said

app = typer.Typer(help="May a new order ship on credit?", no_args_is_help=True)


@app.command("check")
def orders_check(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    amount: Annotated[str, typer.Option("--amount", help="Order amount.")],
    currency: Annotated[
        str | None, typer.Option("--currency", help="Default: the credit line's currency.")
    ] = None,
    order: Annotated[
        str | None,
        typer.Option("--order", help="The order's reference: an approved release of it applies."),
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Allow or hold a new order: exposure (open receivables + open orders + this order) against
    the limit, a line on hold, invoices overdue beyond policy; an exemption in force, or an
    approved release of the order (--order, used once), allows it. Exit code 0 allow, 1 hold."""
    from credit import services

    day = parse_date(as_of)
    value = parse_money(amount, "--amount")
    a = get_app()
    with clear_errors():
        result = services.check_order(
            a,
            customer_code=as_code(customer),
            amount=value,
            as_of=day,
            currency=currency,
            order_ref=order,
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
        if result["allowed_by"]:
            console.print(f"  {result['allowed_by']}", highlight=False)
            if result["reasons"]:
                console.print("  it would have held for:", highlight=False)
        for r in result["reasons"]:
            console.print(f"  - {r}", highlight=False)
        for note in result["notes"]:
            console.print(f"  note: {note}", highlight=False)
        if result["group"]:
            _show_group(dict(result["group"]))
    raise typer.Exit(0 if allowed else 1)


@app.command("release")
def orders_release(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    order: Annotated[str, typer.Option("--order", help="The held order's reference.")],
    amount: Annotated[str, typer.Option("--amount", help="The order's amount.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it should ship (audited).")],
    by: UserOpt,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Default: the credit line's currency.")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask for a held order to be released: an approval decision routed through the authority
    matrix by its amount (decide it with `credit approve ID --subject order_release`). Once
    approved, the order's next check (--order) allows it, once, within the policy's
    orders.release_valid_days."""
    from credit import services

    day = parse_date(as_of)
    value = parse_money(amount, "--amount")
    a = get_app()
    with clear_errors():
        result = services.request_order_release(
            a,
            customer_code=as_code(customer),
            order_ref=order,
            amount=value,
            currency=currency,
            reason=reason,
            by=by,
            as_of=day,
            today=a.settings.today(),
        )
    if as_json:
        print_json(result)
        return
    console.print(
        f"Release {result['id']} of order {result['order']} ({result['customer']}, "
        f"{fmt_amount(result['amount'], result['currency'])}) is {said(result['status'])}"
        + (f", waiting for {result['waiting_for']}" if result["waiting_for"] else "")
        + ".",
        highlight=False,
    )


@app.command("exempt")
def orders_exempt(  # noqa: PLR0913  # the exemption's parts, each an option
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    *,
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")],
    by: UserOpt,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day of the exemption, YYYY-MM-DD.")
    ] = None,
    basis: Annotated[
        str | None, typer.Option("--basis", help="prepaid, guarantee or letter_of_credit.")
    ] = None,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="End the exemption in force instead.")
    ] = False,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exempt a customer from the order check until a date (every check says ALLOW, still
    showing what it would have held for), or --revoke the exemption in force. Takes the authority
    for the customer's credit limit."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        if revoke:
            if until or basis:
                fail("--revoke takes no --until or --basis")
            result = services.revoke_exemption(
                a, customer_code=as_code(customer), reason=reason, by=by, as_of=day,
                today=a.settings.today(),
            )  # fmt: skip
        else:
            if not until or not basis:
                fail("an exemption needs --until DATE and --basis (or --revoke)")
            result = services.exempt_customer(
                a, customer_code=as_code(customer), until=parse_date(until, "--until"),
                basis=basis, reason=reason, by=by, as_of=day, today=a.settings.today(),
            )  # fmt: skip
    if as_json:
        print_json(result)
        return
    if revoke:
        console.print(
            f"{result['customer']}: exemption {result['id']} revoked as of {day.isoformat()}; "
            "its orders are checked again.",
            highlight=False,
        )
        return
    console.print(
        f"{result['customer']} is exempt from the order check until {result['valid_until']} "
        f"({result['basis'].replace('_', ' ')}, by {result['granted_by']})"
        + (f"; it replaces exemption {result['ended']}" if result["ended"] else "")
        + ".",
        highlight=False,
    )


def _show_group(check: dict[str, Any]) -> None:
    g, cur = check["group"], check["group"]["currency"]
    console.print(
        f"  group {g['code']} ({g['name']}): exposure with this order "
        f"{fmt_amount(check['exposure_with_order'], cur)} of group limit "
        f"{fmt_amount(g['limit'], cur)}",
        highlight=False,
    )
