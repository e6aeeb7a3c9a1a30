"""Back-testing a draft policy (a shadow run): what the draft would have decided on the stored
history, next to what the live policy decided, without sending or changing anything.

- Ratings, limits, terms and conditions: each customer's latest completed assessment as of each
  date is scored again from its stored snapshot under the live policy and under the draft (the
  analyst's qualitative ratings are reused; a draft that asks for other qualitative factors
  cannot rate the customer), so that only the policy differs. Each policy's ``risk.effects``
  apply to the signals in force the snapshot kept (an assessment older than effects: the
  signals its research found).
- Dunning: each customer's position per currency on each date, and the level the draft's schedule
  would have reached by then (its ``after_due`` levels; a level triggered by the previous one is
  counted as reached once its predecessor is), next to the live schedule's; holds follow. Each
  policy's dunning profiles apply: the schedule is the one the customer follows under it (by
  assignment, rule or default; a customer not dunned reaches no level), named in the row.
Everything runs in a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import CreditAssessment, CreditPolicy, Customer
from credit.domain import dunning, scoring
from credit.domain.dunning_profiles import Schedule, below_minimum
from credit.domain.money import ZERO, money
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import DunningTrigger, PolicyBody
from credit.domain.snapshot import facts_from_snapshot
from credit.services.common import ServiceError, saved_id
from credit.services.ledger import open_items, rate_table
from credit.services.receivables.dunning_profiles import customer_schedule, profile_inputs


class Decided(TypedDict):
    """What a policy decides of a stored assessment's snapshot."""

    score: str
    rating: str
    limit: str
    terms_days: int
    conditions: list[str]
    risk_effects: str


class ShadowRun(TypedDict):
    """The customers whose decision would change, the dunning differences (both by date) and
    each date's totals under either policy."""

    decisions: list[dict[str, Any]]
    dunning: list[dict[str, Any]]
    totals: list[dict[str, Any]]


class BacktestResult(ShadowRun):
    version: int
    against: int


def decision_under(a: CreditAssessment, policy: PolicyBody) -> Decided:
    """Rating, limit, terms and conditions a policy gives a stored assessment's snapshot."""
    facts = facts_from_snapshot(a.inputs)
    result = scoring.score_customer(facts, a.as_of, policy)
    qualitative = None
    if policy.scorecard.qualitative.weight > 0:
        scores = {
            f["name"]: Decimal(str(f["score"])) for f in (a.qualitative or {}).get("factors", [])
        }
        try:
            qualitative, _ = scoring.score_qualitative(scores, policy)
        except (ValueError, KeyError):
            qualitative = None
    if policy.scorecard.qualitative.weight > 0 and qualitative is None:
        grade = policy.unrated.grade
        total = result.total
    else:
        total = scoring.combined_score(result.total, qualitative, policy)
        grade = scoring.rate_combined(result, total, policy)
    from credit.services.research import recommend_with_signals

    # the policy's risk effects of the snapshot's signals in force, and limits in the
    # customer's currency at the research date's rate, as the live decision had them
    rec, risk = recommend_with_signals(grade, a.inputs, as_of=a.as_of, facts=facts, policy=policy)
    return {
        "score": str(total.quantize(Decimal("0.01"))),
        "rating": rec.rating,
        "limit": str(money(rec.limit)),
        "terms_days": rec.terms_days,
        "conditions": list(rec.conditions),
        "risk_effects": risk.summary,
    }


def schedule_level(position: dunning.DunningPosition, as_of: date, policy: PolicyBody) -> int:
    """The level a schedule reaches by ``as_of`` for a position (0: none)."""
    reference = position.reference_due_date or position.oldest_due_date
    if position.overdue_total <= policy.dunning.tolerance or reference is None:
        return 0
    days = (as_of - reference).days
    level = 0
    for lv in policy.dunning.levels:
        if lv.trigger == DunningTrigger.AFTER_DUE and days >= lv.days:
            level = lv.level
        elif lv.trigger != DunningTrigger.AFTER_DUE and level == lv.level - 1 and level > 0:
            # reached once its predecessor is, when the predecessor is due long enough before
            previous = policy.dunning_level(level)
            since = days - (previous.days if previous.trigger == DunningTrigger.AFTER_DUE else 0)
            if since >= lv.days:
                level = lv.level
    return level


def _level_under(
    items: list[dunning.OpenItem], day: date, schedule: Schedule, currency: str
) -> int:
    """The level a customer's schedule reaches by ``day`` (0 for a customer not dunned); a level
    whose minimum amount the overdue total does not reach is not reached."""
    if not schedule.dun:
        return 0
    policy = schedule.policy
    position = dunning.dunning_position(items, day, policy.dunning.tolerance)
    level = schedule_level(position, day, policy)
    while level > 0 and below_minimum(
        policy.dunning_level(level), currency, position.overdue_total
    ):
        level -= 1
    return level


