"""Importing a contacts file: every customer the file names gets exactly the file's contacts
(matched by e-mail: new ones added, changed ones updated, the ones the file no longer lists
removed); customers the file does not name keep theirs. One dunning contact per customer at most;
a dunning contact is not also on CC."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from credit import audit
from credit.db.locks import lock_customers
from credit.db.models import Customer, utcnow
from credit.db.models_contacts import CustomerContact
from credit.domain.directory import EMAIL_PATTERN
from credit.importers.lookups import customer_ref, customers_by_code, select_in
from credit.importers.rows import ImportFailed, ImportPlan, Row, Values, read_rows

KIND = "contacts"
MAX_PER_CUSTOMER = 50  # more is not a contact list (a file joined twice, a mailing list)
PHONE = r"\+?[0-9][0-9 ()./-]{2,39}"
YES, NO = ("yes", "y", "true", "1", "x"), ("no", "n", "false", "0", "")
# What a contact is compared on (and shown as in the audit trail).
FIELDS = ("name", "role", "email", "phone", "dunning", "cc")


def flag(r: Row, column: str) -> bool:
    """yes/no (also true/false, 1/0, x; empty is no)."""
    raw = r.values.get(column, "").strip().lower()
    if raw in YES:
        return True
    if raw not in NO:
        r.fail(column, "yes or no")
    return False


def contact_values(r: Row, known: dict[str, Customer], ctx: Values) -> Values:
    """One row's contact, every cell checked (errors collected on the row)."""
    customer = customer_ref(r, known)
    email = r.text("email", pattern=EMAIL_PATTERN, reason="not an email address")
    if email is not None and email != email.lower():
        ctx["fixes"].append(f"{r.file}:{r.line}: column email: value '{email}' read as lower-case")
        email = email.lower()
    v: Values = {
        "customer": customer,
        "name": r.text("name"),
        "role": r.text("role", max_len=100),
        "email": email,
        "phone": r.text("phone", pattern=PHONE, max_len=40, reason="not a phone number"),
        "dunning": flag(r, "dunning"),
        "cc": flag(r, "cc"),
    }
    if v["dunning"] and v["cc"]:
        r.fail("cc", "the dunning contact gets the notice itself; cc is for the others")
    return v


def check_customer(rows: list[tuple[Row, Values]]) -> None:
    """One customer's rows: no address twice, one dunning contact at most, not too many."""
    seen: dict[str, int] = {}
    dunning: int | None = None
    for n, (r, v) in enumerate(rows, start=1):
        code = v["customer"].code
        if v["email"] in seen:
            r.fail("email", f"customer {code} has this address on row {seen[v['email']]} too")
        elif v["email"]:
            seen[v["email"]] = r.line
        if v["dunning"] and dunning is not None:
            r.fail(
                "dunning",
                f"customer {code} has its dunning contact on row {dunning}; at most one",
            )
        elif v["dunning"]:
            dunning = r.line
        if n == MAX_PER_CUSTOMER + 1:
            r.fail("customer_code", f"more than {MAX_PER_CUSTOMER} contacts for customer {code}")


def plan_contacts(session: Session, rows: list[Row], ctx: Values) -> dict[int, list[Values]]:
    """The file's contacts per customer id (the import stops here when a cell is wrong)."""
    known = customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    per_customer: dict[int, list[tuple[Row, Values]]] = {}
    for r in rows:
        v = contact_values(r, known, ctx)
        if v["customer"] is not None:
            per_customer.setdefault(v["customer"].id, []).append((r, v))
    for found in per_customer.values():
        check_customer(found)
    return {cid: [v for _, v in found] for cid, found in per_customer.items()}


def shown(contact: Any) -> dict[str, Any]:
    """A contact as compared and audited."""
    if isinstance(contact, dict):
        return {k: contact[k] for k in FIELDS}
    return {k: getattr(contact, k) for k in FIELDS}


def import_contacts(
    session: Session, *, path: Path, actor: str, dry_run: bool, ctx: Values
) -> ImportPlan:
    """Validate the whole file, then replace each named customer's contacts (or, dry, say what
    would change). Raises :class:`ImportFailed` listing every bad value."""
    rows, errors = read_rows(path, KIND)
    if errors:
        raise ImportFailed(errors)
    planned = plan_contacts(session, rows, ctx)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: (e.row, e.column)))
    plan = ImportPlan(kind=KIND, file=str(path), rows=len(rows), fixes=ctx["fixes"])
    if not dry_run:
        lock_customers(session, set(planned))
    stored = _stored(session, planned)
    codes = {v["customer"].id: v["customer"].code for vs in planned.values() for v in vs}
    changed: list[tuple[int, list[CustomerContact], list[Values]]] = []
    for cid, wanted in planned.items():
        before = stored.get(cid, [])
        if _compare(plan, codes[cid], before, wanted):
            changed.append((cid, before, wanted))
    if dry_run:
        return plan
    for cid, before, wanted in changed:
        _replace(session, cid, before, wanted)
        audit.record(
            session,
            actor=actor,
            action="import.contacts.replace",
            entity_type="customer",
            entity_id=codes[cid],
            before={"contacts": [shown(c) for c in before]},
            after={"contacts": [shown(v) for v in wanted]},
            reason=f"import of {path.name}",
        )
    session.flush()
    plan.applied = True
    return plan


def _stored(session: Session, planned: Iterable[int]) -> dict[int, list[CustomerContact]]:
    found: dict[int, list[CustomerContact]] = {}
    for c in select_in(
        session,
        select(CustomerContact).order_by(col(CustomerContact.id)),
        col(CustomerContact.customer_id),
        planned,
    ):
        found.setdefault(c.customer_id, []).append(c)
    return found


def _compare(
    plan: ImportPlan, code: str, before: list[CustomerContact], wanted: list[Values]
) -> bool:
    """Sort one customer's contacts into created, updated, unchanged and removed (on ``plan``,
    each as ``CODE address``); whether anything changes."""
    by_email = {c.email: c for c in before}
    changes = False
    for v in wanted:
        key = f"{code} {v['email']}"
        old = by_email.pop(v["email"], None)
        if old is None:
            plan.created.append(key)
        elif shown(old) != shown(v):
            plan.updated.append(key)
        else:
            plan.unchanged.append(key)
            continue
        changes = True
    plan.removed.extend(f"{code} {email}" for email in by_email)
    return changes or bool(by_email)


def _replace(
    session: Session, cid: int, before: list[CustomerContact], wanted: list[Values]
) -> None:
    """Write one customer's contacts: removals and lost dunning flags first (the database
    allows one dunning contact per customer at every moment), then the rest."""
    by_email = {c.email: c for c in before}
    keep = {v["email"] for v in wanted}
    for c in before:
        if c.email not in keep:
            session.delete(c)
        elif c.dunning and not next(v["dunning"] for v in wanted if v["email"] == c.email):
            c.dunning = False
            session.add(c)
    session.flush()
    now = utcnow()
    for v in wanted:
        values = {k: v[k] for k in FIELDS}
        old = by_email.get(v["email"])
        if old is None:
            session.add(CustomerContact(customer_id=cid, **values))
        elif shown(old) != values:
            for k, new in values.items():
                setattr(old, k, new)
            old.updated_at = now
            session.add(old)
