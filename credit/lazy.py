"""A package's public names loaded on first use (PEP 562).

The package lists its names as imports under ``if TYPE_CHECKING:``: type checkers read them, and
so does :func:`names_in`, which maps each name to its module. The package's ``__getattr__``
imports that module the first time the name is asked for. A command that only reads does not
load what it never uses (Jinja and Babel, the use cases it does not run)."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any


def names_in(init_file: str) -> dict[str, str]:
    """Each name imported under the first ``if`` block of ``init_file`` (the package's
    ``TYPE_CHECKING`` block), with the module it comes from."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If))
    return {
        alias.asname or alias.name: str(node.module)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def load(package: dict[str, Any], where: dict[str, str], name: str) -> Any:
    """``name``'s value, imported from its module and kept in the package's namespace
    (``package``: its ``globals()``) so that the next use costs nothing."""
    module = where.get(name)
    if module is None:
        raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    package[name] = value
    return value


def package(
    namespace: dict[str, Any], init_file: str
) -> tuple[Callable[[], dict[str, str]], Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``_where`` (its names' modules), ``__getattr__`` and ``__dir__``, for
    ``namespace`` (its ``globals()``) and its ``__init__.py``."""
    where = cache(lambda: names_in(init_file))

    def getattr_(name: str) -> Any:
        return load(namespace, where(), name)

    def dir_() -> list[str]:
        return sorted({*namespace, *where()})

    return where, getattr_, dir_
