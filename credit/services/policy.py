"""The credit policy lifecycle: propose, committee approval, publication."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.config import load_policy_file
from credit.db.models import (
    CreditLine,
    CreditPolicy,
    Customer,
    Decision,
    PolicyStatus,
    utcnow,
)
from credit.domain.money import ZERO
from credit.domain.policy import PolicyBody
from credit.domain.policy_diff import diff_policies
from credit.services.approvals import Progress, _assign, _create_steps, _steps, lock_subject
from credit.services.common import SUBJECT_POLICY, ServiceError, person_email
from credit.services.setup import new_policy_row
from credit.services.views import step_view


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
        _advance_policy_in(app, s, row, summary)  # routed to the committee in the same transaction
        uow.commit()
        return row.version


def advance_policy(app: App, *, version: int, backtest: dict[str, Any] | None = None) -> Progress:
    """Route a draft policy to the committee the published policy names; publish it once every
    member approved (retiring the previous version); report a rejection. Safe to repeat.
    ``backtest`` (a summary of the shadow run) goes into the approval notices."""
    with app.uow() as uow:
        s = uow.session
        lock_subject(s, SUBJECT_POLICY, version)
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None:
            raise ServiceError(f"no policy version {version}")
        progress = _advance_policy_in(app, s, row, backtest)
        uow.commit()
        return progress


def _rereview_all(app: App, s: Session, row: CreditPolicy) -> list[str]:
    """The new version says existing lines are re-reviewed at once: flag every line's customer
    (the next periodic review run re-assesses them under the new version)."""
    today = app.settings.today()
    flagged = []
    for customer, _ in s.exec(
        select(Customer, CreditLine).join(
            CreditLine, col(CreditLine.customer_id) == col(Customer.id)
        )
    ):
        if customer.review_flagged_on is None:
            customer.review_flagged_on = today
            customer.review_flag_reason = (
                f"policy version {row.version} published: re-review at once"
            )
            s.add(customer)
            flagged.append(customer.code)
    if flagged:
        audit.record(
            s,
            actor="system",
            action="policy.rereview",
            entity_type="credit_policy",
            entity_id=row.version,
            after={"flagged": flagged},
            reason="the new version asks for every credit line to be re-reviewed at once",
            policy_version=row.version,
        )
    return sorted(flagged)


def _advance_policy_in(
    app: App, s: Session, row: CreditPolicy, backtest: dict[str, Any] | None = None
) -> Progress:
    """The committee chain's next step for a policy version, inside the caller's transaction."""
    version = row.version
    current_version, current = app.published_policy(s)
    now = utcnow()
    steps = _steps(s, SUBJECT_POLICY, version)
    if row.status == PolicyStatus.DRAFT:
        chain = [
            (i + 1, role, None, f"policy change needs {role}")
            for i, role in enumerate(current.policy_change.approver_roles)
        ]
        steps = _create_steps(
            app,
            s,
            subject=SUBJECT_POLICY,
            subject_id=version,
            chain=chain,
            requester=row.proposed_by,
            amount=ZERO,
            due_hours=current.authority.step_due_hours,
            now=now,
        )
        row.status = PolicyStatus.IN_APPROVAL
        s.add(row)
        audit.record(
            s,
            actor="system",
            action="policy.route",
            entity_type="credit_policy",
            entity_id=version,
            before={"status": "draft"},
            after={"status": "in_approval", "roles": [c[1] for c in chain]},
            policy_version=current_version,
        )
    progress = Progress(SUBJECT_POLICY, version, row.status)
    ctx = {
        "policy": {
            "version": row.version,
            "name": row.name,
            "proposed_by": row.proposed_by,
            "reason": row.reason,
            "sha256": row.body_sha256,
        },
        "current_version": current_version,
        "changes": policy_changes(current, app.policy_body(row)),
        "steps": [step_view(st) for st in steps],
        "backtest": backtest,
    }
    if row.status == PolicyStatus.IN_APPROVAL:
        rejected = next((st for st in steps if st.decision == Decision.REJECTED), None)
        if rejected is not None:
            row.status = PolicyStatus.REJECTED
            s.add(row)
            audit.record(
                s,
                actor=rejected.decided_by or "system",
                action="policy.reject",
                entity_type="credit_policy",
                entity_id=version,
                before={"status": "in_approval"},
                after={"status": "rejected"},
                reason=rejected.comment or "",
                policy_version=current_version,
            )
            notices.enqueue(
                s,
                app.renderer,
                key=f"policy-rejected:{version}",
                kind="policy_rejected",
                locale="en",
                recipients=[person_email(app, row.proposed_by)],
                context={**ctx, "rejection": step_view(rejected)},
            )
        elif all(st.decision == Decision.APPROVED for st in steps) and (
            row.based_on_version not in (None, current_version)
        ):
            # Another version was published since this one was proposed: publishing it now
            # would silently undo that version's changes.
            row.status = PolicyStatus.REJECTED
            s.add(row)
            audit.record(
                s,
                actor="system",
                action="policy.reject",
                entity_type="credit_policy",
                entity_id=version,
                before={"status": "in_approval", "based_on_version": row.based_on_version},
                after={"status": "rejected"},
                reason=f"version {current_version} was published after this proposal; propose "
                "the change again against it",
                policy_version=current_version,
            )
            notices.enqueue(
                s,
                app.renderer,
                key=f"policy-rejected:{version}",
                kind="policy_rejected",
                locale="en",
                recipients=[person_email(app, row.proposed_by)],
                context={
                    **ctx,
                    "rejection": {
                        "level": 0,
                        "role": "system",
                        "approver": None,
                        "decided_by": "system",
                        "decision": "rejected",
                        "comment": f"version {current_version} was published after this proposal "
                        f"(based on version {row.based_on_version}); propose the change again "
                        "against the published version",
                        "reason": "superseded",
                        "due_at": "",
                        "decided_at": "",
                        "id": 0,
                    },
                },
            )
        elif all(st.decision == Decision.APPROVED for st in steps):
            old = s.exec(select(CreditPolicy).where(CreditPolicy.version == current_version)).one()
            old.status, old.retired_at = PolicyStatus.RETIRED, now
            row.status, row.published_at = PolicyStatus.PUBLISHED, now
            s.add(old)
            s.add(row)
            audit.record(
                s,
                actor="system",
                action="policy.publish",
                entity_type="credit_policy",
                entity_id=version,
                before={"published_version": current_version},
                after={"published_version": version, "sha256": row.body_sha256},
                reason="approved by " + ", ".join(st.decided_by or "" for st in steps),
                policy_version=version,
            )
            new_body = app.policy_body(row)
            rereview = (
                _rereview_all(app, s, row) if new_body.policy_change.rereview_on_publish else []
            )
            # Credit, collections and sales (every sales owner of a customer with a line) hear of
            # it with the list of changes.
            sales = sorted(
                {
                    c.sales_owner_email
                    for c, _ in s.exec(
                        select(Customer, CreditLine).join(
                            CreditLine, col(CreditLine.customer_id) == col(Customer.id)
                        )
                    )
                }
            )
            notices.enqueue(
                s,
                app.renderer,
                key=f"policy-published:{version}",
                kind="policy_published",
                locale="en",
                recipients=[app.directory.teams.credit, app.directory.teams.collections, *sales],
                context={
                    **ctx,
                    "approvers": [st.decided_by for st in steps],
                    "rereview": rereview,
                },
            )
        else:
            deciders = {st.decided_by for st in steps if st.decided_by}
            for st in steps:
                if st.decision != Decision.PENDING:
                    continue
                who = _assign(app, st, amount=ZERO, requester=row.proposed_by, excluded=deciders)
                s.add(st)
                if who is None:
                    notices.enqueue(
                        s,
                        app.renderer,
                        key=f"policy-approval-unassignable:{st.id}",
                        kind="policy_approval_needed",
                        locale="en",
                        recipients=[app.directory.teams.credit],
                        context={
                            **ctx,
                            "step": step_view(st),
                            "approver": "",
                            "command_approve": f"credit policy approve {version} --as USER",
                            "command_reject": f'credit policy reject {version} --as USER --comment "..."',
                        },
                    )
                else:
                    deciders.add(who)
                    notices.enqueue(
                        s,
                        app.renderer,
                        key=f"policy-approval-needed:{st.id}:{who}",
                        kind="policy_approval_needed",
                        locale="en",
                        recipients=[person_email(app, who)],
                        context={
                            **ctx,
                            "step": step_view(st),
                            "approver": who,
                            "command_approve": f"credit policy approve {version} --as {who}",
                            "command_reject": f'credit policy reject {version} --as {who} --comment "..."',
                        },
                    )
            progress.waiting_for = ", ".join(
                f"{st.role}: {st.approver}" for st in steps if st.decision == Decision.PENDING
            )
    progress.status = row.status
    return progress


def policy_changes(old: PolicyBody, new: PolicyBody) -> list[str]:
    """What a new version changes, in readable lines, section by section."""
    return [str(c) for c in diff_policies(old, new)]


def policy_diff(
    app: App, *, from_version: int | None = None, to_version: int | None = None
) -> dict[str, Any]:
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


def policy_view(app: App, *, version: int | None) -> dict[str, Any]:
    """A stored version as written, plus its dunning schedule in words (any version: older ones
    are read through the current schema)."""
    from credit.domain.dunning import describe_level
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
            "version": row.version,
            "name": row.name,
            "status": row.status,
            "proposed_by": row.proposed_by,
            "reason": row.reason,
            "sha256": row.body_sha256,
            "published_at": row.published_at.isoformat() if row.published_at else None,
            "body": row.body,
        }
