"""A credit request as an approval subject: routed by amount, rating and recommendation through
the authority matrix, decided level by level, chased by the sweep; approved, it waits to be
published; rejected, the requester is told."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, Self

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_row
from credit.db.models import (
    ApprovalStep,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    RequestKind,
    utcnow,
)
from credit.domain import authority
from credit.domain.authority import RequestStatus
from credit.domain.policy import AuthorityLevel, PolicyBody
from credit.services.approval_chain.engine import advance, advance_within
from credit.services.approval_chain.steps import Progress
from credit.services.approval_chain.subject import (
    ApprovalSubject,
    Level,
    Listing,
    NoticeSpec,
    register,
)
from credit.services.changes import request_change
from credit.services.common import (
    SUBJECT_REQUEST,
    add_months,
    enqueued_id,
    id_col,
    person_email,
    saved_id,
)
from credit.services.ledger import exposure
from credit.services.limits.temporary import asked_until
from credit.services.links import new_link
from credit.services.views import assessment_view, customer_view, request_view, step_view


def lock_request(s: Session, request_id: int) -> None:
    """Take the write lock on a request row first, so that two decisions (or a decision and a
    publication) on it are applied one after the other (a row lock on PostgreSQL, the write lock
    on SQLite)."""
    lock_row(s, CreditRequest, request_id, col(CreditRequest.requested_by))


def request_amount(r: CreditRequest) -> Decimal:
    """The amount the authority matrix compares: in the base currency when a rate was known."""
    return r.base_amount if r.base_amount is not None else r.proposed_limit


def analyst_of(s: Session, r: CreditRequest) -> str | None:
    """Who gave the qualitative rating behind a request (they do not approve it)."""
    a = s.get(CreditAssessment, r.assessment_id)
    if a is None or not a.qualitative:
        return None
    return a.qualitative.get("by") or None


def approval_context(
    app: App, s: Session, r: CreditRequest, *, steps: list[ApprovalStep], as_of: date
) -> dict[str, Any]:
    """What the approval notices and the approval page show of a request."""
    customer = s.get(Customer, r.customer_id)
    assessment = s.get(CreditAssessment, r.assessment_id)
    assert customer is not None and assessment is not None
    return {
        "customer": customer_view(customer),
        # a temporary raise; the customer's group (parent company) as the research saw it
        "request": {
            **request_view(r),
            **asked_until(s, r.review_key),
            **({"group": assessment.inputs["group"]} if "group" in assessment.inputs else {}),
        },
        "assessment": assessment_view(assessment),
        "exposure": dict(exposure(s, saved_id(customer), as_of)),
        "steps": [step_view(st) for st in steps],
        "change": request_change(app, s, r),  # the line as it stands and the previous assessment
    }


def _evidence(s: Session, r: CreditRequest, as_of: date) -> dict[str, Any]:
    """What an approver decides on: the proposal, the assessment behind it and the exposure."""
    a = s.get(CreditAssessment, r.assessment_id)
    assert a is not None
    return audit.jsonable(
        {
            "request_id": r.id,
            "amount": r.proposed_limit,
            "currency": r.currency,
            "base_amount": r.base_amount,
            "terms_days": r.terms_days,
            "conditions": list(r.conditions),
            "rating": r.rating,
            "assessment_id": r.assessment_id,
            # as of the research date: only a real change of the ledger moves it, not the calendar
            "exposure": {k: v for k, v in sorted(exposure(s, r.customer_id, a.as_of).items())},
            "as_of": as_of,
        }
    )


def _reschedule_after_rejected_review(s: Session, r: CreditRequest, as_of: date) -> None:
    """A rejected re-review leaves the line as it is; it is looked at again in a month rather
    than never (its due date would otherwise stay in the past, already reviewed)."""
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == r.customer_id)).first()
    if r.kind != RequestKind.REVIEW or line is None or line.next_review_on > as_of:
        return
    before = {"next_review_on": line.next_review_on}
    line.next_review_on = add_months(as_of, 1)
    s.add(line)
    audit.record(
        s,
        actor="system",
        action="credit_line.reschedule_review",
        entity_type="credit_line",
        entity_id=str(r.customer_id),
        before=before,
        after={"next_review_on": line.next_review_on},
        reason=f"re-review request {r.id} was rejected; the line stays as it is until then",
        policy_version=r.policy_version,
    )


@register
class CreditRequestSubject(ApprovalSubject):
    kind = SUBJECT_REQUEST
    label = "credit request"
    noun = "request"
    in_order = True
    reminders = True
    report_asked_notices = True
    follow_up_kind = "approval"  # deliver what the decision wrote; publish once approved

    def __init__(self, app: App, s: Session, r: CreditRequest, *, as_of: date | None) -> None:
        super().__init__(app, s, as_of=as_of)
        self.r = r

    def follow_up_params(self) -> dict[str, Any]:
        return {"request_id": self.subject_id}

    @classmethod
    def lock(cls, s: Session, subject_id: int) -> None:
        lock_request(s, subject_id)

    @classmethod
    def find(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self | None:
        r = s.get(CreditRequest, subject_id)
        return None if r is None else cls(app, s, r, as_of=as_of)

    @classmethod
    def missing(cls, subject_id: int) -> str:
        return f"no credit request {subject_id}"

    @classmethod
    def awaiting(cls, s: Session) -> list[int]:
        return list(
            s.exec(
                select(id_col(CreditRequest)).where(
                    CreditRequest.status == RequestStatus.IN_APPROVAL
                )
            )
        )

    @property
    def day(self) -> date:
        """The business date of the step being taken (routing, decision, sweep)."""
        if self.as_of is None:
            raise RuntimeError("a credit request's approval is taken as of a day")
        return self.as_of

    @cached_property
    def policy(self) -> PolicyBody:
        return self.app.policy_body_for(self.s, self.r.policy_version)

    @property
    def subject_id(self) -> int:
        return saved_id(self.r)

    @property
    def status(self) -> str:
        return self.r.status

    @property
    def awaiting_approval(self) -> bool:
        return self.r.status == RequestStatus.IN_APPROVAL

    @property
    def ready_to_route(self) -> bool:
        return self.r.status == RequestStatus.IN_APPROVAL

    @property
    def requester(self) -> str:
        return self.r.requested_by

    @property
    def analyst(self) -> str | None:
        return analyst_of(self.s, self.r)

    @property
    def amount(self) -> Decimal:
        return request_amount(self.r)

    @property
    def policy_version(self) -> int:
        return self.r.policy_version

    @property
    def available_on(self) -> date | None:
        return self.as_of

    @property
    def due_hours(self) -> int:
        return self.policy.authority.step_due_hours

    @property
    def customer_id(self) -> int | None:
        return self.r.customer_id

    def authority_levels(self) -> list[AuthorityLevel]:
        return self.policy.authority.levels

    def listing(self) -> Listing:
        r = self.r
        c = self.s.get(Customer, r.customer_id)
        return {
            "subject": "request",
            "id": saved_id(r),
            "customer": c.code if c else "?",
            "kind": r.kind,
            "amount": str(r.proposed_limit),
            "currency": r.currency,
            "rating": r.rating,
            "requested_by": r.requested_by,
        }

    def evidence(self) -> dict[str, Any]:
        return _evidence(self.s, self.r, self.day)

    def route(self) -> list[Level]:
        r, policy, amount = self.r, self.policy, self.amount
        chain = authority.required_steps(
            amount=amount,
            rating=r.rating,
            above_recommendation=r.proposed_limit > r.recommended_limit,
            policy=policy,
            unconverted_currency=None
            if r.currency == policy.base_currency or r.base_amount is not None
            else r.currency,
            current_limit=(r.current_limit * (amount / r.proposed_limit))
            if r.current_limit and r.proposed_limit
            else None,
        )
        return [Level(c.level, c.role, c.cap, c.reason) for c in chain]

    def on_routed(self, levels: list[Level]) -> None:
        audit.record(
            self.s,
            actor="system",
            action="request.route",
            entity_type="credit_request",
            entity_id=self.subject_id,
            after={"levels": [(lv.level, lv.role) for lv in levels]},
            reason="; ".join(lv.reason for lv in levels),
            policy_version=self.r.policy_version,
        )

    def notice_context(self, steps: list[ApprovalStep]) -> dict[str, Any]:
        return approval_context(self.app, self.s, self.r, steps=steps, as_of=self.day)

    def on_rejected(self, rejected: ApprovalStep, ctx: dict[str, Any]) -> list[int]:
        r, s = self.r, self.s
        if r.status != RequestStatus.REJECTED:
            r.status, r.decided_at = RequestStatus.REJECTED, utcnow()
            s.add(r)
            ctx["request"] = request_view(r)
            audit.record(
                s,
                actor=rejected.decided_by or "system",
                action="request.reject",
                entity_type="credit_request",
                entity_id=self.subject_id,
                before={"status": RequestStatus.IN_APPROVAL},
                after={"status": RequestStatus.REJECTED},
                reason=rejected.comment or "",
                policy_version=r.policy_version,
            )
            _reschedule_after_rejected_review(s, r, self.day)
        n, _ = notices.enqueue(
            s,
            self.app.renderer,
            key=f"request-rejected:{r.id}",
            kind="request_rejected",
            locale="en",
            recipients=[person_email(self.app, r.requested_by)],
            customer_id=r.customer_id,
            context={**ctx, "rejection": step_view(rejected)},
        )
        return [enqueued_id(n)]

    def on_approved(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:  # noqa: ARG002  (approved, nothing is sent yet: publishing tells the customer)
        r = self.r
        if r.status != RequestStatus.IN_APPROVAL:
            return
        r.status, r.decided_at = RequestStatus.APPROVED, utcnow()
        self.s.add(r)
        audit.record(
            self.s,
            actor="system",
            action="request.approve",
            entity_type="credit_request",
            entity_id=self.subject_id,
            before={"status": RequestStatus.IN_APPROVAL},
            after={"status": RequestStatus.APPROVED},
            reason="approved at every level by " + ", ".join(st.decided_by or "" for st in steps),
            policy_version=r.policy_version,
        )

    def asked_notice(self, step: ApprovalStep, who: str | None, ctx: dict[str, Any]) -> NoticeSpec:
        if who is None:
            recipients = [self.app.directory.teams.credit]
            key = f"approval-unassignable:{step.id}:r{step.round}"
        else:
            recipients = [person_email(self.app, who)]
            key = f"approval-needed:{step.id}:r{step.round}:{who}"
        return NoticeSpec(
            key=key,
            kind="approval_needed",
            recipients=recipients,
            context=ctx,
            customer_id=self.r.customer_id,
            asks=step,
        )

    def how_to_decide(self, step: ApprovalStep, *, link: bool, anyone: bool) -> dict[str, Any]:
        who = step.approver
        named = "USER" if anyone else who or "USER"
        return {
            "link": new_link(self.app, self.s, step=step, request_id=self.subject_id, approver=who)
            if who and link
            else "",
            "command_approve": f"credit approve {self.r.id} --as {named}",
            "command_reject": f'credit reject {self.r.id} --as {named} --comment "..."',
        }

    def voided_context(self) -> dict[str, Any]:
        customer = self.s.get(Customer, self.r.customer_id)
        assert customer is not None
        return {"customer": customer_view(customer), "request": request_view(self.r)}


def advance_request(app: App, *, request_id: int, as_of: date) -> Progress:
    """Move a credit request along its chain from what the database says: create the steps the
    authority matrix requires, ask the next approver, or report rejection. Safe to repeat."""
    return advance(app, subject=SUBJECT_REQUEST, subject_id=request_id, as_of=as_of)


def advance_request_in(app: App, s: Session, *, request_id: int, as_of: date) -> Progress:
    """:func:`advance_request` inside the caller's transaction."""
    return advance_within(app, s, subject=SUBJECT_REQUEST, subject_id=request_id, as_of=as_of)
