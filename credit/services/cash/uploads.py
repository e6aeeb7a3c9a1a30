"""A bank statement uploaded in the workspace: kept for its dry run and its confirmation, as the
CSV imports are (:mod:`credit.services.imports`: a folder named by a random reference under the
uploader's own name, never a path from the client), then imported as `credit import statement`
imports a file: the same reading, matching and idempotency, one transaction."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from credit.app import App
from credit.importers import MAX_FILE_BYTES
from credit.importers.statements import StatementRejected
from credit.services.cash.statements import ImportSummary, apply_statements, read_statements
from credit.services.common import ServiceError, known_user
from credit.services.imports import UPLOAD_REF, UPLOADS_KEPT_SECONDS, uploads_dir

KIND = "statement"  # <var>/uploads/<username>/statement/<reference>/<file name>
IMPORTED = "imported.json"  # what the import did, kept for the page that says so


def _folder(app: App, *, by: str, ref: str) -> Path:
    if not UPLOAD_REF.fullmatch(ref):
        raise ServiceError("this upload is not known (its reference is malformed): upload again")
    return uploads_dir(app) / known_user(app, by) / KIND / ref


def _safe_name(filename: str) -> str:
    """The uploaded file's own name (no folders), reduced to plain characters."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename.replace("\\", "/")).name).strip("._")
    base = base[:100] or "statement"
    return f"statement-{base}" if base == IMPORTED else base


def _forget_old(app: App) -> None:
    """Statements uploaded more than a day ago that nobody confirmed."""
    horizon = time.time() - UPLOADS_KEPT_SECONDS
    for folder in uploads_dir(app).glob(f"*/{KIND}/*"):
        if folder.is_dir() and folder.stat().st_mtime < horizon:
            shutil.rmtree(folder, ignore_errors=True)


def stage_statement(app: App, *, by: str, filename: str, data: BinaryIO) -> str:
    """Keep an uploaded statement for its dry run and its confirmation; its reference."""
    _forget_old(app)
    ref = secrets.token_hex(16)
    folder = _folder(app, by=by, ref=ref)
    folder.mkdir(parents=True, mode=0o700)
    size = 0
    with (folder / _safe_name(filename)).open("wb") as out:
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
    found = sorted(p for p in folder.iterdir() if p.name != IMPORTED) if folder.is_dir() else []
    if not found:
        raise ServiceError(
            "this upload is not waiting any more (imported already, or older than a day): "
            "upload the file again"
        )
    return found[0]


def import_staged(  # noqa: PLR0913  # the upload, who, and the import's options, each named
    app: App,
    *,
    by: str,
    ref: str,
    dry_run: bool,
    as_of: date | None = None,
    today: date | None = None,
) -> ImportSummary:
    """The dry run or the import of an uploaded statement (``by``: who uploaded it, and
    imports). Problems name the file as it was uploaded; a file with problems is not kept (it
    cannot be confirmed); an imported one is removed, and what its import did is kept a day."""
    folder = _folder(app, by=by, ref=ref)
    path = _staged(folder)
    try:
        summary = apply_statements(
            app,
            read_statements(path),
            file_name=path.name,
            label=path.name,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            actor=known_user(app, by),
            as_of=as_of,
            dry_run=dry_run,
            today=today,
        )
    except StatementRejected as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StatementRejected(path.name, exc.problems) from None
    if not dry_run:
        (folder / IMPORTED).write_text(json.dumps(summary), encoding="utf-8")
        path.unlink()
    return summary


def statement_imported(app: App, *, by: str, ref: str) -> dict[str, Any] | None:
    """What the import of an uploaded statement did (None: not imported, or forgotten)."""
    done = _folder(app, by=by, ref=ref) / IMPORTED
    if not done.is_file():
        return None
    found: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
    return found
