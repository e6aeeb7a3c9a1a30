"""Locate the files shipped with the product (templates, default config, sample data).

In a wheel they live under ``credit/_data/``; in a source checkout (editable install) they are the
top-level folders of the repository. Both layouts are looked up, installed copy first.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder ``name`` (templates, config, sample_data) wherever the product is installed."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the product's {name!r} folder is missing: looked in {_PACKAGE_DIR / '_data' / name} "
        f"and {_PACKAGE_DIR.parent / name}; reinstall the package"
    )


def sample_payments_until(
    day: date, directory: Path, *, leave_out: frozenset[str] = frozenset()
) -> Path:
    """The sample payments made by ``day``, as a CSV file in ``directory``: what the bank
    statements up to that day bring. A live collections run refuses a ledger that already holds
    later payments, so the demo (and tests walking the sample story) import them as days go by;
    importing the same rows again changes nothing. ``leave_out``: references of payments that
    come in another way (the demo's bank statement of 27 November)."""
    with (resource_dir("sample_data") / "payments.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    path = directory / f"payments-until-{day.isoformat()}.csv"
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(
            r for r in rows if r["paid_on"] <= day.isoformat() and r["reference"] not in leave_out
        )
    return path