def _profiles(live: Schedule, draft: Schedule) -> dict[str, str | None]:
    """The profiles either policy has the customer follow (nothing for policies without)."""
    if live.profile is None and draft.profile is None:
        return {}
    return {"live_profile": live.profile, "draft_profile": draft.profile}


def _holds(level: int, policy: PolicyBody) -> bool:
    return any(
        lv.action == DunningActionKind.CREDIT_HOLD and lv.level <= level
        for lv in policy.dunning.levels
    )


def backtest(app: App, *, version: int, dates: list[date]) -> BacktestResult:
    """The draft ``version`` against the published policy on each of ``dates``."""
    if not dates:
        raise ServiceError("give at least one date to back-test on")
    with app.uow() as uow:
        s = uow.session
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None:
            raise ServiceError(f"no policy version {version}")
        live_version, live = app.published_policy(s)
        draft = app.policy_body(row)
        result = shadow_run(s, live, draft, sorted(set(dates)))
        uow.rollback()  # a shadow run: nothing it touched stays
    return {"version": version, "against": live_version, **result}


def shadow_run(s: Session, live: PolicyBody, draft: PolicyBody, dates: list[date]) -> ShadowRun:
    customers = list(s.exec(select(Customer).order_by(col(Customer.code))))
    rates = rate_table(s, live.base_currency)
    decisions: list[dict[str, Any]] = []
    levels: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    inputs = profile_inputs(s, [saved_id(c) for c in customers])  # who follows which profile
    for day in dates:
        in_dunning = {"live": 0, "draft": 0}
        holds = {"live": 0, "draft": 0}
        notices = {"live": 0, "draft": 0}
        exposure = ZERO
        for c in customers:
            live_s, draft_s = (customer_schedule(p, c, inputs) for p in (live, draft))
            a = s.exec(
                select(CreditAssessment)
                .where(
                    CreditAssessment.customer_id == c.id,
                    CreditAssessment.as_of <= day,
                    col(CreditAssessment.rating).is_not(None),
                )
                .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
            ).first()
            if a is not None:
                # Both policies score the same stored snapshot: only the policy differs.
                old = decision_under(a, live)
                new = decision_under(a, draft)
                changed = [
                    k for k in ("rating", "limit", "terms_days", "conditions") if old[k] != new[k]
                ]
                if changed:
                    decisions.append(
                        {
                            "date": day.isoformat(),
                            "customer": c.code,
                            "assessment": a.id,
                            "assessed_on": a.as_of.isoformat(),
                            "changed": changed,
                            "live": old,
                            "draft": new,
                        }  # fmt: skip
                    )
            for currency, items in open_items(s, saved_id(c), day).items():
                found = rates.lookup(currency, day)
                if found is not None:
                    exposure += sum((i.open_amount for i in items), ZERO) * found[0]
                lv, dv = (_level_under(items, day, sched, currency) for sched in (live_s, draft_s))
                for key, value, policy in (
                    ("live", lv, live_s.policy),
                    ("draft", dv, draft_s.policy),
                ):
                    in_dunning[key] += value > 0
                    holds[key] += _holds(value, policy)
                    notices[key] += value  # one notice per level reached
                if lv != dv or _holds(lv, live_s.policy) != _holds(dv, draft_s.policy):
                    levels.append(
                        {
                            "date": day.isoformat(),
                            "customer": c.code,
                            "currency": currency,
                            "live_level": lv,
                            "draft_level": dv,
                            "live_hold": _holds(lv, live_s.policy),
                            "draft_hold": _holds(dv, draft_s.policy),
                            **_profiles(live_s, draft_s),
                        }  # fmt: skip
                    )
        totals.append(
            {
                "date": day.isoformat(),
                f"exposure_{live.base_currency}": str(money(exposure)),
                "customers_in_dunning": in_dunning,
                "holds": holds,
                "notices_to_date": notices,
            }  # fmt: skip
        )
    return {"decisions": decisions, "dunning": levels, "totals": totals}


def span(start: date, end: date, every_days: int) -> list[date]:
    """``start``, every ``every_days`` after it, and ``end``."""
    if end < start:
        raise ServiceError(
            f"the back-test's last date {end.isoformat()} is before its first {start.isoformat()}"
        )
    out, day = [], start
    while day < end:
        out.append(day)
        day += timedelta(days=every_days)
    return [*out, end]


def backtest_summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """What an approver reads: the customers whose decision would change, the dunning
    differences and the totals on the last date."""
    latest: dict[str, dict[str, Any]] = {}
    for d in result["decisions"]:
        latest[d["customer"]] = d  # dates ascend: the last one wins
    last = result["totals"][-1]
    return {
        "dates": [t["date"] for t in result["totals"]],
        "decisions": [
            {
                "customer": d["customer"],
                "rating": f"{d['live']['rating']} → {d['draft']['rating']}",
                "limit": f"{d['live']['limit']} → {d['draft']['limit']}",
                "terms": f"{d['live']['terms_days']} → {d['draft']['terms_days']} days",
            }
            for d in latest.values()
        ],
        "dunning_differences": len(result["dunning"]),
        "last": last,
    }
