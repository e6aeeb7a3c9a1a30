"""A policy version as an approval subject: the committee the published policy names decides it,
every member at once and in any order; approved, it is published (retiring the previous
version) unless another version was published since it was proposed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, Self

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import ApprovalStep, CreditLine, CreditPolicy, Customer, utcnow
from credit.domain.authority import Decision, PolicyStatus
from credit.domain.money import ZERO
from credit.domain.policy import PolicyBody
from credit.domain.policy_diff import diff_policies
from credit.services.approval_chain.engine import advance_in
from credit.services.approval_chain.steps import Progress
from credit.services.approval_chain.subject import (
    ApprovalSubject,
    Level,
    Listing,
    NoticeSpec,
    register,
)
from credit.services.common import SUBJECT_POLICY, ServiceError, person_email
from credit.services.views import step_view


def policy_changes(old: PolicyBody, new: PolicyBody) -> list[str]:
    """What a new version changes, in readable lines, section by section."""
    return [str(c) for c in diff_policies(old, new)]


def lock_policy(s: Session, version: int) -> None:
    """Take the write lock on a policy version's row (decisions on it apply one by one)."""
    s.execute(
        update(CreditPolicy)
        .where(col(CreditPolicy.version) == version)
        .values(version=CreditPolicy.version)
    )


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


def _sales_owners(s: Session) -> list[str]:
    """Every sales owner of a customer with a credit line."""
    return sorted(
        {
            c.sales_owner_email
            for c, _ in s.exec(
                select(Customer, CreditLine).join(
                    CreditLine, col(CreditLine.customer_id) == col(Customer.id)
                )
            )
        }
    )


