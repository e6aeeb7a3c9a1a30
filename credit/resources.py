"""Locate the files shipped with the product (templates, default config, sample data).

In a wheel they live under ``credit/_data/``; in a source checkout (editable install) they are the
top-level folders of the repository. Both layouts are looked up, installed copy first.
"""

from __future__ import annotations

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
