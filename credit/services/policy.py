"""The credit policy lifecycle: propose, committee approval, publication."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import func
from sqlmodel import select

from credit import audit
from credit.app import App
from credit.config import load_policy_file
from credit.db.models import (
    CreditPolicy,
)
from credit.domain.dunning_profiles import customer_templates
from credit.domain.policy_diff import diff_policies
from credit.services import followups
from credit.services.approval_chain.subjects.policy_version import (
    advance_policy,
    advance_policy_in,
    policy_changes,
)
from credit.services.common import ServiceError, person_email
from credit.services.setup import new_policy_row


class VersionStatus(TypedDict):
    version: int
    status: str


class PolicyChange(TypedDict):
    section: str
    text: str


# "from" is a keyword: the functional form.
PolicyDiff = TypedDict(
    "PolicyDiff", {"from": VersionStatus, "to": VersionStatus, "changes": list[PolicyChange]}
)


class PolicyVersionView(TypedDict):
    """A stored policy version as written, with its risk effects and dunning schedule in words."""

    risk_effects: list[dict[str, Any]]
    effects_lookback_days: int
    dunning_levels: list[dict[str, Any]]
    dunning_profiles: list[dict[str, str]]  # empty: one schedule for everyone
    version: int
    name: str
    status: str
    proposed_by: str
    reason: str
    sha256: str
    published_at: str | None
    body: dict[str, Any]


__all__ = [
    "PolicyDiff",
    "PolicyVersionView",
    "advance_policy",
    "policy_changes",
    "policy_diff",
    "policy_view",
    "propose_policy",
]


def propose_policy(app: App, *, path: Path, by: str, reason: str, as_of: date | None = None) -> int:
    """Store a new policy version as a draft (validated first: an invalid file changes nothing)
    and route it to the committee. The draft is first back-tested on the stored history of the 90
    days to ``as_of`` (default: today; read only) and the approvers' notices carry the result."""
    person_email(app, by)
    body = load_policy_file(path)
    missing = [
        f"dunning level {lv.level} ({lv.name}): template {lv.template!r}"
        for lv in body.dunning.levels
        if not app.renderer.has_template(lv.template)
    ] + [  # the other profiles' levels and courtesy reminders
        f"{where}: template {template!r}"
        for template, where in customer_templates(body).items()
        if not app.renderer.has_template(template) and not where.startswith("dunning level")
    ]
    if missing:
        raise ServiceError(f"{path}: no notice template for " + "; ".join(missing))
    if body.base_currency != app.settings.base_currency:
        raise ServiceError(
            f"{path}: base_currency {body.base_currency} differs from CREDIT_BASE_CURRENCY="
            f"{app.settings.base_currency}"
        )
    with app.uow() as uow:
        s = uow.session
        latest = s.exec(select(func.max(CreditPolicy.version))).one() or 0
        current_version, _ = app.published_policy(s)
        row = new_policy_row(body, version=latest + 1, proposed_by=by, reason=reason)
        row.based_on_version = current_version
        s.add(row)
        s.flush()
        audit.record(
            s,
            actor=by,
            action="policy.propose",
            entity_type="credit_policy",
            entity_id=row.version,
            after={
                "version": row.version,
                "status": row.status,
                "sha256": row.body_sha256,
                "file": str(path),
            },
            reason=reason,
        )
        from credit.services.backtest import backtest_summary, shadow_run, span

        day = as_of or app.settings.today()
        _, live = app.published_policy(s)
        result = shadow_run(s, live, body, span(day - timedelta(days=90), day, 30))
        summary = backtest_summary({"version": row.version, **result})
        advance_policy_in(app, s, row, summary)  # routed to the committee in the same transaction
        followups.enqueue(  # its notices delivered, the back-test kept as a flow artifact
            s,
            followups.FollowUpSpec(
                followups.FollowUpKind.POLICY,
                f"policy:{row.version}:proposed",
                {"version": row.version},
            ),
            as_of=day,
            by=by,
        )
        uow.commit()
        return row.version


def policy_diff(
    app: App, *, from_version: int | None = None, to_version: int | None = None
) -> PolicyDiff:
    """The changes between two stored versions: by default from the published one to the newest
    (usually the draft in approval)."""
    with app.uow() as uow:
        s = uow.session
        versions = {r.version: r for r in s.exec(select(CreditPolicy))}
        published, _ = app.published_policy(s)
        start = published if from_version is None else from_version
        end = max(versions) if to_version is None else to_version
        for side, v in (("from", start), ("to", end)):
            if v not in versions:
                raise ServiceError(
                    f"the version to compare {side}: no policy version {v} "
                    f"(versions: {', '.join(map(str, sorted(versions)))})"
                )
        if start == end:
            raise ServiceError(
                f"both sides of the comparison are version {start}: nothing to compare "
                "(propose a new version first, or name two versions)"
            )
        changes = diff_policies(app.policy_body(versions[start]), app.policy_body(versions[end]))
        return {
            "from": {"version": start, "status": versions[start].status},
            "to": {"version": end, "status": versions[end].status},
            "changes": [{"section": c.section, "text": c.text} for c in changes],
        }


def policy_view(app: App, *, version: int | None) -> PolicyVersionView:
    """A stored version as written, plus its dunning schedule in words (any version: older ones
    are read through the current schema)."""
    from credit.domain.dunning import describe_level
    from credit.domain.dunning_profiles import describe_profiles
    from credit.domain.policy import SEVERITIES

    with app.uow(read_only=True) as uow:
        s = uow.session
        if version is None:
            version, _ = app.published_policy(s)
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None:
            versions = sorted(s.exec(select(CreditPolicy.version)))
            raise ServiceError(
                f"no policy version {version} (versions: {', '.join(map(str, versions))})"
            )
        body = app.policy_body(row)
        return {
            "risk_effects": [
                {
                    "severity": sev,
                    "max_rating": effect.max_rating,
                    "limit_cut_pct": effect.limit_cut_pct,
                    "conditions": list(effect.conditions),
                }
                for sev in reversed(SEVERITIES)  # the gravest first
                if (effect := body.risk.effects.get(sev)) is not None
            ],
            "effects_lookback_days": body.risk.effects_lookback_days,
            "dunning_levels": [
                {"level": lv.level, "name": lv.name, "label": lv.label, **describe_level(lv)}
                for lv in body.dunning.levels
            ],
            "dunning_profiles": describe_profiles(body),
            "version": row.version,
            "name": row.name,
            "status": row.status,
            "proposed_by": row.proposed_by,
            "reason": row.reason,
            "sha256": row.body_sha256,
            "published_at": row.published_at.isoformat() if row.published_at else None,
            "body": row.body,
        }
