"""Loading a CSV file: the one path every entry point (CLI, demo, schedules, the workspace's
uploads) takes."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import BinaryIO

from credit import gc_pace
from credit.app import App
from credit.domain.columns import KINDS
from credit.importers import MAX_FILE_BYTES, ImportFailed, ImportPlan, ImportSummary, import_file
from credit.services.common import ServiceError, known_user


@gc_pace.bulk_work()
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


# An uploaded file waits for its confirmation under the var directory, in a folder named by a
# random reference (``<var>/uploads/<username>/<kind>/<reference>/<file name>.csv``): the
# reference a page hands back is checked against this pattern and the folder is looked up under
# the signed-in person's own name; a path given by the client is never used.
UPLOAD_REF = re.compile(r"[0-9a-f]{32}")
UPLOADS_KEPT_SECONDS = 24 * 3600
IMPORTED = "imported.json"  # what the import of an upload did, kept for the page that says so


def uploads_dir(app: App) -> Path:
    return app.settings.log_dir.parent / "uploads"


def _upload_folder(app: App, *, kind: str, by: str, ref: str) -> Path:
    if kind not in KINDS:
        raise ServiceError(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not UPLOAD_REF.fullmatch(ref):
        raise ServiceError("this upload is not known (its reference is malformed): upload again")
    return uploads_dir(app) / known_user(app, by) / kind / ref


def _safe_name(filename: str, kind: str) -> str:
    """The uploaded file's own name (no folders), reduced to plain characters, ending in .csv."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename.replace("\\", "/")).name).strip("._")
    base = base[:100] or kind
    return base if base.lower().endswith(".csv") else f"{base}.csv"


def _forget_old_uploads(app: App) -> None:
    """Uploads older than a day that nobody confirmed (a dry run is not kept for ever)."""
    root = uploads_dir(app)
    if not root.is_dir():
        return
    horizon = time.time() - UPLOADS_KEPT_SECONDS
    for folder in root.glob("*/*/*"):
        if folder.is_dir() and folder.stat().st_mtime < horizon:
            shutil.rmtree(folder, ignore_errors=True)


def stage_upload(app: App, *, kind: str, by: str, filename: str, data: BinaryIO) -> str:
    """Keep an uploaded file for its dry run and its confirmation; its reference."""
    _forget_old_uploads(app)
    ref = secrets.token_hex(16)
    folder = _upload_folder(app, kind=kind, by=by, ref=ref)
    folder.mkdir(parents=True, mode=0o700)
    size = 0
    with (folder / _safe_name(filename, kind)).open("wb") as out:
        while chunk := data.read(1 << 20):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                break
            out.write(chunk)
    if size > MAX_FILE_BYTES:
        shutil.rmtree(folder, ignore_errors=True)
        raise ServiceError(f"the file is larger than {MAX_FILE_BYTES} bytes: split it")
    return ref


def _staged(folder: Path) -> Path:
    found = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not found:
        raise ServiceError(
            "this upload is not waiting any more (imported already, or older than a day): "
            "upload the file again"
        )
    return found[0]


def import_upload(
    app: App, *, kind: str, by: str, ref: str, dry_run: bool, today: date | None = None
) -> ImportPlan:
    """The dry run or the import of an uploaded file (``by``: who uploaded it, and imports).
    Errors name the file as it was uploaded. A file with errors is not kept (it cannot be
    confirmed); an imported one is removed, and what its import did is kept for a day."""
    folder = _upload_folder(app, kind=kind, by=by, ref=ref)
    path = _staged(folder)
    try:
        plan = import_data(app, kind=kind, path=path, actor=by, dry_run=dry_run, today=today)
    except ImportFailed as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ImportFailed([replace(e, file=path.name) for e in exc.errors]) from None
    plan.file = path.name
    if not dry_run:
        (folder / IMPORTED).write_text(json.dumps(plan.summary()), encoding="utf-8")
        path.unlink()
    return plan


def upload_imported(app: App, *, kind: str, by: str, ref: str) -> ImportSummary | None:
    """What the import of an upload did (None: not imported, or forgotten)."""
    done = _upload_folder(app, kind=kind, by=by, ref=ref) / IMPORTED
    if not done.is_file():
        return None
    summary: ImportSummary = json.loads(done.read_text(encoding="utf-8"))
    return summary
