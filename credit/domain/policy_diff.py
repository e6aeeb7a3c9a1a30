"""What one credit policy version changes against another, in terms a credit committee reads:
scorecard weights and bands, ratings (limits, terms, conditions, review), the authority matrix,
the dunning schedule, order checks and risk rules (with what each severity of signal does to a
rating). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from credit.domain.policy import SEVERITIES, Band, DunningLevel, PolicyBody, Severity, SignalEffect


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
    return ", ".join(parts)


def diff_policies(old: PolicyBody, new: PolicyBody) -> list[Change]:
    """Every difference between two policy bodies, section by section."""
    out: list[Change] = []

    def add(section: str, text: str) -> None:
        out.append(Change(section, text))

    if old.name != new.name:
        add("policy", f"name '{old.name}' → '{new.name}'")
    for line in _fields(old, new, ["base_currency", "max_statement_age_months"]):
        add("policy", line)

    # Scorecard
    sc_old, sc_new = old.scorecard, new.scorecard
    for line in _fields(
        sc_old, sc_new, ["quantitative_weight", "neutral_points", "penalty_points"],
        {"quantitative_weight": _pct},
    ):  # fmt: skip
        add("scorecard", line)
    old_f = {f.name: f for f in sc_old.factors}
    new_f = {f.name: f for f in sc_new.factors}
    for name in old_f.keys() - new_f.keys():
        add(
            "scorecard", f"factor '{old_f[name].label}' removed (weight {_pct(old_f[name].weight)})"
        )
    for name in new_f.keys() - old_f.keys():
        f = new_f[name]
        add("scorecard", f"factor '{f.label}' added: {f.metric}, weight {_pct(f.weight)}, "
            f"bands {_bands(f.bands)}")  # fmt: skip
    for name in [f.name for f in sc_new.factors if f.name in old_f]:
        a, b = old_f[name], new_f[name]
        for line in _fields(a, b, ["label", "weight", "metric", "missing"], {"weight": _pct}):
            add("scorecard", f"factor '{b.label}': {line}")
        if a.bands != b.bands:
            add("scorecard", f"factor '{b.label}': bands {_bands(a.bands)} → {_bands(b.bands)}")
    q_old, q_new = sc_old.qualitative, sc_new.qualitative
    for line in _fields(q_old, q_new, ["weight", "due_hours", "reuse_months"], {"weight": _pct}):
        add("scorecard", f"qualitative {line}")
    oq = {f.name: f for f in q_old.factors}
    nq = {f.name: f for f in q_new.factors}
    for name in sorted(oq.keys() | nq.keys()):
        if name not in nq:
            add("scorecard", f"qualitative factor '{oq[name].label}' removed")
        elif name not in oq:
            add("scorecard", f"qualitative factor '{nq[name].label}' added, weight "
                f"{_pct(nq[name].weight)}")  # fmt: skip
        else:
            for line in _fields(
                oq[name], nq[name], ["label", "weight", "question"], {"weight": _pct}
            ):
                add("scorecard", f"qualitative factor '{nq[name].label}': {line}")

    # Ratings
    old_r = {r.grade: r for r in [*old.ratings, old.unrated]}
    new_r = {r.grade: r for r in [*new.ratings, new.unrated]}
    for grade in old_r.keys() - new_r.keys():
        add("ratings", f"rating {grade} removed")
    for grade in new_r.keys() - old_r.keys():
        r = new_r[grade]
        add("ratings", f"rating {grade} added: from score {_num(r.min_score)}, terms "
            f"{r.terms_days} days, cap {_num(r.limit.cap)}")  # fmt: skip
    for grade in [r.grade for r in [*new.ratings, new.unrated] if r.grade in old_r]:
        ra, rb = old_r[grade], new_r[grade]
        changes = _fields(
            ra, rb, ["min_score", "terms_days", "conditions", "review", "description"]
        )
        changes += _fields(
            ra.limit, rb.limit, ["share_of_equity", "share_of_revenue", "cap"],
            {"share_of_equity": _pct, "share_of_revenue": _pct},
        )  # fmt: skip
        for line in changes:
            add("ratings", f"rating {grade}: {line.replace('cap ', 'limit cap ', 1)}")

    # Authority matrix
    ao, an = old.authority, new.authority
    old_l = {lv.level: lv for lv in ao.levels}
    new_l = {lv.level: lv for lv in an.levels}
    for level in sorted(old_l.keys() | new_l.keys()):
        if level not in new_l:
            add("authority", f"level {level} ({old_l[level].role}) removed")
        elif level not in old_l:
            add("authority", f"level {level} added: {new_l[level].role} up to "
                f"{_num(new_l[level].up_to)}")  # fmt: skip
        else:
            for line in _fields(old_l[level], new_l[level], ["role", "up_to"]):
                add("authority", f"level {level}: {line}")
    for line in _fields(
        ao, an, ["extra_level_for_ratings", "extra_level_above_recommendation",
                 "extra_level_for_increase_over", "step_due_hours"],
    ):  # fmt: skip
        add("authority", line)
    if old.policy_change.rereview_on_publish != new.policy_change.rereview_on_publish:
        add(
            "policy",
            "existing credit lines are re-reviewed at once on publication"
            if new.policy_change.rereview_on_publish
            else "existing credit lines keep their terms until their next review",
        )
    if old.policy_change.approver_roles != new.policy_change.approver_roles:
        add("authority", f"policy committee {_num(old.policy_change.approver_roles)} → "
            f"{_num(new.policy_change.approver_roles)}")  # fmt: skip

    # Dunning
    do, dn = old.dunning, new.dunning
    for line in _fields(
        do, dn, ["tolerance", "interest_annual_rate", "min_days_between_levels",
                 "promise_grace_days", "max_promise_days"],
        {"interest_annual_rate": lambda v: "none" if v is None else _pct(v)},
    ):  # fmt: skip
        add("dunning", line)
    old_d = {lv.level: lv for lv in do.levels}
    new_d = {lv.level: lv for lv in dn.levels}
    for level in sorted(old_d.keys() | new_d.keys()):
        if level not in new_d:
            add("dunning", f"level {level} ({old_d[level].name}) removed")
        elif level not in old_d:
            lv = new_d[level]
            add("dunning", f"level {level} ({lv.name}) added: {_level_text(lv)}")
        else:
            da, db = old_d[level], new_d[level]
            for line in _fields(
                da, db, ["name", "label", "trigger", "days", "channel", "template", "action",
                       "fee", "interest", "pay_within_days"],
                {"trigger": lambda v: v.value, "channel": lambda v: v.value,
                 "action": lambda v: v.value},
            ):  # fmt: skip
                add("dunning", f"level {level} ({db.name}): {line}")

    for line in _fields(old.orders, new.orders, ["max_days_overdue"]):
        add("orders", line)
    ro, rn = old.risk.model_dump(), new.risk.model_dump()
    for key in sorted(ro.keys() | rn.keys()):
        if key != "effects" and ro.get(key) != rn.get(key):
            add("risk", f"{key.replace('_', ' ')} {_num(ro.get(key))} → {_num(rn.get(key))}")
    for line in _effects_changes(old.risk.effects, new.risk.effects):
        add("risk", line)
    return out


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
