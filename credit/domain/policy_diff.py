"""What one credit policy version changes against another, in terms a credit committee reads:
scorecard weights and bands, ratings (limits, terms, conditions, review), the authority matrix,
the dunning schedule, order checks and risk rules (with what each severity of signal does to a
rating). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from credit.domain.policy import SEVERITIES, Band, DunningLevel, PolicyBody, Severity, SignalEffect
from credit.domain.policy_diff_profiles import profile_changes
from credit.domain.team import team_changes


@dataclass(frozen=True)
class Change:
    section: str  # scorecard | ratings | authority | dunning | orders | risk | policy
    text: str

    def __str__(self) -> str:
        return f"{self.section}: {self.text}"


def _num(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        normal = value.normalize()
        text = f"{normal:f}"
        if abs(value) >= 1000:
            text = f"{value:,.2f}".rstrip("0").rstrip(".")
        return text
    if isinstance(value, list):
        return ", ".join(_num(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_num(v)}" for k, v in value.items()) or "none"
    return str(value)


def _pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


def _bands(bands: list[Band]) -> str:
    def one(b: Band) -> str:
        low = "-∞" if b.min is None else _num(b.min)
        high = "∞" if b.max is None else _num(b.max)
        return f"[{low}, {high}) {_num(b.points)} pts"

    return "; ".join(one(b) for b in bands)


def _fields(
    before: Any, after: Any, names: list[str], fmt: dict[str, Any] | None = None
) -> list[str]:
    fmt = fmt or {}
    out = []
    for name in names:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            show = fmt.get(name, _num)
            out.append(f"{name.replace('_', ' ')} {show(old)} → {show(new)}")
    return out


def _level_text(lv: DunningLevel) -> str:
    parts = [f"{lv.trigger.value} {lv.days} days", f"by {lv.channel.value}", lv.action.value]
    if lv.fee:
        parts.append("fee " + _num(lv.fee))
    if lv.interest:
        parts.append("interest")
    if lv.attach_statement:
        parts.append("statement of account attached")
    return ", ".join(parts)


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


Key = TypeVar("Key", str, int)
Item = TypeVar("Item")


def _keyed_changes(
    old: dict[Key, Item],
    new: dict[Key, Item],
    *,
    removed: Callable[[Key, Item], str],
    added: Callable[[Key, Item], str],
    changed: Callable[[Key, Item, Item], list[str]],
) -> list[str]:
    """The lines of items compared by key (a level, a factor's name), in the order of the keys."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            out.append(removed(key, old[key]))
        elif key not in old:
            out.append(added(key, new[key]))
        else:
            out += changed(key, old[key], new[key])
    return out


def _changes(section: str, lines: list[str], prefix: str = "") -> list[Change]:
    return [Change(section, prefix + line) for line in lines]


def _policy_changes(old: PolicyBody, new: PolicyBody) -> list[Change]:
    out = []
    if old.name != new.name:
        out.append(Change("policy", f"name '{old.name}' → '{new.name}'"))
    out += _changes("policy", _fields(old, new, ["base_currency", "max_statement_age_months"]))
    return out


def _factor_changes(old: PolicyBody, new: PolicyBody) -> list[str]:
    """The quantitative factors: removed, added, and changed (in the new policy's order)."""
    old_f = {f.name: f for f in old.scorecard.factors}
    new_f = {f.name: f for f in new.scorecard.factors}
    out = [
        f"factor '{old_f[name].label}' removed (weight {_pct(old_f[name].weight)})"
        for name in old_f.keys() - new_f.keys()
    ]
    for name in new_f.keys() - old_f.keys():
        f = new_f[name]
        out.append(
            f"factor '{f.label}' added: {f.metric}, weight {_pct(f.weight)}, "
            f"bands {_bands(f.bands)}"
        )
    for name in [f.name for f in new.scorecard.factors if f.name in old_f]:
        a, b = old_f[name], new_f[name]
        for line in _fields(a, b, ["label", "weight", "metric", "missing"], {"weight": _pct}):
            out.append(f"factor '{b.label}': {line}")
        if a.bands != b.bands:
            out.append(f"factor '{b.label}': bands {_bands(a.bands)} → {_bands(b.bands)}")
    return out


def _qualitative_changes(old: PolicyBody, new: PolicyBody) -> list[str]:
    q_old, q_new = old.scorecard.qualitative, new.scorecard.qualitative
    out = [
        f"qualitative {line}"
        for line in _fields(q_old, q_new, ["weight", "due_hours", "reuse_months"], {"weight": _pct})
    ]
    out += _keyed_changes(
        {f.name: f for f in q_old.factors},
        {f.name: f for f in q_new.factors},
        removed=lambda _, f: f"qualitative factor '{f.label}' removed",
        added=lambda _, f: f"qualitative factor '{f.label}' added, weight {_pct(f.weight)}",
        changed=lambda _, a, b: [
            f"qualitative factor '{b.label}': {line}"
            for line in _fields(a, b, ["label", "weight", "question"], {"weight": _pct})
        ],
    )
    return out


def _scorecard_changes(old: PolicyBody, new: PolicyBody) -> list[Change]:
    lines = _fields(
        old.scorecard,
        new.scorecard,
        ["quantitative_weight", "neutral_points", "penalty_points"],
        {"quantitative_weight": _pct},
    )
    lines += _factor_changes(old, new)
    lines += _qualitative_changes(old, new)
    return _changes("scorecard", lines)


def _rating_changes(old: PolicyBody, new: PolicyBody) -> list[Change]:
    old_r = {r.grade: r for r in [*old.ratings, old.unrated]}
    new_r = {r.grade: r for r in [*new.ratings, new.unrated]}
    out = [f"rating {grade} removed" for grade in old_r.keys() - new_r.keys()]
    for grade in new_r.keys() - old_r.keys():
        r = new_r[grade]
        out.append(
            f"rating {grade} added: from score {_num(r.min_score)}, terms "
            f"{r.terms_days} days, cap {_num(r.limit.cap)}"
        )
    for grade in [r.grade for r in [*new.ratings, new.unrated] if r.grade in old_r]:
        ra, rb = old_r[grade], new_r[grade]
        changes = _fields(
            ra, rb, ["min_score", "terms_days", "conditions", "review", "description"]
        )
        changes += _fields(
            ra.limit,
            rb.limit,
            ["share_of_equity", "share_of_revenue", "cap"],
            {"share_of_equity": _pct, "share_of_revenue": _pct},
        )
        out += [f"rating {grade}: {line.replace('cap ', 'limit cap ', 1)}" for line in changes]
    return _changes("ratings", out)


def _authority_changes(old: PolicyBody, new: PolicyBody) -> list[Change]:
    """The authority matrix's levels and rules, and who publishes a policy."""
    ao, an = old.authority, new.authority
    lines = _keyed_changes(
        {lv.level: lv for lv in ao.levels},
        {lv.level: lv for lv in an.levels},
        removed=lambda level, lv: f"level {level} ({lv.role}) removed",
        added=lambda level, lv: f"level {level} added: {lv.role} up to {_num(lv.up_to)}",
        changed=lambda level, a, b: [
            f"level {level}: {line}" for line in _fields(a, b, ["role", "up_to"])
        ],
    )
    lines += _fields(
        ao,
        an,
        [
            "extra_level_for_ratings",
            "extra_level_above_recommendation",
            "extra_level_for_increase_over",
            "step_due_hours",
        ],
    )
    out = _changes("authority", lines)
    pc_old, pc_new = old.policy_change, new.policy_change
    if pc_old.rereview_on_publish != pc_new.rereview_on_publish:
        out.append(
            Change(
                "policy",
                "existing credit lines are re-reviewed at once on publication"
                if pc_new.rereview_on_publish
                else "existing credit lines keep their terms until their next review",
            )
        )
    if pc_old.approver_roles != pc_new.approver_roles:
        out.append(
            Change(
                "authority",
                f"policy committee {_num(pc_old.approver_roles)} → {_num(pc_new.approver_roles)}",
            )
        )
    return out


def _enum_value(value: Any) -> str:
    return str(value.value)


def _dunning_changes(old: PolicyBody, new: PolicyBody) -> list[Change]:
    do, dn = old.dunning, new.dunning
    lines = _fields(
        do,
        dn,
        [
            "tolerance",
            "interest_annual_rate",
            "min_days_between_levels",
            "promise_grace_days",
            "max_promise_days",
        ],
        {"interest_annual_rate": lambda v: "none" if v is None else _pct(v)},
    )
    lines += _keyed_changes(
        {lv.level: lv for lv in do.levels},
        {lv.level: lv for lv in dn.levels},
        removed=lambda level, lv: f"level {level} ({lv.name}) removed",
        added=lambda level, lv: f"level {level} ({lv.name}) added: {_level_text(lv)}",
        changed=lambda level, a, b: [
            f"level {level} ({b.name}): {line}"
            for line in _fields(a, b, DUNNING_LEVEL_FIELDS, DUNNING_LEVEL_FORMATS)
        ],
    )
    return _changes("dunning", lines)


DUNNING_LEVEL_FIELDS = [
    "name",
    "label",
    "trigger",
    "days",
    "channel",
    "template",
    "action",
    "fee",
    "interest",
    "pay_within_days",
    "attach_statement",
    "min_amount",
]
DUNNING_LEVEL_FORMATS = {
    "trigger": _enum_value,
    "channel": _enum_value,
    "action": _enum_value,
    "attach_statement": _yes_no,
}


def _order_and_risk_changes(old: PolicyBody, new: PolicyBody) -> list[Change]:
    out = _changes(
        "orders",
        _fields(
            old.orders, new.orders, ["max_days_overdue", "release_valid_days", "max_exemption_days"]
        ),
    )
    ro, rn = old.risk.model_dump(), new.risk.model_dump()
    out += [
        Change("risk", f"{key.replace('_', ' ')} {_num(ro.get(key))} → {_num(rn.get(key))}")
        for key in sorted(ro.keys() | rn.keys())
        if key != "effects" and ro.get(key) != rn.get(key)
    ]
    out += _changes("risk", _effects_changes(old.risk.effects, new.risk.effects))
    out += _changes(
        "cash application",
        _fields(old.cash_application, new.cash_application, ["tolerance", "tolerance_pct"]),
    )
    out += _changes(
        "limits",
        _fields(
            old.limits,
            new.limits,
            ["temporary_max_days", "temporary_tell_customer"],
            {"temporary_tell_customer": _yes_no},
        ),
    )
    return out


def diff_policies(old: PolicyBody, new: PolicyBody) -> list[Change]:
    """Every difference between two policy bodies, section by section."""
    return [
        *_policy_changes(old, new),
        *_scorecard_changes(old, new),
        *_rating_changes(old, new),
        *_authority_changes(old, new),
        *_dunning_changes(old, new),
        *_changes("dunning profiles", profile_changes(old, new)),
        *_order_and_risk_changes(old, new),
        *_changes("team", team_changes(old.team, new.team)),
    ]


def _effect_text(effect: SignalEffect) -> str:
    parts = []
    if effect.max_rating is not None:
        parts.append(f"rating capped at {effect.max_rating}")
    if effect.limit_cut_pct:
        parts.append(f"limit cut {_num(effect.limit_cut_pct)}%")
    if effect.conditions:
        parts.append(f"conditions added: {_num(effect.conditions)}")
    return ", ".join(parts) or "no effect"


def _effects_changes(
    old: dict[Severity, SignalEffect], new: dict[Severity, SignalEffect]
) -> list[str]:
    """What each severity's signals do at research: caps, cuts and conditions."""
    out = []
    nothing = SignalEffect()
    for sev in reversed(SEVERITIES):
        a, b = old.get(sev, nothing), new.get(sev, nothing)
        if a == b:
            continue
        if not a.does_something or not b.does_something:
            out.append(f"{sev} signals: {_effect_text(a)} → {_effect_text(b)}")
            continue
        for line in _fields(
            a, b, ["max_rating", "limit_cut_pct", "conditions"],
            {"limit_cut_pct": lambda v: f"{_num(v)}%"},
        ):  # fmt: skip
            add = line.replace("max rating", "rating cap").replace("pct", "")
            out.append(f"{sev} signals: {add.replace('  ', ' ')}")
    return out
