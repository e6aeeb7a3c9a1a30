"""The import core: validate the whole file, compare it with what is stored, then write every
row in the caller's transaction or none (:func:`credit.services.import_data` opens it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit
from credit.db.locks import lock_customers
from credit.db.models import (
    Customer,
    FinancialStatement,
    FxRate,
    Invoice,
    Payment,
    SalesOrder,
    utcnow,
)
from credit.domain.columns import KINDS
from credit.importers.contacts import import_contacts
from credit.importers.customer_dunning import dunning_changes, write_dunning_settings
from credit.importers.customers import plan_customers
from credit.importers.financials import plan_financials, statements_lookup
from credit.importers.fx_rates import plan_fx_rates, rates_lookup
from credit.importers.invoices import plan_invoices
from credit.importers.lookups import KEEP_STORED, select_in
from credit.importers.orders import plan_orders
from credit.importers.payments import plan_payments
from credit.importers.rows import ImportFailed, ImportPlan, Row, Values, read_rows

Planner = Callable[[Session, list[Row], Values], list[tuple[str, Values, Row]]]
Lookup = Callable[[Session, list[str]], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """How a kind of file is imported: its model, planner, key, how stored rows are found, and
    whether a re-import may change a stored row (posted documents are not changed)."""

    model: type
    plan: Planner
    key_of: Callable[[Any], str]
    lookup: Lookup
    editable: bool
    key_column: str


def lookup_by(model: Any, column: str) -> Lookup:
    """A lookup of stored ``model`` rows by their ``column`` (500 keys per statement)."""

    def find(session: Session, keys: list[str]) -> dict[str, Any]:
        key_column = getattr(model, column)
        found: dict[str, Any] = {}
        for i in range(0, len(keys), 500):
            for obj in session.exec(select(model).where(key_column.in_(keys[i : i + 500]))):
                found[getattr(obj, column)] = obj
        return found

    return find


def _no_key(_stored: Any) -> str:
    return ""


SPECS: dict[str, Spec] = {
    "fx-rates": Spec(FxRate, plan_fx_rates, _no_key, rates_lookup, True, "rate_date"),
    "customers": Spec(
        Customer, plan_customers, lambda o: o.code, lookup_by(Customer, "code"), True, "code"
    ),
    "financials": Spec(
        FinancialStatement, plan_financials, _no_key, statements_lookup, True, "period_end"
    ),
    "invoices": Spec(
        Invoice, plan_invoices, lambda o: o.number, lookup_by(Invoice, "number"), False, "number"
    ),
    "orders": Spec(
        SalesOrder,
        plan_orders,
        lambda o: o.number,
        lookup_by(SalesOrder, "number"),
        False,
        "number",
    ),
    "payments": Spec(
        Payment,
        plan_payments,
        lambda o: o.reference,
        lookup_by(Payment, "reference"),
        False,
        "reference",
    ),
}

NOT_COLUMNS = ("applies_to_number", KEEP_STORED)  # the credit note's target is not a column

# A row to write: its key, its values, the stored row it changes (None: a new one) and the
# changes, column -> (stored, new).
Change = tuple[str, Values, Any, dict[str, tuple[Any, Any]]]


def differences(obj: Any, values: Values) -> dict[str, tuple[Any, Any]]:
    """The columns whose value in the file differs from the stored row's: (stored, new)."""
    diffs = {}
    keep = values.get(KEEP_STORED, ())
    for k, new in values.items():
        if k in NOT_COLUMNS or k in keep:
            continue
        old = getattr(obj, k)
        if isinstance(old, Decimal) and new is not None:
            same = old == Decimal(new)
        else:
            same = old == new
        if not same:
            diffs[k] = (old, new)
    return diffs


