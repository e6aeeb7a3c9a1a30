"""A customer's case file: what a collector works the case from."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import (
    CollectionCase,
    CollectionNote,
    CreditLine,
    Dispute,
    DunningAction,
    Invoice,
    Notice,
    NoticeStatus,
    PaymentPromise,
)
from credit.db.models_dunning_items import DunningItemLevel
from credit.db.models_team import DisputeTerms
from credit.domain import dunning, workspace
from credit.domain.money import fmt_money
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import CaseReason, CaseStatus
from credit.services.casework.actions import place_refusal, release_refusal
from credit.services.casework.plans import plan_next_step, with_instalments
from credit.services.casework.shared import (
    DUNNING_HOLD,
    SHOWN,
    View,
    assignable,
    currency_views,
    level_label,
    roles_under,
)
from credit.services.common import get_customer, saved_id
from credit.services.contacts import contacts_view
from credit.services.ledger import open_items_many
from credit.services.views import customer_view, line_view


def case_file(app: App, *, customer_code: str, as_of: date, viewer: str) -> View:
    """What a collector works a customer's case from: open items per currency with days overdue
    and dunning level, contacts, the open cases with their next step, what was done lately, the
    credit line and whether ``viewer`` may hold or release it."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        cid = saved_id(customer)
        _, policy = app.published_policy(s)
        steps = _latest(s, DunningAction, cid, 200)
        items = open_items_many(s, [cid], as_of).get(cid, {})
        item_levels = list(
            s.exec(select(DunningItemLevel).where(DunningItemLevel.customer_id == cid))
        )
        currencies = currency_views(policy, items, steps, as_of, item_levels=item_levels)
        promises = with_instalments(
            s,
            [
                p.model_dump(exclude={"customer_id", "created_at"})
                for p in _latest(s, PaymentPromise, cid)
            ],
        )
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == cid)).first()
        disputes = _disputes(s, cid)
        manager = workspace.MANAGER in roles_under(app, policy, viewer)
        file = {
            "customer": customer_view(customer),
            "contacts": contacts_view(s, customer),
            "as_of": as_of,
            "cases": _case_views(
                s, cid, policy=policy, currencies=currencies, promises=promises, as_of=as_of
            ),
            "currencies": currencies,
            "line": line_view(line) if line else None,
            "hold": hold_view(policy, line, currencies, manager=manager),
            "promises": promises,
            "disputes": disputes,
            "notes": [n.model_dump() for n in _latest(s, CollectionNote, cid)],
            "notices": [
                n.model_dump(exclude={"text", "html", "idempotency_key"})
                for n in _latest(s, Notice, cid)
            ],
            "steps": [a.model_dump() for a in steps[:SHOWN]],
            "collectors": assignable(app, policy),
            "disputable": [
                i["number"]
                for c in currencies
                for i in c["items"]
                if i["kind"] == dunning.INVOICE and i["open_amount"] > 0 and not i["disputed"]
            ],
            "disputed": [d["invoice"] for d in disputes if d["resolved_on"] is None],
            "dispute_codes": [c.model_dump() for c in policy.team.dispute_codes],
            "default_dispute_code": policy.team.default_dispute_code,
            "people": [(p.username, p.name) for p in app.directory.approvers],
            "owed_currencies": [c["currency"] for c in currencies if c["balance"] > 0],
            "order_currency": line.currency if line else customer.currency,
        }
        return file | {"timeline": _timeline(file)}


def _latest(s: Session, model: Any, cid: int, limit: int = SHOWN) -> list[Any]:
    """The customer's latest rows of ``model``, newest first."""
    return list(
        s.exec(
            select(model)
            .where(model.customer_id == cid)
            .order_by(col(model.id).desc())
            .limit(limit)
        )
    )


def _case_views(
    s: Session,
    cid: int,
    *,
    policy: PolicyBody,
    currencies: list[View],
    promises: list[View],
    as_of: date,
) -> list[View]:
    by_currency = {c["currency"]: c for c in currencies}
    open_promise = {p["currency"]: p for p in reversed(promises) if p["status"] == "open"}
    return [
        {
            "id": case.id,
            "currency": case.currency,
            "task": case.reason,
            "level": case.level,
            "level_label": level_label(policy, case.level),
            "opened_on": case.opened_on,
            "collector": case.collector,
            "next_step": _next_step(
                case, by_currency.get(case.currency), open_promise.get(case.currency), as_of
            ),
        }
        for case in s.exec(
            select(CollectionCase)
            .where(CollectionCase.customer_id == cid, CollectionCase.status == CaseStatus.OPEN)
            .order_by(col(CollectionCase.id))
        )
    ]


