"""`credit customers profile CODE PROFILE`: assign a dunning profile to a customer."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credit.cli.output import (
    JsonOpt,
    UserOpt,
    as_code,
    clear_errors,
    console,
    get_app,
    print_json,
    table,
)


def customers_profile(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    profile: Annotated[str, typer.Argument(help="A dunning profile of the published policy.")],
    *,
    actor: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why this customer follows it.")],
    as_json: JsonOpt = False,
) -> None:
    """Assign a dunning profile (its schedule of levels, or none) to a customer, whatever the
    policy's rules say; credit managers only, audited."""
    from credit import services

    with clear_errors():
        result = services.assign_dunning_profile(
            get_app(), customer_code=as_code(customer), profile=profile, by=actor, reason=reason
        )
    if as_json:
        print_json(result)
        return
    before = result["before"] or "none assigned"
    console.print(
        f"{result['customer']} follows dunning profile {result['profile']} (was: {before}).",
        highlight=False,
    )


def show_profiles(profiles: list[dict[str, Any]]) -> None:
    """`credit policy show`: the policy's dunning profiles (nothing for a policy without)."""
    if profiles:
        table(
            "Dunning profiles",
            ["profile", "applies to", "levels", "courtesy reminder"],
            [[p["profile"], p["applies_to"], p["levels"], p["courtesy"]] for p in profiles],
        )
