"""The inputs snapshot stored with every assessment: enough to re-score it exactly, later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from credit.domain.records import RawPayment
from credit.domain.scoring import CustomerFacts, DocumentFacts, StatementFacts


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@cache
def _fields(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """A flat dataclass's field names, each with the parser of its stored (string) value."""
    out = []
    for f in fields(cls):
        kind = str(f.type)
        parse = Decimal if "Decimal" in kind else date.fromisoformat if "date" in kind else None
        out.append((f.name, parse))
    return tuple(out)


def _row(obj: Any) -> dict[str, Any]:
    cls: type = type(obj)
    return {name: _plain(getattr(obj, name)) for name, _ in _fields(cls)}


def _typed(cls: type, row: dict[str, Any]) -> Any:
    values = {}
    for name, parse in _fields(cls):
        raw = row.get(name)
        values[name] = None if raw is None else parse(raw) if parse is not None else raw
    return cls(**values)


def make_snapshot(
    facts: CustomerFacts, payments: list[RawPayment], extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "registered_on": _plain(facts.registered_on),
        "statements": [_row(s) for s in facts.statements],
        "documents": [_row(d) for d in facts.documents],
        "payments": [_row(p) for p in payments],
        **{k: _plain(v) for k, v in extra.items()},
    }


def facts_from_snapshot(snapshot: dict[str, Any]) -> CustomerFacts:
    registered = snapshot.get("registered_on")
    return CustomerFacts(
        registered_on=date.fromisoformat(registered) if registered else None,
        statements=[_typed(StatementFacts, r) for r in snapshot.get("statements", [])],
        documents=[_typed(DocumentFacts, r) for r in snapshot.get("documents", [])],
    )


def payments_from_snapshot(snapshot: dict[str, Any]) -> list[RawPayment]:
    return [_typed(RawPayment, r) for r in snapshot.get("payments", [])]