@register
class PolicyVersionSubject(ApprovalSubject):
    kind = SUBJECT_POLICY
    label = "credit policy"
    noun = "policy version"
    in_order = False  # the committee's members decide at once, in any order
    reminders = False
    report_asked_notices = False
    follow_up_kind = "policy"  # deliver what the decision wrote (publication is in it)

    def __init__(
        self,
        app: App,
        s: Session,
        row: CreditPolicy,
        *,
        as_of: date | None,
        backtest: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(app, s, as_of=as_of)
        self.row, self.backtest = row, backtest

    @classmethod
    def lock(cls, s: Session, subject_id: int) -> None:
        lock_policy(s, subject_id)

    @classmethod
    def find(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self | None:
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == subject_id)).first()
        return None if row is None else cls(app, s, row, as_of=as_of)

    @classmethod
    def missing(cls, subject_id: int) -> str:
        return f"no policy version {subject_id}"

    @cached_property
    def published(self) -> tuple[int, PolicyBody]:
        """The version published when this step began, and its body."""
        return self.app.published_policy(self.s)

    @property
    def subject_id(self) -> int:
        return self.row.version

    def follow_up_params(self) -> dict[str, Any]:
        return {"version": self.row.version}

    @property
    def status(self) -> str:
        return self.row.status

    @property
    def awaiting_approval(self) -> bool:
        return self.row.status == PolicyStatus.IN_APPROVAL

    @property
    def ready_to_route(self) -> bool:
        return self.row.status == PolicyStatus.DRAFT

    @property
    def requester(self) -> str:
        return self.row.proposed_by

    @property
    def amount(self) -> Decimal:
        return ZERO

    @property
    def policy_version(self) -> int:
        return self.row.version

    @property
    def due_hours(self) -> int:
        return self.published[1].authority.step_due_hours

    def listing(self) -> Listing:
        return {
            "subject": "policy",
            "id": self.row.version,
            "customer": "-",
            "kind": "policy",
            "amount": "",
            "currency": "",
            "rating": "",
            "requested_by": self.row.proposed_by,
        }

    def evidence(self) -> dict[str, Any]:
        return {"policy_version": self.row.version, "sha256": self.row.body_sha256}

    def route(self) -> list[Level]:
        roles = self.published[1].policy_change.approver_roles
        return [
            Level(i + 1, role, None, f"policy change needs {role}") for i, role in enumerate(roles)
        ]

    def on_routed(self, levels: list[Level]) -> None:
        self.row.status = PolicyStatus.IN_APPROVAL
        self.s.add(self.row)
        audit.record(
            self.s,
            actor="system",
            action="policy.route",
            entity_type="credit_policy",
            entity_id=self.row.version,
            before={"status": PolicyStatus.DRAFT},
            after={"status": PolicyStatus.IN_APPROVAL, "roles": [lv.role for lv in levels]},
            policy_version=self.published[0],
        )

    def notice_context(self, steps: list[ApprovalStep]) -> dict[str, Any]:
        row = self.row
        current_version, current = self.published
        return {
            "policy": {
                "version": row.version,
                "name": row.name,
                "proposed_by": row.proposed_by,
                "reason": row.reason,
                "sha256": row.body_sha256,
            },
            "current_version": current_version,
            "changes": policy_changes(current, self.app.policy_body(row)),
            "steps": [step_view(st) for st in steps],
            "backtest": self.backtest,
        }

    def _reject(self, *, actor: str, reason: str, before: dict[str, Any]) -> None:
        self.row.status = PolicyStatus.REJECTED
        self.s.add(self.row)
        audit.record(
            self.s,
            actor=actor,
            action="policy.reject",
            entity_type="credit_policy",
            entity_id=self.row.version,
            before=before,
            after={"status": PolicyStatus.REJECTED},
            reason=reason,
            policy_version=self.published[0],
        )

    def _tell_proposer(self, ctx: dict[str, Any], rejection: Mapping[str, Any]) -> None:
        notices.enqueue(
            self.s,
            self.app.renderer,
            key=f"policy-rejected:{self.row.version}",
            kind="policy_rejected",
            locale="en",
            recipients=[person_email(self.app, self.row.proposed_by)],
            context={**ctx, "rejection": rejection},
        )

    def on_rejected(self, rejected: ApprovalStep, ctx: dict[str, Any]) -> list[int]:
        if self.row.status == PolicyStatus.IN_APPROVAL:
            self._reject(
                actor=rejected.decided_by or "system",
                reason=rejected.comment or "",
                before={"status": PolicyStatus.IN_APPROVAL},
            )
            self._tell_proposer(ctx, step_view(rejected))
        return []

    def on_approved(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:
        if self.row.status != PolicyStatus.IN_APPROVAL:
            return
        if self.row.based_on_version not in (None, self.published[0]):
            self._supersede(ctx)
        else:
            self._publish(steps, ctx)

    def _supersede(self, ctx: dict[str, Any]) -> None:
        """Another version was published since this one was proposed: publishing it now would
        silently undo that version's changes."""
        current_version, based_on = self.published[0], self.row.based_on_version
        self._reject(
            actor="system",
            reason=f"version {current_version} was published after this proposal; propose "
            "the change again against it",
            before={"status": PolicyStatus.IN_APPROVAL, "based_on_version": based_on},
        )
        self._tell_proposer(
            ctx,
            {
                "level": 0,
                "role": "system",
                "approver": None,
                "decided_by": "system",
                "decision": Decision.REJECTED,
                "comment": f"version {current_version} was published after this proposal "
                f"(based on version {based_on}); propose the change again "
                "against the published version",
                "reason": "superseded",
                "due_at": "",
                "decided_at": "",
                "id": 0,
            },
        )

    def _publish(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:
        s, row, now = self.s, self.row, utcnow()
        current_version = self.published[0]
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
            entity_id=row.version,
            before={"published_version": current_version},
            after={"published_version": row.version, "sha256": row.body_sha256},
            reason="approved by " + ", ".join(st.decided_by or "" for st in steps),
            policy_version=row.version,
        )
        new_body = self.app.policy_body(row)
        rereview = (
            _rereview_all(self.app, s, row) if new_body.policy_change.rereview_on_publish else []
        )
        # Credit, collections and sales (every sales owner of a customer with a line) hear of
        # it with the list of changes.
        teams = self.app.directory.teams
        notices.enqueue(
            s,
            self.app.renderer,
            key=f"policy-published:{row.version}",
            kind="policy_published",
            locale="en",
            recipients=[teams.credit, teams.collections, *_sales_owners(s)],
            context={
                **ctx,
                "approvers": [st.decided_by for st in steps],
                "rereview": rereview,
            },
        )

    def asked_notice(self, step: ApprovalStep, who: str | None, ctx: dict[str, Any]) -> NoticeSpec:
        if who is None:
            recipients = [self.app.directory.teams.credit]
            key = f"policy-approval-unassignable:{step.id}"
        else:
            recipients = [person_email(self.app, who)]
            key = f"policy-approval-needed:{step.id}:{who}"
        return NoticeSpec(
            key=key,
            kind="policy_approval_needed",
            recipients=recipients,
            context=ctx,
            asks=step,
        )

    def how_to_decide(self, step: ApprovalStep, *, link: bool, anyone: bool) -> dict[str, Any]:  # noqa: ARG002  (no approval page for policies: commands only)
        named = "USER" if anyone else step.approver or "USER"
        version = self.row.version
        return {
            "command_approve": f"credit policy approve {version} --as {named}",
            "command_reject": f'credit policy reject {version} --as {named} --comment "..."',
        }


def advance_policy_in(
    app: App, s: Session, row: CreditPolicy, backtest: dict[str, Any] | None = None
) -> Progress:
    """The committee chain's next step for a policy version, inside the caller's transaction."""
    return advance_in(PolicyVersionSubject(app, s, row, as_of=None, backtest=backtest))


def advance_policy(app: App, *, version: int, backtest: dict[str, Any] | None = None) -> Progress:
    """Route a draft policy to the committee the published policy names; publish it once every
    member approved (retiring the previous version); report a rejection. Safe to repeat.
    ``backtest`` (a summary of the shadow run) goes into the approval notices."""
    with app.uow() as uow:
        s = uow.session
        lock_policy(s, version)
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None:
            raise ServiceError(f"no policy version {version}")
        progress = advance_policy_in(app, s, row, backtest)
        uow.commit()
        return progress