def _next_step(case: CollectionCase, view: View | None, promise: View | None, as_of: date) -> str:
    plan = plan_next_step(promise, as_of) if promise is not None else None
    if plan is not None:
        return plan
    if promise is not None:
        promised = fmt_money(promise["amount"], promise["currency"])
        day = promise["promised_for"].isoformat()
        if promise["promised_for"] < as_of:
            return (
                f"the promise of {promised} for {day} is past its date: check whether it was paid "
                "(the next collections run judges it: kept, or broken and escalation resumes one "
                "level up)"
            )
        return f"wait for {promised} promised by {day}; if it is broken, escalation resumes one level up"
    disputed = [i["number"] for i in (view["items"] if view else []) if i["disputed"]]
    if view is not None and disputed and view["overdue_total"] == 0:
        return f"resolve the dispute on {', '.join(disputed)}: dunning waits for it"
    if case.reason == CaseReason.CALL:
        return "call the customer and log the call (logging it closes the call task)"
    return (
        "contact the customer: record a promise to pay, open a dispute on an invoice they "
        "contest, or pass the account to the collection agency"
    )


def _disputes(s: Session, cid: int) -> list[View]:
    """Every open dispute, then the latest resolved ones."""
    rows = s.exec(
        select(Dispute, Invoice.number, DisputeTerms)
        .join(Invoice, col(Invoice.id) == col(Dispute.invoice_id))
        .join(DisputeTerms, col(DisputeTerms.dispute_id) == col(Dispute.id), isouter=True)
        .where(Dispute.customer_id == cid)
        .order_by(col(Dispute.resolved_on).is_not(None), col(Dispute.id).desc())
    ).all()
    out = [
        d.model_dump()
        | {"invoice": number, "code": t.code if t else None, "owner": t.owner if t else None}
        | {"due_on": t.due_on if t else None}
        for d, number, t in rows
    ]
    open_ = [d for d in out if d["resolved_on"] is None]
    return open_ + [d for d in out if d["resolved_on"] is not None][:SHOWN]


def _timeline(file: View) -> list[View]:
    """The last actions on the customer, newest first: calls and notes, promises, disputes,
    dunning steps and the notices sent (or failed; those waiting in the outbox are listed with
    the notices)."""

    def event(on: date, what: str, by: str | None, detail: str, **more: Any) -> View:
        return {"on": on, "what": what, "by": by or "", "detail": detail, **more}

    events = [event(n["logged_on"], n["kind"], n["logged_by"], n["note"]) for n in file["notes"]]
    for p in file["promises"]:
        detail = f"{fmt_money(p['amount'], p['currency'])} by {p['promised_for'].isoformat()}"
        events.append(
            event(p["recorded_on"], f"promise ({p['status']})", p["recorded_by"],
                  detail + (f": {p['note']}" if p["note"] else ""))
        )  # fmt: skip
    for d in file["disputes"]:
        events.append(
            event(
                d["opened_on"], "dispute opened", d["opened_by"], f"{d['invoice']}: {d['reason']}"
            )
        )
        if d["resolved_on"] is not None:
            events.append(
                event(d["resolved_on"], "dispute resolved", d["resolved_by"],
                      f"{d['invoice']}: {d['resolution']}")
            )  # fmt: skip
    for a in file["steps"]:
        events.append(
            event(a["as_of"], f"dunning: {a['level_name']}", "collections",
                  f"{fmt_money(a['overdue_total'], a['currency'])} by {a['channel']}")
        )  # fmt: skip
    for n in file["notices"]:
        if n["status"] in (NoticeStatus.SENT, NoticeStatus.FAILED):
            when = (n["sent_at"] or n["created_at"]).date()
            events.append(
                event(when, f"notice {n['kind']} {n['status']}", "", n["subject"], notice=n["id"])
            )
    events.sort(key=lambda e: e["on"], reverse=True)
    return events[:30]


def hold_view(
    policy: PolicyBody, line: CreditLine | None, currencies: list[View], *, manager: bool
) -> View:
    reason = (line.hold_reason or "") if line else ""
    place, release = (
        place_refusal(policy, line, currencies),
        release_refusal(line, manager=manager),
    )
    holds = [lv for lv in policy.dunning.levels if lv.action == DunningActionKind.CREDIT_HOLD]
    return {
        "policy": (
            f"The policy puts the credit line on hold at dunning level {holds[0].level} "
            f"({holds[0].label}); the collections run releases that hold when the overdue "
            "balance is paid. A hold placed by hand may bring it forward while something is "
            f"overdue beyond the tolerance ({policy.dunning.tolerance}); it stays until it is "
            "released by hand."
            if holds
            else "The policy puts no credit line on hold (no dunning level has action credit_hold)."
        ),
        "manager_only": reason.startswith(DUNNING_HOLD),
        "can_place": place is None,
        "place_refusal": place or "",
        "can_release": release is None,
        "release_refusal": release or "",
    }
