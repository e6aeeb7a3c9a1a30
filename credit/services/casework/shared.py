"""What the collector's pages share: the limits, who works cases, a dunning level's label and
where each currency of a customer stands."""

from __future__ import annotations

from datetime import date
from typing import Any

from credit.app import App
from credit.db.models import DunningAction
from credit.db.models_dunning_items import DunningItemLevel
from credit.domain import dunning, workspace
from credit.domain.money import ZERO, money
from credit.domain.policy import PolicyBody

PER_PAGE = 50
CHUNK = 500  # customers per query of open items, levels or promises
SHOWN = 20  # notes, notices, promises, resolved disputes and steps listed on a case file
DUNNING_HOLD = "dunning:"  # a hold a collections run placed (and releases when paid)
MANUAL_HOLD = "manual:"
HOLD_REASON_MAX = 120
WORKS_CASES = frozenset({workspace.COLLECTOR, workspace.MANAGER})

View = dict[str, Any]  # what a page shows of a row: display-ready values
Key = tuple[int, str]  # (customer id, currency)


def roles_under(app: App, policy: PolicyBody, username: str) -> frozenset[str]:
    """A person's workspace roles under ``policy`` (read in the caller's session)."""
    person = app.directory.get(username)
    if person is None:
        return frozenset()
    return workspace.workspace_roles(
        person.roles,
        approval_roles=[level.role for level in policy.authority.levels],
        committee_roles=policy.policy_change.approver_roles,
    )


def assignable(app: App, policy: PolicyBody) -> list[tuple[str, str]]:
    """Who a case may be assigned to: the directory's collectors and credit managers."""
    return [
        (p.username, p.name)
        for p in app.directory.approvers
        if roles_under(app, policy, p.username) & WORKS_CASES
    ]


def level_label(policy: PolicyBody, level: int) -> str:
    if 0 < level <= len(policy.dunning.levels):
        return policy.dunning_level(level).label
    return "not in dunning" if level == 0 else f"level {level}"


def currency_views(
    policy: PolicyBody,
    items: dict[str, list[dunning.OpenItem]],
    steps: list[DunningAction],
    as_of: date,
    *,
    item_levels: list[DunningItemLevel] | None = None,
) -> list[View]:
    """Per currency: where dunning stands and the open items, each with its own level in the
    current episode (``item_levels``: the customer's item level rows; without them, the highest
    level of the episode's notices that listed the item)."""
    latest: dict[str, DunningAction] = {}
    for a in steps:  # newest first: the first of each currency is where it stands
        latest.setdefault(a.currency, a)
    listed: dict[tuple[str, str], int] = {}
    for a in steps:
        if item_levels is None and a.level > 0 and a.episode == latest[a.currency].episode:
            for number in a.invoice_numbers:
                key = (a.currency, str(number))
                listed[key] = max(listed.get(key, 0), a.level)
    for r in item_levels or []:
        step = latest.get(r.currency)
        if step is not None and step.level > 0 and r.episode == step.episode:
            key = (r.currency, r.item_number)
            listed[key] = max(listed.get(key, 0), r.level)
    out = []
    for cur in sorted(set(items) | set(latest)):
        its = sorted(items.get(cur, []), key=lambda i: (i.due_date, i.number))
        position = dunning.dunning_position(its, as_of)
        step = latest.get(cur)
        level = step.level if step else 0
        out.append(
            {
                "currency": cur,
                "level": level,
                "level_label": level_label(policy, level),
                "last_step_on": step.as_of if step else None,
                "overdue_total": money(position.overdue_total),
                "balance": money(sum((i.open_amount for i in its), ZERO)),
                "oldest_days_overdue": position.oldest_days_overdue,
                "items": [
                    {
                        "number": i.number,
                        "kind": i.kind,
                        "due_date": i.due_date,
                        "open_amount": i.open_amount,
                        "days_overdue": i.days_overdue(as_of),
                        "level": listed.get((cur, i.number), 0),
                        "disputed": i.disputed,
                    }
                    for i in its
                ],  # fmt: skip
            }
        )
    return out
