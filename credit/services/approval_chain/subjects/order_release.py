"""Releasing a held order as an approval subject: requested with a reason by anyone in the
directory (sales, a collector, a credit manager), routed through the authority matrix by the
order's amount in the base currency, decided level by level with `credit approve|reject ID
--subject order_release`; approved, the order's next check says ALLOW once, within the policy's
``orders.release_valid_days``; rejected, the requester is told."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Self, TypedDict

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_customer, lock_row
from credit.db.models import ApprovalStep, CreditLine, Customer
from credit.db.models_order_control import OrderRelease
from credit.domain import authority
from credit.domain.money import check_amount, check_currency, fmt_money, minor_units, money
from credit.domain.order_control import ReleaseStatus
from credit.domain.policy import AuthorityLevel, PolicyBody
from credit.domain.receivables_status import OrderDecision
from credit.services.approval_chain.engine import advance_in
from credit.services.approval_chain.subject import (
    ApprovalSubject,
    Level,
    Listing,
    NoticeSpec,
    register,
)
from credit.services.common import (
    ServiceError,
    enqueued_id,
    get_customer,
    id_col,
    known_user,
    person_email,
    required_text,
    saved_id,
)
from credit.services.ledger import converter
from credit.services.receivables import check_order
from credit.services.receivables.order_release import release_rule
from credit.services.receivables.shared import not_in_future
from credit.services.views import customer_view, step_view

SUBJECT_ORDER_RELEASE = "order_release"
MAX_REF = 80


class ReleaseRequested(TypedDict):
    id: int
    customer: str
    order: str
    amount: str
    currency: str
    status: str
    waiting_for: str
    hold_reasons: list[str]


def exact(amount: Decimal, currency: str) -> Decimal:
    """An amount in its currency's own minor units (12000.0000 EUR -> 12000.00)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)))


def release_view(r: OrderRelease) -> dict[str, Any]:
    """What notices and the CLI show of a release."""
    return {
        "id": r.id,
        "order_ref": r.order_ref,
        "amount": exact(r.amount, r.currency),
        "currency": r.currency,
        "base_amount": r.base_amount,
        "reason": r.reason,
        "hold_reasons": list(r.hold_reasons),
        "requested_by": r.requested_by,
        "requested_on": r.requested_on.isoformat(),
        "status": r.status,
        "decided_on": r.decided_on.isoformat() if r.decided_on else "",
        "approved_by": r.approved_by or "",
        "valid_until": r.valid_until.isoformat() if r.valid_until else "",
    }


def lock_release(s: Session, release_id: int) -> None:
    """Take the write lock on a release row (decisions on it apply one by one)."""
    lock_row(s, OrderRelease, release_id, col(OrderRelease.reason))


