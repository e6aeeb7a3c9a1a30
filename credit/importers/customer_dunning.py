"""The customers file's dunning columns: ``dunning_profile`` (a profile of the published policy
the customer follows whatever the rules say; empty: none assigned, the rules decide) and
``segment`` (what profile rules may match; empty: none). They live beside the customer row
(``customer_dunning_profile``): a file without a column leaves that setting as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from credit import audit
from credit.db.models import CreditPolicy, Customer, PolicyStatus, utcnow
from credit.db.models_dunning_profiles import CustomerDunningProfile
from credit.domain.dunning_profiles import profiles
from credit.domain.policy import PolicyBody
from credit.importers.rows import ImportPlan, Row, Values

COLUMNS = ("dunning_profile", "segment")
SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}"
SETTINGS = "dunning"  # where the planner keeps a file's settings (code -> column -> value)


def _known_profiles(session: Session, ctx: Values) -> list[str]:
    if "dunning_profiles" not in ctx:
        row = session.exec(
            select(CreditPolicy).where(CreditPolicy.status == PolicyStatus.PUBLISHED)
        ).first()
        ctx["dunning_profiles"] = (
            list(profiles(PolicyBody.model_validate(row.body))) if row is not None else []
        )
    known: list[str] = ctx["dunning_profiles"]
    return known


def plan_dunning_columns(session: Session, r: Row, code: object, ctx: Values) -> None:
    """Read the row's dunning columns (those the file has) into the plan's settings."""
    present = [c for c in COLUMNS if c in r.values]
    if not present or not isinstance(code, str):
        return
    wanted: dict[str, str | None] = {}
    if "dunning_profile" in present:
        profile = r.text("dunning_profile", max_len=40)
        known = _known_profiles(session, ctx)
        if profile is not None and profile not in known:
            r.fail(
                "dunning_profile",
                f"not a dunning profile of the published policy ({', '.join(known)})",
            )
        wanted["profile"] = profile
    if "segment" in present:
        raw = r.text("segment", pattern=SEGMENT, reason="letters, digits, _ and - only (max 40)")
        wanted["segment"] = raw.lower() if raw is not None else None
    ctx.setdefault(SETTINGS, {})[code] = wanted


@dataclass(frozen=True)
class SettingChange:
    code: str
    before: dict[str, Any]
    after: dict[str, Any]


def dunning_changes(session: Session, ctx: Values, plan: ImportPlan) -> list[SettingChange]:
    """The settings the file changes; a customer whose row is otherwise unchanged counts as
    updated (in a dry run too)."""
    wanted: dict[str, dict[str, Any]] = ctx.get(SETTINGS, {})
    if not wanted:
        return []
    stored = _stored(session, list(wanted))
    changes = []
    for code, values in wanted.items():
        row = stored.get(code)
        before = {k: getattr(row, k) if row is not None else None for k in values}
        if before != values:
            changes.append(SettingChange(code, before, values))
            if code in plan.unchanged:
                plan.unchanged.remove(code)
                plan.updated.append(code)
    return changes


def _stored(session: Session, codes: list[str]) -> dict[str, CustomerDunningProfile]:
    found: dict[str, CustomerDunningProfile] = {}
    for i in range(0, len(codes), 500):
        for code, row in session.exec(
            select(Customer.code, CustomerDunningProfile)
            .join(CustomerDunningProfile, col(CustomerDunningProfile.customer_id) == Customer.id)
            .where(col(Customer.code).in_(codes[i : i + 500]))
        ):
            found[code] = row
    return found


def write_dunning_settings(
    session: Session, changes: list[SettingChange], *, actor: str, path: Path
) -> None:
    """Store the changed settings (after the customers are written), audited per customer."""
    if not changes:
        return
    session.flush()
    codes = [c.code for c in changes]
    ids: dict[str, int] = {}
    for c in session.exec(select(Customer).where(col(Customer.code).in_(codes))):
        assert c.id is not None  # flushed above
        ids[c.code] = c.id
    stored = _stored(session, codes)
    for change in changes:
        row = stored.get(change.code) or CustomerDunningProfile(
            customer_id=ids[change.code], set_by=actor
        )
        for k, v in change.after.items():
            setattr(row, k, v)
        row.set_by, row.reason, row.updated_at = actor, f"import of {path.name}", utcnow()
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="customer.dunning_profile",
            entity_type="customer",
            entity_id=change.code,
            before={f"dunning_{k}" if k == "profile" else k: v for k, v in change.before.items()},
            after={f"dunning_{k}" if k == "profile" else k: v for k, v in change.after.items()},
            reason=f"import of {path.name}",
        )
