"""A write-off as an approval subject: proposed by a collector, routed by amount (in the base
currency) through the policy's write-off levels, decided level by level with the approval
commands; approved, it is booked as credit notes against the written-off invoices (the next
collections run then clears the dunning episode); rejected, nothing is booked and the proposer
is told."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, Self

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_row
from credit.db.models import ApprovalStep, Customer
from credit.db.models_plans import WriteOff, WriteOffItem
from credit.domain import write_offs as rules
from credit.domain.money import money
from credit.domain.policy import AuthorityLevel, PolicyBody
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
    known_person,
    person_email,
    required_text,
    saved_id,
)
from credit.services.ledger import rate_table
from credit.services.receivables.shared import not_in_future
from credit.services.receivables.write_offs import (
    APPROVED,
    IN_APPROVAL,
    REJECTED,
    book,
    chosen_items,
    write_off_view,
)
from credit.services.views import step_view

SUBJECT_WRITE_OFF = "write_off"


@register
class WriteOffSubject(ApprovalSubject):
    kind = SUBJECT_WRITE_OFF
    label = "write-off"
    noun = "write-off"
    in_order = True
    reminders = False
    voided_kind = "write_off_voided"

    def __init__(self, app: App, s: Session, wo: WriteOff, *, as_of: date | None) -> None:
        super().__init__(app, s, as_of=as_of)
        self.wo = wo

    @classmethod
    def lock(cls, s: Session, subject_id: int) -> None:
        lock_row(s, WriteOff, subject_id, col(WriteOff.reason))

    @classmethod
    def find(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self | None:
        wo = s.get(WriteOff, subject_id)
        return None if wo is None else cls(app, s, wo, as_of=as_of)

    @classmethod
    def missing(cls, subject_id: int) -> str:
        return f"no write-off {subject_id}"

    @classmethod
    def awaiting(cls, s: Session) -> list[int]:
        return list(s.exec(select(id_col(WriteOff)).where(WriteOff.status == IN_APPROVAL)))

    @property
    def day(self) -> date:
        return self.as_of or self.wo.proposed_on

    @cached_property
    def policy(self) -> PolicyBody:
        return self.app.policy_body_for(self.s, self.wo.policy_version)

    @cached_property
    def customer(self) -> Customer:
        c = self.s.get(Customer, self.wo.customer_id)
        assert c is not None
        return c

    @property
    def subject_id(self) -> int:
        return saved_id(self.wo)

    @property
    def status(self) -> str:
        return self.wo.status

    @property
    def awaiting_approval(self) -> bool:
        return self.wo.status == IN_APPROVAL

    @property
    def ready_to_route(self) -> bool:
        return self.wo.status == IN_APPROVAL

    @property
    def requester(self) -> str:
        return self.wo.proposed_by

    @property
    def amount(self) -> Decimal:
        return self.wo.base_amount if self.wo.base_amount is not None else self.wo.amount

    @property
    def policy_version(self) -> int:
        return self.wo.policy_version

    @property
    def available_on(self) -> date | None:
        return self.as_of

    @property
    def due_hours(self) -> int:
        return self.policy.authority.step_due_hours

    @property
    def customer_id(self) -> int | None:
        return self.wo.customer_id

    def authority_levels(self) -> list[AuthorityLevel]:
        return self.policy.authority.levels

    def listing(self) -> Listing:
        return {
            "subject": "write_off",
            "id": self.subject_id,
            "customer": self.customer.code,
            "kind": SUBJECT_WRITE_OFF,
            "amount": str(money(self.wo.amount)),
            "currency": self.wo.currency,
            "rating": "",
            "requested_by": self.wo.proposed_by,
        }

    def evidence(self) -> dict[str, Any]:
        view = write_off_view(self.s, self.wo)
        return audit.jsonable(
            {k: view[k] for k in ("id", "customer", "currency", "amount", "base_amount", "reason")}
            | {"items": [(i["invoice"], i["amount"]) for i in view["items"]]}
        )

    def route(self) -> list[Level]:
        chain = rules.route(self.policy, amount=self.wo.base_amount, currency=self.wo.currency)
        return [Level(r.level, r.role, r.cap, r.reason) for r in chain]

    def on_routed(self, levels: list[Level]) -> None:
        audit.record(
            self.s,
            actor="system",
            action="write_off.route",
            entity_type=SUBJECT_WRITE_OFF,
            entity_id=self.subject_id,
            after={"levels": [(lv.level, lv.role) for lv in levels]},
            reason="; ".join(lv.reason for lv in levels),
            policy_version=self.wo.policy_version,
        )

    def notice_context(self, steps: list[ApprovalStep]) -> dict[str, Any]:
        return {
            "write_off": write_off_view(self.s, self.wo),
            "steps": [step_view(st) for st in steps],
        }

    def _decided(self, status: str, *, actor: str, reason: str) -> None:
        before = {"status": self.wo.status}
        self.wo.status, self.wo.decided_on = status, self.day
        self.s.add(self.wo)
        audit.record(
            self.s,
            actor=actor,
            action=f"write_off.{'approve' if status == APPROVED else 'reject'}",
            entity_type=SUBJECT_WRITE_OFF,
            entity_id=self.subject_id,
            before=before,
            after={"status": status},
            reason=reason,
            policy_version=self.wo.policy_version,
        )

    def _tell(self, kind: str, ctx: dict[str, Any], **extra: Any) -> int:
        n, _ = notices.enqueue(
            self.s,
            self.app.renderer,
            key=f"{kind.replace('_', '-')}:{self.subject_id}",
            kind=kind,
            locale="en",
            recipients=[
                person_email(self.app, self.wo.proposed_by),
                self.app.directory.teams.credit,
            ],
            customer_id=self.wo.customer_id,
            context={**ctx, "write_off": write_off_view(self.s, self.wo), **extra},
        )
        return enqueued_id(n)

    def on_rejected(self, rejected: ApprovalStep, ctx: dict[str, Any]) -> list[int]:
        if self.wo.status == IN_APPROVAL:
            self._decided(
                REJECTED, actor=rejected.decided_by or "system", reason=rejected.comment or ""
            )
        return [self._tell("write_off_rejected", ctx, rejection=step_view(rejected))]

    def on_approved(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:
        if self.wo.status != IN_APPROVAL:
            return
        self._decided(
            APPROVED,
            actor="system",
            reason="approved at every level by " + ", ".join(st.decided_by or "" for st in steps),
        )
        book(self.s, self.wo, as_of=self.day, by=steps[-1].decided_by or "system")
        self._tell("write_off_booked", ctx)

    def asked_notice(self, step: ApprovalStep, who: str | None, ctx: dict[str, Any]) -> NoticeSpec:
        if who is None:
            recipients = [self.app.directory.teams.credit]
            key = f"write-off-unassignable:{step.id}:r{step.round}"
        else:
            recipients = [person_email(self.app, who)]
            key = f"write-off-needed:{step.id}:r{step.round}:{who}"
        return NoticeSpec(
            key=key,
            kind="write_off_needed",
            recipients=recipients,
            context=ctx,
            customer_id=self.wo.customer_id,
            asks=step,
        )

    def how_to_decide(self, step: ApprovalStep, *, link: bool, anyone: bool) -> dict[str, Any]:  # noqa: ARG002  (no web page: the commands decide it)
        named = "USER" if anyone else step.approver or "USER"
        return {
            "link": "",
            "command_approve": f"credit writeoff approve {self.subject_id} --as {named}",
            "command_reject": (
                f'credit writeoff reject {self.subject_id} --as {named} --comment "..."'
            ),
        }

    def voided_context(self) -> dict[str, Any]:
        return {"write_off": write_off_view(self.s, self.wo)}


def propose_write_off(  # noqa: PLR0913  (the proposal's own fields, keyword-only)
    app: App,
    *,
    customer_code: str,
    currency: str,
    invoices: Sequence[str],
    reason: str,
    by: str,
    as_of: date,
    today: date | None = None,
) -> dict[str, Any]:
    """A collector proposes to write off what a customer owes in ``currency`` (the invoices
    named, else every open item): recorded and routed to its first approver in one
    transaction."""
    not_in_future(as_of, today, "a write-off")
    why = required_text(reason, "a reason for the write-off")
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        proposer = _proposer(app, policy, by)
        customer = get_customer(s, customer_code)
        cur = currency.strip().upper()
        items = chosen_items(s, customer, currency=cur, numbers=invoices, as_of=as_of)
        total = money(sum((amount for _, amount in items), Decimal(0)))
        rate = rate_table(s, policy.base_currency).lookup(cur, as_of)
        wo = WriteOff(
            customer_id=saved_id(customer),
            currency=cur,
            amount=total,
            base_amount=None if rate is None else money(total * rate[0]),
            reason=why,
            proposed_by=proposer,
            proposed_on=as_of,
            policy_version=version,
        )
        s.add(wo)
        s.flush()
        for inv, amount in items:
            s.add(WriteOffItem(write_off_id=saved_id(wo), invoice_id=saved_id(inv), amount=amount))
        s.flush()
        audit.record(
            s,
            actor=proposer,
            action="write_off.propose",
            entity_type=SUBJECT_WRITE_OFF,
            entity_id=saved_id(wo),
            after={
                "customer": customer.code,
                "currency": cur,
                "amount": total,
                "invoices": [inv.number for inv, _ in items],
            },
            reason=why,
            policy_version=version,
        )
        progress = advance_in(WriteOffSubject(app, s, wo, as_of=as_of))
        view = write_off_view(s, wo)
        uow.commit()
    return view | {"waiting_for": progress.waiting_for, "notices": progress.notices}


def _proposer(app: App, policy: PolicyBody, by: str) -> str:
    person = known_person(app, by)
    allowed = policy.plans.write_off_proposers
    if not set(person.roles) & set(allowed):
        raise ServiceError(
            f"{person.username} may not propose a write-off: that takes the role "
            f"{' or '.join(allowed)} (the policy's plans.write_off_proposers); "
            f"{person.username} has {', '.join(person.roles) or 'no role'}"
        )
    return person.username
