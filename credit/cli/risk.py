"""`credit risk scan|signals`: risk signals found in profiles and ledgers."""

from __future__ import annotations

from typing import Annotated

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    as_code,
    clear_errors,
    console,
    get_app,
    parse_date,
    print_json,
    table,
)
from credit.domain.words import counted

app = typer.Typer(help="Risk signals found in profiles and ledgers.", no_args_is_help=True)


@app.command("scan")
def risk_scan(as_of: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Scan every customer with a credit line for risk signals now; high ones alert and flag."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.scan_risk(a, as_of=day)
        services.deliver(a)
    if as_json:
        print_json(result)
        return
    console.print(
        f"{counted(result['customers'], 'customer')} scanned: "
        f"{counted(result['new'], 'new signal')}; flagged for "
        f"re-review: {', '.join(result['flagged']) or 'none'}."
    )


@app.command("signals")
def risk_signals(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer's signals.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Risk signals found so far, with severity and the review that answered them."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.list_signals(a, customer_code=as_code(customer) if customer else None)
    if as_json:
        print_json(rows)
        return
    table(
        "Risk signals",
        ["id", "customer", "kind", "severity", "detail", "detected", "reviewed in"],
        [
            [
                r["id"],
                r["customer"],
                r["kind"],
                r["severity"],
                r["detail"],
                r["detected_on"],
                r["reviewed_in"] or "-",
            ]
            for r in rows
        ],
    )
