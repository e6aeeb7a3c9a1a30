"""Loading a CSV file: the one path every entry point (CLI, demo, schedules) takes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from credit.app import App
from credit.importers import ImportPlan, import_file


def import_data(
    app: App, *, kind: str, path: Path, actor: str, dry_run: bool, today: date | None = None
) -> ImportPlan:
    """Validate the whole file and write every row in one transaction, or nothing.

    ``today`` (the caller's edge) bounds the dates a file may carry; ``dry_run`` writes nothing.
    Raises :class:`~credit.importers.ImportFailed` listing every bad value.
    """
    with app.uow() as uow:
        plan = import_file(
            uow.session,
            kind=kind,
            path=path,
            actor=actor,
            dry_run=dry_run,
            today=today,
            base_currency=app.settings.base_currency,
        )
        if not dry_run:
            uow.commit()
    return plan
