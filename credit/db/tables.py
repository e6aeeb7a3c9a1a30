"""Core tables of the SQLModel table models, for set-based queries."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy import inspect as sa_inspect
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, for set-based queries (SQLModel sets ``__table__`` on table
    models without declaring it)."""
    table = sa_inspect(model).local_table
    assert isinstance(table, Table)
    return table
