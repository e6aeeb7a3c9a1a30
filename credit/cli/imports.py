"""`credit import KIND FILE`: one command per kind of CSV file, all-or-nothing.

(No `from __future__ import annotations` here: Typer reads the options of the commands made in
`_add_import_command` from their annotations, which name the closure's `kind`.)"""

from pathlib import Path
from typing import Annotated

import typer

from credit.cli import payments
from credit.cli.output import JsonOpt, clear_errors, console, get_app, print_json
from credit.domain.columns import COLUMNS, KINDS
from credit.domain.words import counted

app = typer.Typer(
    help="Import CSV files (all-or-nothing; --dry-run shows what would change).",
    no_args_is_help=True,
)


def import_file(*, kind: str, file: Path, dry_run: bool, actor: str | None, as_json: bool) -> None:
    """Import one file of a kind and say what changed (or would change, on a dry run)."""
    from credit import services

    a = get_app()
    with clear_errors():
        actor = "import" if actor is None else services.known_user(a, actor)
    with clear_errors():
        plan = services.import_data(
            a,
            kind=kind,
            path=file,
            actor=actor,
            dry_run=dry_run,
            today=a.settings.today(),  # the edge: statements and rates may not be dated later
        )
    if as_json:
        print_json(plan.summary())
        return
    verb = "would import" if dry_run else "imported"
    console.print(
        f"{file}: {verb} {counted(plan.rows, 'row')}: {len(plan.created)} new, "
        f"{len(plan.updated)} changed, {len(plan.unchanged)} unchanged"
        + (f", {len(plan.removed)} removed" if plan.removed else "")
        + (" (dry run: nothing written)" if dry_run else "")
    )
    for fix in plan.fixes:
        console.print(f"  cleaned: {fix}", highlight=False)
    if dry_run and plan.updated:
        console.print("changed: " + ", ".join(plan.updated[:20]))
    if dry_run and plan.removed:
        console.print("removed: " + ", ".join(plan.removed[:20]))


def _add_import_command(kind: str) -> None:
    def command(
        file: Annotated[Path, typer.Argument(help=f"CSV file of {kind}.")],
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Validate and show what would change; write nothing."),
        ] = False,
        actor: Annotated[
            str | None,
            typer.Option("--as", help="Who imports (audited; a person in the directory)."),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        import_file(kind=kind, file=file, dry_run=dry_run, actor=actor, as_json=as_json)

    command.__doc__ = f"Import {kind} from CSV with columns: {','.join(COLUMNS[kind])}."
    app.command(kind)(command)


for _kind in KINDS:
    _add_import_command(_kind)

# A bank statement (camt.053 or MT940) is imported and matched: credit/cli/payments.py.
app.command("statement")(payments.import_statement)
