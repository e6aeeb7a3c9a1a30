"""What a dispute is about and who settles it by when: a reason code from the policy's
``team.dispute_codes``, an owner (anyone in the directory, e.g. sales, outside collections) and a
due date (by default the code's days after opening). The owner hears of the dispute when it is
opened (``dispute_assigned``) and is reminded once its due date has passed (``dispute_reminder``,
once per dispute and due date); with ``team.dispute_escalate_after_days`` the credit managers hear
of it that many days after the due date (once). The reminders are sent by the reminder sweep
(``credit approvals sweep``, hourly when served)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import Customer, Dispute, Invoice
from credit.db.models_team import DisputeTerms
from credit.domain import team as team_rules
from credit.domain.policy import PolicyBody
from credit.domain.policy_team import DisputeCode
from credit.services.common import ServiceError, known_person, known_user
from credit.services.views import customer_view

MAX_DUE_DAYS = 366


@dataclass(frozen=True)
class Terms:
    code: DisputeCode
    owner: str | None
    due_on: date


def dispute_terms(
    app: App,
    policy: PolicyBody,
    *,
    code: str | None,
    owner: str | None,
    due: date | None,
    opened_on: date,
) -> Terms:
    """The terms a new dispute is opened with, or a refusal naming the value and the reason."""
    team = policy.team
    name = (code or "").strip().lower() or team.default_dispute_code
    found = team.dispute_code(name)
    if found is None:
        known = ", ".join(c.code for c in team.dispute_codes)
        raise ServiceError(f"the dispute code {name!r} is not one of the policy's codes ({known})")
    who = known_user(app, owner) if owner and owner.strip() else None
    due_on = due or team_rules.dispute_due(opened_on, found)
    if due_on < opened_on:
        raise ServiceError(
            f"the due date {due_on.isoformat()} is before the dispute is opened "
            f"({opened_on.isoformat()})"
        )
    if (due_on - opened_on).days > MAX_DUE_DAYS:
        raise ServiceError(
            f"the due date {due_on.isoformat()} is more than {MAX_DUE_DAYS} days after the "
            f"dispute is opened ({opened_on.isoformat()})"
        )
    return Terms(found, who, due_on)


def record_terms(  # noqa: PLR0913  # what the notice to the owner tells, each named
    app: App,
    s: Session,
    *,
    dispute: Dispute,
    invoice: Invoice,
    customer: Customer,
    terms: Terms,
) -> None:
    """Store the terms with the dispute (the caller's transaction) and tell the owner."""
    assert dispute.id is not None
    s.add(
        DisputeTerms(
            dispute_id=dispute.id, code=terms.code.code, owner=terms.owner, due_on=terms.due_on
        )
    )
    s.flush()
    if terms.owner is None:
        return
    person = known_person(app, terms.owner)
    notices.enqueue(
        s,
        app.renderer,
        key=f"dispute-assigned:{dispute.id}",
        kind="dispute_assigned",
        locale="en",
        recipients=[person.email],
        customer_id=customer.id,
        context=_context(dispute, invoice, customer, terms, owner_name=person.name),
    )


def _context(  # noqa: PLR0913  # a notice's parts, each named
    dispute: Dispute,
    invoice: Invoice,
    customer: Customer,
    terms: Terms,
    *,
    owner_name: str,
    as_of: date | None = None,
) -> dict[str, Any]:
    return {
        "customer": customer_view(customer),
        "invoice": {
            "number": invoice.number,
            "amount": invoice.amount,
            "currency": invoice.currency,
            "due_date": invoice.due_date,
        },
        "dispute": {
            "id": dispute.id,
            "code": terms.code.code,
            "label": terms.code.label,
            "reason": dispute.reason,
            "opened_on": dispute.opened_on,
            "opened_by": dispute.opened_by,
            "owner": terms.owner,
            "owner_name": owner_name,
            "due_on": terms.due_on,
        },
        "as_of": as_of or dispute.opened_on,
        "days_past_due": (as_of - terms.due_on).days if as_of else 0,
    }


class DisputeRow(TypedDict):
    invoice: str
    customer: str
    amount: str
    currency: str
    reason: str
    code: str | None  # None: opened before disputes had codes
    owner: str | None
    opened_on: str
    opened_by: str
    due_on: str | None
    age_days: int  # since opened (until resolved)
    days_past_due: int  # 0 when not past due
    status: str  # open | resolved


def dispute_list(
    app: App, *, as_of: date, owner: str | None = None, resolved: bool = False
) -> list[DisputeRow]:
    """Open disputes (``resolved``: the resolved ones too), oldest first, optionally those one
    person owns."""
    who = known_user(app, owner) if owner else None
    with app.uow(read_only=True) as uow:
        s = uow.session
        q = (
            select(Dispute, Invoice, Customer, DisputeTerms)
            .join(Invoice, col(Invoice.id) == col(Dispute.invoice_id))
            .join(Customer, col(Customer.id) == col(Dispute.customer_id))
            .join(DisputeTerms, col(DisputeTerms.dispute_id) == col(Dispute.id), isouter=True)
            .order_by(col(Dispute.opened_on), col(Dispute.id))
        )
        if not resolved:
            q = q.where(col(Dispute.resolved_on).is_(None))
        if who is not None:
            q = q.where(DisputeTerms.owner == who)
        return [_row(d, inv, c, t, as_of=as_of) for d, inv, c, t in s.exec(q)]


def _row(
    d: Dispute, inv: Invoice, c: Customer, t: DisputeTerms | None, *, as_of: date
) -> DisputeRow:
    until = d.resolved_on or as_of
    past_due = (until - t.due_on).days if t is not None else 0
    return {
        "invoice": inv.number,
        "customer": c.code,
        "amount": str(inv.amount),
        "currency": inv.currency,
        "reason": d.reason,
        "code": t.code if t else None,
        "owner": t.owner if t else None,
        "opened_on": d.opened_on.isoformat(),
        "opened_by": d.opened_by,
        "due_on": t.due_on.isoformat() if t else None,
        "age_days": max(0, (until - d.opened_on).days),
        "days_past_due": max(0, past_due),
        "status": "resolved" if d.resolved_on else "open",
    }


class ReminderCounts(TypedDict):
    dispute_reminders: int
    dispute_escalations: int


def remind_dispute_owners(app: App, *, as_of: date) -> ReminderCounts:
    """Remind the owner of every open dispute whose due date has passed (once per dispute and
    due date) and, with the policy's ``team.dispute_escalate_after_days``, tell the credit
    managers of those still open that many days after it (once); each audited."""
    counts: ReminderCounts = {"dispute_reminders": 0, "dispute_escalations": 0}
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        after = policy.team.dispute_escalate_after_days
        rows = s.exec(
            select(Dispute, DisputeTerms)
            .join(DisputeTerms, col(DisputeTerms.dispute_id) == col(Dispute.id))
            .where(
                col(Dispute.resolved_on).is_(None),
                col(DisputeTerms.owner).is_not(None),
                col(DisputeTerms.due_on) < as_of,
                col(Dispute.opened_on) <= as_of,
            )
            .order_by(col(Dispute.id))
        ).all()
        for d, t in rows:
            lock_customer(s, d.customer_id)
            if _send(app, s, d, t, as_of=as_of, escalation=False, version=version):
                counts["dispute_reminders"] += 1
            escalate = team_rules.dispute_escalation_due(t.due_on, as_of, after)
            if escalate and _send(app, s, d, t, as_of=as_of, escalation=True, version=version):
                counts["dispute_escalations"] += 1
        uow.commit()
    return counts


def _send(  # noqa: PLR0913  # a reminder's parts, each named
    app: App,
    s: Session,
    d: Dispute,
    t: DisputeTerms,
    *,
    as_of: date,
    escalation: bool,
    version: int,
) -> bool:
    """Queue one reminder (or escalation) unless its key is in the outbox already."""
    what = "escalation" if escalation else "reminder"
    key = f"dispute-{what}:{d.id}:{t.due_on.isoformat()}"
    if notices.exists(s, key):
        return False
    invoice, customer = s.get(Invoice, d.invoice_id), s.get(Customer, d.customer_id)
    assert invoice is not None and customer is not None and t.owner is not None
    policy = app.published_policy(s)[1]
    code = policy.team.dispute_code(t.code) or DisputeCode(code=t.code, label=t.code, days=1)
    owner = app.directory.get(t.owner)
    if escalation:  # the credit managers (the credit team's address without any)
        managers = [p.email for p in app.directory.holders("credit_manager")]
        recipients = managers or [app.directory.teams.credit]
    else:  # an owner who has left the directory: the credit team
        recipients = [owner.email] if owner is not None else [app.directory.teams.credit]
    ctx = _context(
        d, invoice, customer, Terms(code, t.owner, t.due_on),
        owner_name=owner.name if owner else t.owner, as_of=as_of,
    )  # fmt: skip
    notices.enqueue(
        s,
        app.renderer,
        key=key,
        kind="dispute_reminder",
        locale="en",
        recipients=recipients,
        customer_id=customer.id,
        context=ctx | {"escalation": escalation},
    )
    audit.record(
        s,
        actor="system",
        action=f"dispute.{what}",
        entity_type="invoice",
        entity_id=invoice.number,
        after={"owner": t.owner, "due_on": t.due_on, "recipients": recipients},
        reason=f"dispute open {(as_of - t.due_on).days} days past its due date "
        f"{t.due_on.isoformat()}",
        policy_version=version,
    )
    return True
