"""Prefect's settings read ``.env`` once per command, not once per settings object.

Prefect's settings (pydantic-settings) read the ``.env`` file of the working directory, which is
where the product's own settings are (``cp .env.example .env``, about fifty lines with comments).
They read it again for each of their nested settings models, and Prefect's profile loader once
more, every time Prefect builds its settings: 493 parses of the same file by python-dotenv's
regular expressions in one ``credit approvals sweep`` (with fpdf2 imported by its delivery, 1.9 of
its 6.6 s).

:func:`read_once` makes the reader those two use return the file's values parsed once in the
process, and read again when the file changes (its inode, size or modification time). Prefect
gets what it got: the same values, a fresh dict each time. Installed before Prefect is imported
(:func:`credit.cli.running.prefect_defaults`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Stamp = tuple[int, int, int]  # the file's inode, size and modification time
_parsed: dict[tuple[str, str | None], tuple[Stamp, dict[str, str | None]]] = {}


def read_once() -> None:
    """python-dotenv's reader, as pydantic-settings and Prefect's profile loader use it, parsed
    once per version of each file (idempotent). Called before Prefect is imported, the readers
    they import from ``dotenv`` are this one; modules already imported are given it too."""
    import sys

    import dotenv

    if getattr(dotenv.dotenv_values, "credit_read_once", False):
        return
    remembering = _remembering(dotenv.dotenv_values)
    dotenv.dotenv_values = remembering
    for name in _READERS:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "dotenv_values"):
            setattr(module, "dotenv_values", remembering)  # noqa: B010  # a module's name


# The modules that import ``dotenv_values`` by name to read Prefect's settings.
_READERS = ("pydantic_settings.sources.providers.dotenv", "prefect.settings.sources")


def _remembering(
    reader: Callable[..., dict[str, str | None]],
) -> Callable[..., dict[str, str | None]]:
    def dotenv_values(
        dotenv_path: Any = None, *args: Any, encoding: str | None = "utf-8", **kwargs: Any
    ) -> dict[str, str | None]:
        if args or kwargs or dotenv_path is None:  # not how pydantic-settings calls it
            return reader(dotenv_path, *args, encoding=encoding, **kwargs)
        try:
            found = os.stat(dotenv_path)
        except OSError:
            return reader(dotenv_path, encoding=encoding)
        key = (os.path.abspath(dotenv_path), encoding)
        stamp = (found.st_ino, found.st_size, found.st_mtime_ns)
        known = _parsed.get(key)
        if known is None or known[0] != stamp:
            known = _parsed[key] = (stamp, reader(dotenv_path, encoding=encoding))
        return dict(known[1])

    dotenv_values.credit_read_once = True  # type: ignore[attr-defined]
    return dotenv_values