def import_file(
    session: Session,
    *,
    kind: str,
    path: Path,
    actor: str,
    dry_run: bool,
    today: date | None = None,
    base_currency: str | None = None,
) -> ImportPlan:
    """Validate the whole file, then write every row in the caller's transaction or none.

    Raises :class:`ImportFailed` listing every bad value; the caller commits only on success.
    """
    if kind == "contacts":  # a customer's list is replaced, not upserted row by row
        ctx: Values = {"today": today, "fixes": []}
        return import_contacts(session, path=path, actor=actor, dry_run=dry_run, ctx=ctx)
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    spec = SPECS[kind]
    rows, errors = read_rows(path, kind)
    if errors:
        raise ImportFailed(errors)
    plan_fixes: list[str] = []
    ctx = {"today": today, "base_currency": base_currency, "fixes": plan_fixes}
    planned = spec.plan(session, rows, ctx)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    plan = ImportPlan(kind=kind, file=str(path), rows=len(rows), fixes=plan_fixes)
    changes = _compare(session, spec, plan, planned)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    beside = dunning_changes(session, ctx, plan)  # customers: dunning profile and segment
    if dry_run:
        return plan
    _write(session, spec, changes, plan=plan, actor=actor, path=path)
    write_dunning_settings(session, beside, actor=actor, path=path)
    session.flush()
    plan.applied = True
    return plan


def _compare(
    session: Session, spec: Spec, plan: ImportPlan, planned: list[tuple[str, Values, Row]]
) -> list[Change]:
    """Sort the planned rows into created, updated and unchanged (on ``plan``); a posted
    document the file would change fails its row. The rows to write."""
    kind = plan.kind
    by_key_row = {k: r for k, _, r in planned}
    existing = spec.lookup(session, [k for k, _, _ in planned])
    changes: list[Change] = []
    for key, values, _ in planned:
        obj = existing.get(key)
        if obj is None:
            plan.created.append(key)
            changes.append((key, values, None, {}))
            continue
        diffs = differences(obj, values)
        if not diffs:
            plan.unchanged.append(key)
        elif not spec.editable and set(diffs) == {"status"} and kind in ("payments", "orders"):
            # A payment's status may change (a direct debit bounces), an order's too (invoiced,
            # cancelled); amounts and dates may not.
            plan.updated.append(key)
            changes.append((key, values, obj, diffs))
        elif not spec.editable:
            changed, (old, new) = next(iter(diffs.items()))
            by_key_row[key].fail(
                changed,
                f"{kind[:-1]} {key} was already imported with {changed} {old}; "
                "posted documents are not changed by import (post a credit note)",
                value=str(new),
            )
        else:
            plan.updated.append(key)
            changes.append((key, values, obj, diffs))
    return changes


def _write(
    session: Session,
    spec: Spec,
    changes: list[Change],
    *,
    plan: ImportPlan,
    actor: str,
    path: Path,
) -> None:
    """Write the changes (audited), link credit notes to their invoices, record the creations."""
    kind = plan.kind
    # Receivables change: take the customers' locks first, so a dunning run either sees these
    # rows or commits before them (never a notice about an invoice paid a moment earlier).
    lock_customers(
        session, {v["customer_id"] for _, v, _, _ in changes if v.get("customer_id") is not None}
    )
    links: dict[str, str] = {}  # credit note -> the invoice it applies to
    for key, values, obj, diffs in changes:
        if obj is None:
            values = dict(values)
            target = values.pop("applies_to_number", None)
            values.pop(KEEP_STORED, None)
            if target:
                links[key] = target
            session.add(spec.model(**values))
        else:
            _update(session, obj, diffs)
            audit.record(
                session,
                actor=actor,
                action=f"import.{kind}.update",
                entity_type=kind[:-1],
                entity_id=key,
                before={k: o for k, (o, _) in diffs.items()},
                after={k: n for k, (_, n) in diffs.items()},
                reason=f"import of {path.name}",
            )
    if links:
        _link_credit_notes(session, links)
    if plan.created:
        audit.record(
            session,
            actor=actor,
            action=f"import.{kind}.create",
            entity_type=kind[:-1],
            entity_id=path.name,
            after={"created": plan.created[:1000], "count": len(plan.created)},
            reason=f"import of {path.name}",
        )


def _update(session: Session, obj: Any, diffs: dict[str, tuple[Any, Any]]) -> None:
    for k, (_, new) in diffs.items():
        setattr(obj, k, new)
    if hasattr(obj, "updated_at"):
        obj.updated_at = utcnow()
    session.add(obj)


def _link_credit_notes(session: Session, links: dict[str, str]) -> None:
    """Each new credit note points at the invoice it applies to (by number -> id)."""
    session.flush()
    ids = dict(
        select_in(session, select(Invoice.number, Invoice.id), col(Invoice.number), links.values())
    )
    for number, target in links.items():
        session.execute(
            update(Invoice).where(col(Invoice.number) == number).values(applies_to_id=ids[target])
        )
