"""Dunning profiles: which schedule a customer follows, the policy as that schedule sees it, the
minimum amount a level waits for, and the invoices a courtesy reminder is about. Pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.domain.dunning import INVOICE, OpenItem, describe_level
from credit.domain.money import ZERO, money
from credit.domain.policy import DunningLevel, DunningProfile, PolicyBody
from credit.domain.policy_dunning_profiles import STANDARD, Courtesy


def has_profiles(policy: PolicyBody) -> bool:
    """Whether the policy has a ``dunning_profiles`` section that says anything: without one,
    every customer follows ``dunning.levels`` and nothing names a profile (as before profiles)."""
    section = policy.dunning_profiles
    return bool(section.profiles or section.rules or section.default != STANDARD)


def profiles(policy: PolicyBody) -> dict[str, DunningProfile]:
    """Every profile of the policy by name, ``standard`` (``dunning.levels``) first unless the
    policy redefines it; a profile without levels of its own lists ``dunning.levels``."""
    out = {STANDARD: DunningProfile(levels=list(policy.dunning.levels))}
    for name, profile in policy.dunning_profiles.profiles.items():
        if profile.dun and profile.levels is None:
            profile = profile.model_copy(update={"levels": list(policy.dunning.levels)})
        out[name] = profile
    return out


def choose_profile(
    policy: PolicyBody,
    *,
    country: str,
    rating: str | None,
    segment: str | None,
    assigned: str | None,
) -> tuple[str, str]:
    """(the profile a customer follows, why): the one assigned to it, else the first rule that
    matches its country, its credit line's rating and its segment, else the default. An assigned
    profile the policy no longer has is passed over, and the reason says so."""
    section = policy.dunning_profiles
    note = ""
    if assigned is not None:
        if assigned == STANDARD or assigned in section.profiles:
            return assigned, "assigned to the customer"
        note = f"its assigned profile {assigned} is not in this policy; "
    for number, rule in enumerate(section.rules, 1):
        if rule.matches(country=country, rating=rating, segment=segment):
            return rule.profile, f"{note}rule {number} ({rule.describe()})"
    return section.default, f"{note}the default"


@dataclass(frozen=True)
class Schedule:
    """The schedule a customer follows: its profile's name (None: the policy has no profiles),
    whether it is dunned at all, the policy as that schedule sees it (its levels as
    ``dunning.levels``), and its courtesy reminder."""

    profile: str | None
    dun: bool
    policy: PolicyBody
    courtesy: Courtesy | None = None


def dunning_schedule(policy: PolicyBody, profile: str | None) -> Schedule:
    """The policy with ``profile``'s levels in place of ``dunning.levels`` (None or a policy
    without profiles: the policy itself)."""
    if profile is None or not has_profiles(policy):
        return Schedule(None, True, policy)
    chosen = policy.dunning_profiles.profiles.get(profile)
    if chosen is None:  # standard, not redefined
        return Schedule(profile, True, policy)
    if not chosen.dun:
        return Schedule(profile, False, policy)
    levels = chosen.levels or policy.dunning.levels
    swapped = policy.model_copy(
        update={"dunning": policy.dunning.model_copy(update={"levels": list(levels)})}
    )
    return Schedule(profile, True, swapped, chosen.courtesy)


def below_minimum(step: DunningLevel, currency: str, overdue_total: Decimal) -> str | None:
    """Why ``step`` waits: what is overdue is below the level's minimum in this currency (None:
    it does not wait)."""
    minimum = step.min_amount.get(currency)
    if minimum is None or overdue_total >= minimum:
        return None
    return (
        f"level {step.level} waits: {money(overdue_total)} {currency} overdue is below its "
        f"minimum {money(minimum)} {currency}"
    )


def coming_due(items: list[OpenItem], as_of: date, courtesy: Courtesy) -> list[OpenItem]:
    """The undisputed invoices still open that fall due within ``days_before_due`` days after
    ``as_of`` (not yet due: a courtesy reminder never follows the due date); soonest first."""
    last = as_of + timedelta(days=courtesy.days_before_due)
    return sorted(
        (
            i
            for i in items
            if i.kind == INVOICE and i.open_amount > 0 and not i.disputed
            if as_of < i.due_date <= last
        ),
        key=lambda i: (i.due_date, i.number),
    )


def courtesy_short_of(courtesy: Courtesy, currency: str, items: list[OpenItem]) -> str | None:
    """Why no courtesy reminder goes out for these items: they add up to less than its minimum
    in this currency (None: it goes out)."""
    minimum = courtesy.min_amount.get(currency)
    total = sum((i.open_amount for i in items), ZERO)
    if minimum is None or total >= minimum:
        return None
    return (
        f"courtesy reminder waits: {money(total)} {currency} coming due is below its minimum "
        f"{money(minimum)} {currency}"
    )


def describe_profiles(policy: PolicyBody) -> list[dict[str, str]]:
    """The profiles as a credit manager reads them (``credit policy show``): who follows each,
    its levels in short (with their minimum amounts) and its courtesy reminder; empty for a
    policy without profiles."""
    if not has_profiles(policy):
        return []
    section = policy.dunning_profiles
    out = []
    for name, profile in profiles(policy).items():
        who = [
            f"rule {n}: {rule.describe()}"
            for n, rule in enumerate(section.rules, 1)
            if rule.profile == name
        ]
        if name == section.default:
            who.append("everyone else (default)")
        levels = (
            "; ".join(_level_words(lv) for lv in profile.levels or [])
            if profile.dun
            else "not dunned"
        )
        courtesy = profile.courtesy
        out.append(
            {
                "profile": name,
                "applies_to": "; ".join(who) or "customers assigned to it",
                "levels": levels,
                "courtesy": (
                    f"{courtesy.days_before_due} days before due ({courtesy.template})"
                    + (f", from {_amounts(courtesy.min_amount)}" if courtesy.min_amount else "")
                    if courtesy is not None
                    else "none"
                ),
            }
        )
    return out


def _amounts(amounts: dict[str, Decimal]) -> str:
    return ", ".join(f"{money(a)} {cur}" for cur, a in amounts.items())


def _level_words(lv: DunningLevel) -> str:
    words = f"{lv.level} {lv.name} ({describe_level(lv)['when']}"
    if lv.min_amount:
        words += f"; from {_amounts(lv.min_amount)}"
    return words + ")"


def customer_templates(policy: PolicyBody) -> dict[str, str]:
    """Every template a notice to a customer may use under the policy, whatever the profile:
    template -> where it is named (``level 2 (second_notice)``, ``key_accounts: courtesy``).
    Call levels are left out (their notice goes to the collections team)."""
    found: dict[str, str] = {}
    for name, profile in profiles(policy).items():
        prefix = "" if name == STANDARD else f"profile {name}: "
        for lv in profile.levels or []:
            if lv.channel != "call":
                found.setdefault(lv.template, f"{prefix}dunning level {lv.level} ({lv.name})")
        if profile.courtesy is not None:
            found.setdefault(profile.courtesy.template, f"profile {name}: courtesy reminder")
    return found