@register
class OrderReleaseSubject(ApprovalSubject):
    kind = SUBJECT_ORDER_RELEASE
    label = "order release"
    noun = "order release"
    in_order = True
    reminders = True  # an overdue step is reminded, then escalated, by the approval sweep
    reminder_kind = "order_release_reminder"
    report_asked_notices = True
    follow_up_kind = None  # the decision's notices wait in the outbox for delivery

    def __init__(self, app: App, s: Session, r: OrderRelease, *, as_of: date | None) -> None:
        super().__init__(app, s, as_of=as_of)
        self.r = r

    @classmethod
    def lock(cls, s: Session, subject_id: int) -> None:
        lock_release(s, subject_id)

    @classmethod
    def find(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self | None:
        r = s.get(OrderRelease, subject_id)
        return None if r is None else cls(app, s, r, as_of=as_of)

    @classmethod
    def missing(cls, subject_id: int) -> str:
        return f"no order release {subject_id}"

    @classmethod
    def awaiting(cls, s: Session) -> list[int]:
        return list(
            s.exec(
                select(id_col(OrderRelease)).where(OrderRelease.status == ReleaseStatus.IN_APPROVAL)
            )
        )

    def authority_levels(self) -> list[AuthorityLevel]:
        return self.policy.authority.levels

    @property
    def day(self) -> date:
        if self.as_of is None:
            raise RuntimeError("an order release is decided as of a day")
        return self.as_of

    @cached_property
    def policy(self) -> PolicyBody:
        return self.app.policy_body_for(self.s, self.r.policy_version)

    @cached_property
    def customer(self) -> Customer:
        c = self.s.get(Customer, self.r.customer_id)
        assert c is not None
        return c

    @property
    def subject_id(self) -> int:
        return saved_id(self.r)

    @property
    def status(self) -> str:
        return self.r.status

    @property
    def awaiting_approval(self) -> bool:
        return self.r.status == ReleaseStatus.IN_APPROVAL

    @property
    def ready_to_route(self) -> bool:
        return self.r.status == ReleaseStatus.IN_APPROVAL

    @property
    def requester(self) -> str:
        return self.r.requested_by

    @property
    def amount(self) -> Decimal:
        """The order in the base currency (the authority limits'); without a rate, as typed (every
        level then decides: see :meth:`route`)."""
        return self.r.base_amount if self.r.base_amount is not None else self.r.amount

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

    def listing(self) -> Listing:
        return {
            "subject": SUBJECT_ORDER_RELEASE,
            "id": self.subject_id,
            "customer": self.customer.code,
            "kind": f"order {self.r.order_ref}",
            "amount": str(exact(self.r.amount, self.r.currency)),
            "currency": self.r.currency,
            "rating": "",
            "requested_by": self.r.requested_by,
        }

    def evidence(self) -> dict[str, Any]:
        r = self.r
        return audit.jsonable(
            {
                "release_id": r.id,
                "customer": self.customer.code,
                "order_ref": r.order_ref,
                "amount": r.amount,
                "currency": r.currency,
                "base_amount": r.base_amount,
                "hold_reasons": list(r.hold_reasons),
                "reason": r.reason,
            }
        )

    def route(self) -> list[Level]:
        r, policy = self.r, self.policy
        chain = authority.required_steps(
            amount=self.amount,
            rating="",
            above_recommendation=False,
            policy=policy,
            unconverted_currency=None if r.base_amount is not None else r.currency,
        )
        return [Level(c.level, c.role, c.cap, c.reason) for c in chain]

    def on_routed(self, levels: list[Level]) -> None:
        audit.record(
            self.s,
            actor="system",
            action="order_release.route",
            entity_type=self.kind,
            entity_id=self.subject_id,
            after={"levels": [(lv.level, lv.role) for lv in levels]},
            reason="; ".join(lv.reason for lv in levels),
            policy_version=self.r.policy_version,
        )

    def notice_context(self, steps: list[ApprovalStep]) -> dict[str, Any]:
        return {
            "customer": customer_view(self.customer),
            "release": release_view(self.r),
            "steps": [step_view(st) for st in steps],
        }

    def _decided(self, status: ReleaseStatus, *, actor: str, reason: str) -> None:
        r = self.r
        before = release_view(r)
        r.status, r.decided_on = status, self.day
        if status == ReleaseStatus.APPROVED:
            r.valid_until = self.day + timedelta(days=self.policy.orders.release_valid_days)
        self.s.add(r)
        self.s.flush()
        audit.record(
            self.s,
            actor=actor,
            action=f"order_release.{'approve' if status == ReleaseStatus.APPROVED else 'reject'}",
            entity_type=self.kind,
            entity_id=self.subject_id,
            before={"status": before["status"]},
            after={k: v for k, v in release_view(r).items() if k in _DECIDED},
            reason=reason,
            policy_version=r.policy_version,
        )

    def _tell_requester(self, kind: str, ctx: dict[str, Any]) -> int:
        n, _ = notices.enqueue(
            self.s,
            self.app.renderer,
            key=f"{kind.replace('_', '-')}:{self.r.id}",
            kind=kind,
            locale="en",
            recipients=[person_email(self.app, self.r.requested_by)],
            customer_id=self.r.customer_id,
            context={**ctx, "release": release_view(self.r)},
        )
        return enqueued_id(n)

    def on_rejected(self, rejected: ApprovalStep, ctx: dict[str, Any]) -> list[int]:
        if self.r.status == ReleaseStatus.IN_APPROVAL:
            self._decided(
                ReleaseStatus.REJECTED,
                actor=rejected.decided_by or "system",
                reason=rejected.comment or "",
            )
        return [
            self._tell_requester(
                "order_release_rejected", {**ctx, "rejection": step_view(rejected)}
            )
        ]

    def on_approved(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:
        if self.r.status != ReleaseStatus.IN_APPROVAL:
            return
        self.r.approved_by = ", ".join(st.decided_by or "" for st in steps)
        self._decided(
            ReleaseStatus.APPROVED,
            actor="system",
            reason=f"approved at every level by {self.r.approved_by}",
        )
        self._tell_requester("order_release_approved", ctx)

    def asked_notice(self, step: ApprovalStep, who: str | None, ctx: dict[str, Any]) -> NoticeSpec:
        if who is None:
            recipients = [self.app.directory.teams.credit]
            key = f"order-release-unassignable:{step.id}:r{step.round}"
        else:
            recipients = [person_email(self.app, who)]
            key = f"order-release-needed:{step.id}:r{step.round}:{who}"
        return NoticeSpec(
            key=key,
            kind="order_release_needed",
            recipients=recipients,
            context=ctx,
            customer_id=self.r.customer_id,
            asks=step,
        )

    def how_to_decide(self, step: ApprovalStep, *, link: bool, anyone: bool) -> dict[str, Any]:  # noqa: ARG002  (no approval page for order releases: commands only)
        named = "USER" if anyone else step.approver or "USER"
        n = self.r.id
        return {
            "link": "",
            "command_approve": f"credit approve {n} --subject order_release --as {named}",
            "command_reject": (
                f'credit reject {n} --subject order_release --as {named} --comment "..."'
            ),
        }

    def voided_context(self) -> dict[str, Any]:
        return {"customer": customer_view(self.customer), "release": release_view(self.r)}


_DECIDED = ("status", "decided_on", "approved_by", "valid_until")


def request_order_release(  # noqa: PLR0913  # a release's parts, each named by the callers
    app: App,
    *,
    customer_code: str,
    order_ref: str,
    amount: Decimal,
    reason: str,
    by: str,
    as_of: date,
    currency: str | None = None,
    today: date | None = None,
) -> ReleaseRequested:
    """Ask for a held order to be released: the order must be held by the check now; the
    request is routed through the authority matrix by its amount and the first approver asked,
    in one transaction."""
    by = known_user(app, by)
    not_in_future(as_of, today, "a release request")
    ref = required_text(order_ref, "the order reference", MAX_REF)
    reason = required_text(reason, "the reason")
    if amount <= 0:
        raise ServiceError(f"the order amount {amount} must be positive")
    cur = (currency or "").strip().upper() or None
    if cur is not None and (why := check_currency(cur)):
        raise ServiceError(f"the currency {cur!r} is {why}")
    held = check_order(app, customer_code=customer_code, amount=amount, as_of=as_of, currency=cur)
    if held["decision"] == OrderDecision.ALLOW:
        raise ServiceError(
            f"order {ref} of {held['customer']} would be allowed "
            f"({held['allowed_by'] or 'within the limit'}): there is nothing to release"
        )
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        lock_customer(s, saved_id(customer))
        _refuse_a_second_release(s, customer, ref, as_of)
        version, policy = app.published_policy(s)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        cur = cur or (line.currency if line else customer.currency)
        if why := check_amount(amount, cur):
            raise ServiceError(f"the order amount {amount} is {why}")
        base = converter(s, policy.base_currency, policy.base_currency, as_of)(amount, cur)
        row = OrderRelease(
            customer_id=saved_id(customer),
            order_ref=ref,
            amount=amount,
            currency=cur,
            base_amount=money(base) if base is not None else None,
            reason=reason,
            hold_reasons=list(held["reasons"]),
            requested_by=by,
            requested_on=as_of,
            policy_version=version,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            actor=by,
            action="order_release.request",
            entity_type=SUBJECT_ORDER_RELEASE,
            entity_id=saved_id(row),
            after={"customer": customer.code, **release_view(row)},
            reason=reason,
            policy_version=version,
        )
        progress = advance_in(OrderReleaseSubject(app, s, row, as_of=as_of))
        uow.commit()
        return {
            "id": saved_id(row),
            "customer": customer.code,
            "order": ref,
            "amount": str(exact(row.amount, cur)),
            "currency": cur,
            "status": progress.status,
            "waiting_for": progress.waiting_for or "",
            "hold_reasons": list(row.hold_reasons),
        }


def _refuse_a_second_release(s: Session, customer: Customer, ref: str, as_of: date) -> None:
    """One release of an order at a time: none while another awaits approval or is approved and
    still usable."""
    for r in s.exec(
        select(OrderRelease).where(
            OrderRelease.customer_id == customer.id,
            OrderRelease.order_ref == ref,
            col(OrderRelease.status).in_([ReleaseStatus.IN_APPROVAL, ReleaseStatus.APPROVED]),
        )
    ):
        rule = release_rule(r)
        if r.status == ReleaseStatus.IN_APPROVAL:
            raise ServiceError(f"release {r.id} of order {ref} already awaits approval")
        if rule.valid_until is not None and as_of <= rule.valid_until:
            raise ServiceError(
                f"release {r.id} of order {ref} is approved (up to "
                f"{fmt_money(r.amount, r.currency)}) until {rule.valid_until.isoformat()}: "
                "check the order with its reference to use it"
            )
