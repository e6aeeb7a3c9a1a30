"""What one policy version changes in the dunning profiles of another: the default, the rules,
each profile added or removed, and a profile's levels, courtesy reminder and minimum amounts.
Pure: no I/O; ``credit.domain.policy_diff`` lists these lines under "dunning profiles"."""

from __future__ import annotations

from typing import Any

from credit.domain.policy import DunningLevel, DunningProfile, PolicyBody


def _text(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return str(value)


def _level_lines(name: str, old: list[DunningLevel], new: list[DunningLevel]) -> list[str]:
    before = {lv.level: lv.model_dump(mode="json") for lv in old}
    after = {lv.level: lv.model_dump(mode="json") for lv in new}
    lines = []
    for level in sorted(before.keys() | after.keys()):
        a, b = before.get(level), after.get(level)
        if b is None:
            lines.append(f"{name}: level {level} ({_text(a and a['name'])}) removed")
        elif a is None:
            lines.append(
                f"{name}: level {level} ({b['name']}) added: {b['trigger']} {b['days']} days"
            )
        else:
            lines += [
                f"{name}: level {level} ({b['name']}): {field.replace('_', ' ')} "
                f"{_text(a[field])} → {_text(b[field])}"
                for field in a
                if a[field] != b[field]
            ]
    return lines


def _profile_lines(name: str, old: DunningProfile, new: DunningProfile) -> list[str]:
    lines = []
    if old.dun != new.dun:
        lines.append(f"{name}: {'dunned again' if new.dun else 'no longer dunned'}")
    if old.courtesy != new.courtesy:

        def words(p: DunningProfile) -> str:
            c = p.courtesy
            if c is None:
                return "none"
            minimum = f", from {_text(c.min_amount)}" if c.min_amount else ""
            return f"{c.days_before_due} days before due{minimum}"

        lines.append(f"{name}: courtesy reminder {words(old)} → {words(new)}")
    if old.levels is None or new.levels is None:
        if (old.levels is None) != (new.levels is None):
            lines.append(
                f"{name}: levels "
                + ("its own" if old.levels else "dunning.levels")
                + " → "
                + ("its own" if new.levels else "dunning.levels")
            )
        return lines
    return lines + _level_lines(name, old.levels, new.levels)


def profile_changes(old: PolicyBody, new: PolicyBody) -> list[str]:
    """The changes to the dunning profiles, one line each."""
    po, pn = old.dunning_profiles, new.dunning_profiles
    lines = []
    if po.default != pn.default:
        lines.append(f"default profile {po.default} → {pn.default}")
    for name in sorted(po.profiles.keys() | pn.profiles.keys()):
        a, b = po.profiles.get(name), pn.profiles.get(name)
        if b is None:
            lines.append(f"profile {name} removed")
        elif a is None:
            what = "not dunned" if not b.dun else f"{len(b.levels or [])} levels of its own"
            lines.append(
                f"profile {name} added: {what}"
                if b.levels or not b.dun
                else f"profile {name} added: the dunning levels"
            )
        else:
            lines += _profile_lines(name, a, b)
    rules_o = [f"{r.describe()} → {r.profile}" for r in po.rules]
    rules_n = [f"{r.describe()} → {r.profile}" for r in pn.rules]
    for number in range(1, max(len(rules_o), len(rules_n)) + 1):
        a_rule = rules_o[number - 1] if number <= len(rules_o) else None
        b_rule = rules_n[number - 1] if number <= len(rules_n) else None
        if a_rule != b_rule:
            lines.append(f"rule {number}: {a_rule or 'none'} ⇒ {b_rule or 'none'}")
    return lines
