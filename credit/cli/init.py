"""`credit init`: create or upgrade the database and publish the first policy."""

from __future__ import annotations

from typing import Annotated

import typer

from credit.cli.output import clear_errors, console, get_app, require_company


def init(
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Who runs the set-up (audited; a person in the directory)."),
    ] = None,
) -> None:
    """Create or upgrade the database schema; publish config/policy.yaml as version 1 if no policy
    exists. Safe to run again: an up-to-date database is left as it is."""
    from credit import services

    a = get_app()
    require_company(a.settings, "credit init")
    with clear_errors():
        who = "admin" if actor is None else services.known_user(a, actor)
        result = services.init_database(a, actor=who)
    where = a.settings.database_url
    schema = (
        f"schema upgraded to {result['migrated_to']}"
        if result["upgraded"]
        else f"schema {result['migrated_to']}, already up to date"
    )
    if result["created_policy"]:
        console.print(
            f"Database ready at {where} ({schema}); "
            f"published policy version 1 from {a.settings.policy_path}."
        )
    else:
        console.print(
            f"Database ready at {where} ({schema}); "
            f"published policy is version {result['policy_version']}."
        )
