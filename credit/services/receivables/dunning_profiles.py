"""Which dunning profile a customer follows: its settings beside the customer row (an assigned
profile, a segment), the profile the policy's rules give it, and the credit manager's command
that assigns one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import CreditLine, Customer, utcnow
from credit.db.models_dunning_profiles import CustomerDunningProfile
from credit.domain import workspace
from credit.domain.dunning_profiles import (
    Schedule,
    choose_profile,
    dunning_schedule,
    has_profiles,
    profiles,
)
from credit.domain.policy import PolicyBody
from credit.services.casework.shared import roles_under
from credit.services.common import ServiceError, get_customer, known_user, required_text, saved_id

CHUNK = 500


def dunning_settings(s: Session, ids: Iterable[int]) -> dict[int, CustomerDunningProfile]:
    """Customer id -> its dunning settings (customers without any are left out)."""
    wanted = sorted(set(ids))
    found: dict[int, CustomerDunningProfile] = {}
    for i in range(0, len(wanted), CHUNK):
        for row in s.exec(
            select(CustomerDunningProfile).where(
                col(CustomerDunningProfile.customer_id).in_(wanted[i : i + CHUNK])
            )
        ):
            found[row.customer_id] = row
    return found


def profile_of(
    policy: PolicyBody,
    customer: Customer,
    *,
    line: CreditLine | None,
    setting: CustomerDunningProfile | None,
) -> tuple[str | None, str]:
    """(the profile the customer follows, why); (None, "") when the policy has no profiles."""
    if not has_profiles(policy):
        return None, ""
    return choose_profile(
        policy,
        country=customer.country,
        rating=line.rating if line is not None else None,
        segment=setting.segment if setting is not None else None,
        assigned=setting.profile if setting is not None else None,
    )


class ProfileResult(TypedDict):
    customer: str
    profile: str
    before: str | None
    reason: str


def assign_dunning_profile(
    app: App, *, customer_code: str, profile: str, by: str, reason: str
) -> ProfileResult:
    """Assign a dunning profile of the published policy to a customer (it then follows it
    whatever the rules say). Credit managers only; audited."""
    by = known_user(app, by)
    reason = required_text(reason, "the reason", 500)
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        if workspace.MANAGER not in roles_under(app, policy, by):
            raise ServiceError(f"{by} may not assign dunning profiles: credit managers do")
        known = list(profiles(policy))
        if profile not in known:
            raise ServiceError(
                f"dunning profile {profile!r} is not in the published policy (version "
                f"{version}): choose one of {', '.join(known)}"
            )
        customer = get_customer(s, customer_code)
        lock_customer(s, saved_id(customer))
        row = dunning_settings(s, [saved_id(customer)]).get(saved_id(customer))
        before = row.profile if row is not None else None
        if before == profile:
            raise ServiceError(f"{customer.code} follows dunning profile {profile} already")
        if row is None:
            row = CustomerDunningProfile(customer_id=saved_id(customer), set_by=by)
        row.profile, row.set_by, row.reason, row.updated_at = profile, by, reason, utcnow()
        s.add(row)
        audit.record(
            s,
            actor=by,
            action="customer.dunning_profile",
            entity_type="customer",
            entity_id=customer.code,
            before={"dunning_profile": before},
            after={"dunning_profile": profile},
            reason=reason,
            policy_version=version,
        )
        uow.commit()
    return {"customer": customer.code, "profile": profile, "before": before, "reason": reason}


def dunning_profile_view(app: App, s: Session, customer: Customer) -> dict[str, str] | None:
    """What ``credit customers show`` says of the customer's dunning profile (None: the policy
    has no profiles)."""
    _, policy = app.published_policy(s)
    line = s.exec(
        select(CreditLine).where(CreditLine.customer_id == customer.id).order_by(col(CreditLine.id))
    ).first()
    setting = dunning_settings(s, [saved_id(customer)]).get(saved_id(customer))
    name, why = profile_of(policy, customer, line=line, setting=setting)
    if name is None:
        return None
    return {"profile": name, "why": why, "segment": (setting.segment if setting else None) or ""}


ProfileInputs = dict[int, tuple[CreditLine | None, CustomerDunningProfile | None]]


def profile_inputs(s: Session, ids: list[int]) -> ProfileInputs:
    """Customer id -> (its credit line, its dunning settings): what the profile rules read."""
    settings = dunning_settings(s, ids)
    lines: dict[int, CreditLine] = {}
    wanted = sorted(set(ids))
    for i in range(0, len(wanted), CHUNK):
        for line in s.exec(
            select(CreditLine)
            .where(col(CreditLine.customer_id).in_(wanted[i : i + CHUNK]))
            .order_by(col(CreditLine.id))
        ):
            lines.setdefault(line.customer_id, line)
    return {cid: (lines.get(cid), settings.get(cid)) for cid in wanted}


def customer_schedule(policy: PolicyBody, customer: Customer, inputs: ProfileInputs) -> Schedule:
    """The schedule the customer follows under ``policy`` (a back-test compares two)."""
    line, setting = inputs.get(saved_id(customer), (None, None))
    name, _ = profile_of(policy, customer, line=line, setting=setting)
    return dunning_schedule(policy, name)
