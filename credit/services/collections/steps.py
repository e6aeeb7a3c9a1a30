"""A dunning step taken: the step row, its charges, the hold of the credit line, the worklist
case, the audit events and the notices, all in the run's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import select

from credit import audit, notices
from credit.db.models import CollectionCase, CreditLine, Customer, LineStatus, utcnow
from credit.domain import calendar, dunning
from credit.domain.dunning_items import ItemPlan
from credit.domain.money import ZERO, money
from credit.domain.policy import DunningChannel, DunningLevel
from credit.domain.receivables_status import CaseReason, CaseStatus
from credit.domain.words import counted
from credit.faults import checkpoint
from credit.services import letters
from credit.services.account_statement import account_statement
from credit.services.casework.assignment import case_collector
from credit.services.collections import items
from credit.services.collections.charges import book_charges
from credit.services.collections.profiles import named, profile_words
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.views import customer_view, line_view


@dataclass(frozen=True)
class StepTaken:
    """What :func:`apply_dunning` did: the notice kinds queued, the channel used and a note for
    the run's report (why the channel differs from the level's)."""

    notices: list[str]
    channel: str
    note: str


def notice_context(
    *,
    customer: Customer,
    currency: str,
    step: DunningLevel,
    listed: list[dunning.OpenItem],
    credits: list[dunning.OpenItem],
    as_of: date,
    line: CreditLine | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    """What a dunning notice shows: every overdue invoice and charge with its open balance and days
    overdue, the credits that reduce it, and a total that is exactly their sum."""
    total = sum((i.open_amount for i in listed), ZERO) + sum((c.open_amount for c in credits), ZERO)
    invoices = [
        {
            "number": i.number,
            "kind": i.kind,
            "due_date": i.due_date,
            "open_amount": i.open_amount,
            "days_overdue": i.days_overdue(as_of),
        }
        for i in listed
    ]
    return {
        "customer": customer_view(customer),
        "as_of": as_of,
        "currency": currency,
        "level": {
            "number": step.level,
            "name": step.name,
            "label": step.label,
            "channel": step.channel.value,
        },
        "overdue_total": total,
        "invoices": invoices,
        "credits": [
            {
                "number": c.number,
                "kind": c.kind,
                "date": c.due_date,
                "amount": c.open_amount,
            }
            for c in credits
        ],
        "interest": details.get("interest"),
        "fee": details.get("fee"),
        # A long list: the e-mail summarises it (the attached PDF lists every item).
        "summary": letters.summary(invoices),
        "line": line_view(line) if line else None,
        # The date payment is asked for: the policy's days to pay, on a business day there.
        "pay_by": calendar.next_business_day(
            as_of + timedelta(days=step.pay_within_days), customer.country
        ),
    }


def enqueue(  # noqa: PLR0913  # the outbox entry's own fields, each named
    run: DunningRun,
    *,
    key: str,
    kind: str,
    locale: str,
    recipients: list[str],
    customer: Customer,
    ctx: dict[str, Any],
    letter_by: str | None = None,
    cc: list[str] | None = None,
) -> str:
    """Queue a notice about the customer in the outbox; its kind. ``letter_by``: the notice is
    the customer's letter, sent by this channel (email or letter) with its PDF; otherwise an
    e-mail. ``cc``: who gets a copy (the customer's contacts on CC)."""
    notices.enqueue(
        run.session,
        run.app.renderer,
        key=key,
        kind=kind,
        locale=locale,
        recipients=recipients,
        customer_id=customer.id,
        context=ctx,
        channel=letter_by or "email",
        letter=letter_by is not None,
        cc=cc or [],
    )
    return kind


def apply_dunning(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    forced: bool,
    item_plan: ItemPlan,
) -> StepTaken:
    """Record the step (at the notice's level, ``step``) and the levels its items climbed to, the
    charges and the hold of the levels they reached, and queue its notices."""
    act = items.effects(run.policy, item_plan)
    new_charges, details = book_charges(run, pos, act, item_plan)
    listed = [*pos.owed.overdue_items, *new_charges]
    total = sum((i.open_amount for i in listed), ZERO) + sum(
        (c.open_amount for c in pos.owed.credits), ZERO
    )
    if forced:
        details["broken_promise"] = True
    details.update(named(run))  # the dunning profile followed (policies with profiles)
    channel, note = step.channel, ""
    if channel == DunningChannel.LETTER and not (pos.customer.postal_address or "").strip():
        # A letter nobody can post is not sent: it goes by e-mail and the run says why.
        channel, note = DunningChannel.EMAIL, "no postal address on file: the letter went by e-mail"
    _record_step(run, pos, step=step, listed=listed, total=total, channel=channel, details=details)
    items.record(run, pos, item_plan)
    _audit_step(run, pos, step=step, total=total, forced=forced, new_charges=new_charges,
                climbs=dict(item_plan.climbs))  # fmt: skip
    line = pos.line
    if act.hold is not None and line is not None and line.status == LineStatus.ACTIVE:
        _hold_line(run, pos, line, step=act.hold, total=total)
    ctx = notice_context(
        customer=pos.customer,
        currency=pos.currency,
        step=step,
        listed=listed,
        credits=pos.owed.credits,
        as_of=run.as_of,
        line=line,
        details=details,
    )
    items.list_levels(ctx, item_plan)
    ctx["level"]["channel"] = channel.value
    suffix = items.key_suffix(pos, step.level)
    ctx.update(named(run))
    if channel != DunningChannel.CALL:
        _letter_details(run, pos, step=step, channel=channel, ctx=ctx, suffix=suffix)
    queued = _queue_notices(run, pos, step=step, channel=channel, ctx=ctx, act=act, suffix=suffix)
    return StepTaken(notices=queued, channel=channel.value, note=note)


def _letter_details(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    channel: DunningChannel,
    ctx: dict[str, Any],
    suffix: str,
) -> None:
    """What the customer's letter needs to be paid from: its RF reference (issued now, in the
    run's transaction, under the notice's key), the account for the currency; and the statement
    of account when the level attaches one."""
    numbers = [i["number"] for i in ctx["invoices"]]
    ctx["remittance"] = letters.remittance(
        run.app,
        run.session,
        customer=pos.customer,
        asked=letters.Asked(
            pos.currency,
            ctx["overdue_total"],
            numbers,
            # their ids from the batch's one read of its customers' invoices
            run.batch.invoice_ids(run.session, pos.customer, numbers),
        ),
        purpose="dunning",
        notice_key=_customer_notice_key(pos, step, suffix),
        as_of=run.as_of,
        channel=channel.value,
    )
    if step.attach_statement:
        ctx["account_statement"] = account_statement(
            run.app, run.session, pos.customer, as_of=run.as_of
        )


def _customer_notice_key(pos: CustomerPosition, step: DunningLevel, suffix: str) -> str:
    """The idempotency key of the level's notice to the customer (``suffix``: the level's
    notices already sent in the episode, :func:`items.key_suffix`)."""
    return f"dunning:{pos.episode_key}:l{step.level}{suffix}"


def _record_step(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    listed: list[dunning.OpenItem],
    total: Decimal,
    channel: DunningChannel,
    details: dict[str, Any],
) -> None:
    run.batch.record_step(
        run.session,
        {
            "customer_id": pos.customer.id,
            "currency": pos.currency,
            "episode": pos.state.episode,
            "level": step.level,
            "level_name": step.name,
            "as_of": run.as_of,
            "invoice_numbers": [i.number for i in listed],
            "overdue_total": total,
            "policy_version": run.version,
            "channel": channel.value,
            "details": details or None,
            "created_at": utcnow(),
        },
    )


def _audit_step(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    total: Decimal,
    forced: bool,
    new_charges: list[dunning.OpenItem],
    climbs: dict[str, int],
) -> None:
    audit.record(
        run.session,
        actor="collections",
        action="dunning.level",
        entity_type="customer",
        entity_id=pos.customer.code,
        # The customer's level (its highest item's) and the levels of the items that climbed.
        before={"level": pos.state.level, "items": {n: lv - 1 for n, lv in climbs.items()}},
        after={
            "level": step.level,
            "name": step.name,
            "channel": step.channel.value,
            "overdue_total": total,
            "currency": pos.currency,
            "items": climbs,
            **named(run),
        },
        reason=(
            "promise to pay broken"
            if forced
            else f"oldest invoice {counted(pos.owed.oldest_days_overdue, 'day')} overdue"
        ),
        policy_version=run.version,
    )
    if new_charges:
        audit.record(
            run.session,
            actor="collections",
            action="dunning.charge",
            entity_type="customer",
            entity_id=pos.customer.code,
            after={c.number: c.open_amount for c in new_charges},
            reason=f"{step.label}{profile_words(run)}: late fee and interest per policy",
            policy_version=run.version,
        )


def _hold_line(
    run: DunningRun, pos: CustomerPosition, line: CreditLine, *, step: DunningLevel, total: Decimal
) -> None:
    s, customer, currency = run.session, pos.customer, pos.currency
    before = line_view(line)
    line.status, line.hold_reason, line.updated_at = (
        LineStatus.ON_HOLD,
        f"dunning:{step.name}:{currency}",
        utcnow(),
    )
    s.add(line)
    checkpoint("collections.hold")
    from credit.services.service_desk import open_service_task

    # Sales hears of the hold (credit_hold_sales); customer service gets a follow-up.
    open_service_task(
        run.app,
        s,
        customer=customer,
        key=f"hold:{pos.episode_key}",
        reason=f"credit line on hold: {money(total)} {currency} overdue ({step.label})",
        as_of=run.as_of,
        notify=False,
    )
    audit.record(
        s,
        actor="collections",
        action="credit_line.hold",
        entity_type="credit_line",
        entity_id=customer.code,
        before=before,
        after=line_view(line),
        reason=f"{step.label}{profile_words(run)}: {money(total)} {currency} overdue",
        policy_version=run.version,
    )


def _queue_notices(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    channel: DunningChannel,
    ctx: dict[str, Any],
    act: items.Effects,
    suffix: str,
) -> list[str]:
    """The level's notice (or the collections team's call task), and the internal notices of a
    hold or a handover reached by an item (once per episode and level: the same key)."""
    customer, teams = pos.customer, run.app.directory.teams
    queued: list[str] = []

    def send(kind: str, key: str, locale: str, recipients: list[str], **kw: Any) -> None:
        queued.append(
            enqueue(
                run,
                key=key,
                kind=kind,
                locale=locale,
                recipients=recipients,
                customer=customer,
                ctx=ctx,
                **kw,
            )
        )

    key = f"{pos.episode_key}:l{step.level}"
    if channel == DunningChannel.CALL:
        _open_case(run, pos, reason=CaseReason.CALL, level=step.level)
        send("call_task", f"call-task:{key}{suffix}", "en", [teams.collections])
    else:
        to = run.batch.addresses(run.session, customer, channel.value)
        send(step.template, f"dunning:{key}{suffix}", customer.locale, to.recipients,
             letter_by=channel.value, cc=to.cc)  # fmt: skip
    if act.hold is not None:
        # Sales hears of the hold level even without a credit line: no new orders on credit.
        send("credit_hold_sales", f"credit-hold:{pos.episode_key}:l{act.hold.level}", "en",
             [customer.sales_owner_email, teams.credit])  # fmt: skip
    if act.handover is not None:
        _open_case(run, pos, reason=CaseReason.HANDOVER, level=act.handover.level)
        send("handover_collections", f"handover:{pos.episode_key}:l{act.handover.level}", "en",
             [teams.collections])  # fmt: skip
    return queued


def _open_case(run: DunningRun, pos: CustomerPosition, *, reason: CaseReason, level: int) -> None:
    """A case on the worklist, once per episode, reason and level (an item climbing to a level
    another item reached before finds it open)."""
    s = run.session
    if s.exec(
        select(CollectionCase.id).where(
            CollectionCase.customer_id == pos.customer_id,
            CollectionCase.currency == pos.currency,
            CollectionCase.episode == pos.state.episode,
            CollectionCase.reason == reason,
            CollectionCase.level == level,
        )
    ).first():
        return
    pick = case_collector(
        run.app, s, run.policy, customer=pos.customer, currency=pos.currency,
        overdue=pos.owed.overdue_total, line=pos.line, as_of=run.as_of,
    )  # fmt: skip
    s.add(
        CollectionCase(
            customer_id=pos.customer_id,
            currency=pos.currency,
            episode=pos.state.episode,
            reason=reason,
            level=level,
            opened_on=run.as_of,
            collector=pick.collector,
        )
    )
    s.flush()
    audit.record(
        s,
        actor="collections",
        action=f"worklist.{reason}",
        entity_type="customer",
        entity_id=pos.customer.code,
        after={"currency": pos.currency, "level": level, "status": CaseStatus.OPEN}
        | {"collector": pick.collector, "assigned": pick.why},
        reason=(
            "handed over to the collections team" if reason == CaseReason.HANDOVER else "call task"
        ),
        policy_version=run.version,
    )
