"""Collections: the next dunning step per customer and currency, holds and handovers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from credit import audit, notices
from credit.app import App
from credit.db.models import (
    CreditLine,
    Customer,
    DunningAction,
    Invoice,
    LineStatus,
    utcnow,
)
from credit.domain import dunning
from credit.domain.money import ZERO
from credit.domain.policy import DunningAction as DunningActionKind
from credit.services._common import _customer_view, _line_view
from credit.services.ledger import _dunning_state, open_items


def collection_candidates(app: App, *, as_of: date) -> list[int]:
    """Customers with something past due, or in a dunning episode that may now close."""
    with app.uow() as uow:
        s = uow.session
        overdue = (
            select(Invoice.customer_id)
            .where(Invoice.due_date < as_of, Invoice.amount > 0)
            .distinct()
        )
        in_dunning = select(DunningAction.customer_id).distinct()
        ids = set(s.exec(overdue)) | set(s.exec(in_dunning))
        return sorted(ids)


@dataclass
class DunningOutcome:
    customer: str
    currency: str
    level: int
    level_name: str
    overdue_total: str
    invoices: list[str]
    action: str
    status: str  # sent | would_send | already_done | cleared | nothing_due


def dun_customer(app: App, *, customer_id: int, as_of: date, dry_run: bool) -> list[DunningOutcome]:
    """Age one customer's open items and take the next dunning step per currency, in one
    transaction: the action, the hold, the audit events and the notices land together or not at
    all. A concurrent run that got there first makes this one a no-op (unique constraint)."""
    outcomes: list[DunningOutcome] = []
    with app.uow() as uow:
        s = uow.session
        customer = s.get(Customer, customer_id)
        assert customer is not None
        version, policy = app.published_policy(s)
        items_by_cur = open_items(s, customer_id, as_of)
        currencies = set(items_by_cur) | {
            a.currency
            for a in s.exec(select(DunningAction).where(DunningAction.customer_id == customer_id))
        }
        for currency in sorted(currencies):
            position = dunning.dunning_position(items_by_cur.get(currency, []), as_of)
            episode, level, last_day = _dunning_state(s, customer_id, currency)
            base = dict(
                customer=customer.code,
                currency=currency,
                overdue_total=str(position.overdue_total),
                invoices=[i.number for i in position.overdue_items],
            )
            if last_day is not None and last_day >= as_of:
                # One step per customer and business day: a rerun for the same date (or a late run
                # for an earlier date) changes nothing.
                outcomes.append(
                    DunningOutcome(
                        **base, level=level, level_name="", action="none", status="nothing_due"
                    )
                )
                continue
            if position.overdue_total <= policy.dunning.tolerance:
                if level > 0:
                    cleared = DunningOutcome(
                        **base,
                        level=0,
                        level_name="cleared",
                        action="release",
                        status="would_clear" if dry_run else "cleared",
                    )
                    outcomes.append(cleared)
                    if not dry_run:
                        try:
                            with s.begin_nested():
                                _clear_episode(app, s, customer, currency, episode, as_of, version)
                        except IntegrityError:
                            cleared.status = "already_done"
                continue
            step = dunning.next_dunning_level(current_level=level, position=position, policy=policy)
            if step is None:
                outcomes.append(
                    DunningOutcome(
                        **base,
                        level=level,
                        level_name="" if level == 0 else policy.dunning_level(level).name,
                        action="none",
                        status="nothing_due",
                    )
                )
                continue
            outcome = DunningOutcome(
                **base,
                level=step.level,
                level_name=step.name,
                action=step.action,
                status="would_send" if dry_run else "sent",
            )
            outcomes.append(outcome)
            if dry_run:
                continue
            try:
                with s.begin_nested():
                    _apply_dunning(
                        app, s, customer, currency, episode, step, position, as_of, version
                    )
            except IntegrityError:
                outcome.status = "already_done"
        if not dry_run:
            uow.commit()
    return outcomes


def _apply_dunning(
    app: App,
    s: Session,
    customer: Customer,
    currency: str,
    episode: int,
    step: Any,
    position: dunning.DunningPosition,
    as_of: date,
    version: int,
) -> None:
    action = DunningAction(
        customer_id=customer.id,
        currency=currency,
        episode=episode,
        level=step.level,  # type: ignore[arg-type]
        level_name=step.name,
        as_of=as_of,
        invoice_numbers=[i.number for i in position.overdue_items],
        overdue_total=position.overdue_total,
        policy_version=version,
    )
    s.add(action)
    s.flush()  # the unique (customer, currency, episode, level) guard fires here
    audit.record(
        s,
        actor="collections",
        action="dunning.level",
        entity_type="customer",
        entity_id=customer.code,
        before={"level": step.level - 1},
        after={
            "level": step.level,
            "name": step.name,
            "overdue_total": position.overdue_total,
            "currency": currency,
        },
        reason=f"oldest invoice {position.oldest_days_overdue} days overdue",
        policy_version=version,
    )
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    if (
        step.action == DunningActionKind.CREDIT_HOLD
        and line is not None
        and line.status == LineStatus.ACTIVE
    ):
        before = _line_view(line)
        line.status, line.hold_reason, line.updated_at = (
            LineStatus.ON_HOLD,
            f"dunning:{step.name}:{currency}",
            utcnow(),
        )
        s.add(line)
        audit.record(
            s,
            actor="collections",
            action="credit_line.hold",
            entity_type="credit_line",
            entity_id=customer.code,
            before=before,
            after=_line_view(line),
            reason=f"{step.label}: {position.overdue_total} {currency} overdue",
            policy_version=version,
        )
    ctx = {
        "customer": _customer_view(customer),
        "as_of": as_of.isoformat(),
        "currency": currency,
        "level": {"number": step.level, "name": step.name, "label": step.label},
        "overdue_total": position.overdue_total,
        "invoices": [
            {
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "open_amount": i.open_amount,
                "days_overdue": i.days_overdue(as_of),
            }
            for i in position.overdue_items
        ],
        "line": _line_view(line) if line else None,
    }
    notices.enqueue(
        s,
        app.renderer,
        key=f"dunning:{customer.code}:{currency}:e{episode}:l{step.level}",
        kind=step.template,
        locale=customer.locale,
        recipients=[customer.email],
        customer_id=customer.id,
        context=ctx,
    )
    if step.action == DunningActionKind.CREDIT_HOLD:
        # Sales hears of the hold level even without a credit line: no new orders on credit.
        notices.enqueue(
            s,
            app.renderer,
            key=f"credit-hold:{customer.code}:{currency}:e{episode}",
            kind="credit_hold_sales",
            locale="en",
            recipients=[customer.sales_owner_email, app.directory.teams.credit],
            customer_id=customer.id,
            context=ctx,
        )
    if step.action == DunningActionKind.HANDOVER:
        notices.enqueue(
            s,
            app.renderer,
            key=f"handover:{customer.code}:{currency}:e{episode}",
            kind="handover_collections",
            locale="en",
            recipients=[app.directory.teams.collections],
            customer_id=customer.id,
            context=ctx,
        )


def _held_in_other_currency(app: App, s: Session, customer: Customer, cleared: str) -> bool:
    """Whether another currency of the customer is still at or past the hold level: paying the
    euro invoices does not lift a hold the dollar invoices caused."""
    _, policy = app.published_policy(s)
    hold_levels = [
        lv.level for lv in policy.dunning.levels if lv.action == DunningActionKind.CREDIT_HOLD
    ]
    if not hold_levels:
        return False
    others = {
        a.currency
        for a in s.exec(select(DunningAction).where(DunningAction.customer_id == customer.id))
        if a.currency != cleared
    }
    return any(_dunning_state(s, customer.id, cur)[1] >= min(hold_levels) for cur in others)  # type: ignore[arg-type]


def _clear_episode(
    app: App, s: Session, customer: Customer, currency: str, episode: int, as_of: date, version: int
) -> None:
    s.add(
        DunningAction(
            customer_id=customer.id,
            currency=currency,
            episode=episode,
            level=0,  # type: ignore[arg-type]
            level_name="cleared",
            as_of=as_of,
            invoice_numbers=[],
            overdue_total=ZERO,
            policy_version=version,
        )
    )
    s.flush()  # the unique (customer, currency, episode, 0) guard fires here
    audit.record(
        s,
        actor="collections",
        action="dunning.cleared",
        entity_type="customer",
        entity_id=customer.code,
        after={"level": 0, "currency": currency},
        reason="overdue balance paid",
        policy_version=version,
    )
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    if (
        line is not None
        and line.status == LineStatus.ON_HOLD
        and (line.hold_reason or "").startswith("dunning:")
        and not _held_in_other_currency(app, s, customer, currency)
    ):
        before = _line_view(line)
        line.status, line.hold_reason, line.updated_at = LineStatus.ACTIVE, None, utcnow()
        s.add(line)
        audit.record(
            s,
            actor="collections",
            action="credit_line.release",
            entity_type="credit_line",
            entity_id=customer.code,
            before=before,
            after=_line_view(line),
            reason="overdue balance paid",
            policy_version=version,
        )
        ctx = {
            "customer": _customer_view(customer),
            "line": _line_view(line),
            "as_of": as_of.isoformat(),
            "currency": currency,
        }
        # The customer and the internal teams get separate messages: no internal addresses leak.
        notices.enqueue(
            s,
            app.renderer,
            key=f"hold-released:{customer.code}:{currency}:e{episode}:customer",
            kind="credit_hold_released",
            locale=customer.locale,
            recipients=[customer.email],
            customer_id=customer.id,
            context=ctx,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"hold-released:{customer.code}:{currency}:e{episode}:internal",
            kind="credit_hold_released",
            locale="en",
            recipients=[customer.sales_owner_email, app.directory.teams.credit],
            customer_id=customer.id,
            context=ctx,
        )


def dun_customers(
    app: App, *, customer_ids: list[int], as_of: date, dry_run: bool
) -> list[dict[str, Any]]:
    """Collections for a batch of customers: one transaction per customer."""
    out = []
    for cid in customer_ids:
        out.extend(
            asdict(o) for o in dun_customer(app, customer_id=cid, as_of=as_of, dry_run=dry_run)
        )
    return out
