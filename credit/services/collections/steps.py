"""A dunning step taken: the step row, its charges, the hold of the credit line, the worklist
case, the audit events and the notices, all in the run's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from credit import audit, notices
from credit.db.models import CollectionCase, CreditLine, Customer, LineStatus, utcnow
from credit.domain import calendar, dunning
from credit.domain.money import ZERO, money
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import DunningChannel, DunningLevel
from credit.domain.receivables_status import CaseReason, CaseStatus
from credit.domain.words import counted
from credit.faults import checkpoint
from credit.services import letters
from credit.services.account_statement import account_statement
from credit.services.collections.charges import book_charges
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.contacts import collections_addresses
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
    run: DunningRun, pos: CustomerPosition, *, step: DunningLevel, forced: bool
) -> StepTaken:
    """Record the step, its charges and hold, and queue its notices."""
    new_charges: list[dunning.OpenItem] = []
    details: dict[str, Any] = {}
    if step.action == DunningActionKind.CHARGE:
        new_charges, details = book_charges(run, pos, step)
    listed = [*pos.owed.overdue_items, *new_charges]
    total = sum((i.open_amount for i in listed), ZERO) + sum(
        (c.open_amount for c in pos.owed.credits), ZERO
    )
    if forced:
        details["broken_promise"] = True
    channel, note = step.channel, ""
    if channel == DunningChannel.LETTER and not (pos.customer.postal_address or "").strip():
        # A letter nobody can post is not sent: it goes by e-mail and the run says why.
        channel, note = DunningChannel.EMAIL, "no postal address on file: the letter went by e-mail"
    _record_step(run, pos, step=step, listed=listed, total=total, channel=channel, details=details)
    _audit_step(run, pos, step=step, total=total, forced=forced, new_charges=new_charges)
    line = pos.line
    if (
        step.action == DunningActionKind.CREDIT_HOLD
        and line is not None
        and line.status == LineStatus.ACTIVE
    ):
        _hold_line(run, pos, line, step=step, total=total)
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
    ctx["level"]["channel"] = channel.value
    if channel != DunningChannel.CALL:
        _letter_details(run, pos, step=step, channel=channel, ctx=ctx)
    queued = _queue_notices(run, pos, step=step, channel=channel, ctx=ctx)
    return StepTaken(notices=queued, channel=channel.value, note=note)


def _letter_details(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    channel: DunningChannel,
    ctx: dict[str, Any],
) -> None:
    """What the customer's letter needs to be paid from: its RF reference (issued now, in the
    run's transaction, under the notice's key), the account for the currency; and the statement
    of account when the level attaches one."""
    ctx["remittance"] = letters.remittance(
        run.app,
        run.session,
        customer=pos.customer,
        asked=letters.Asked(
            pos.currency, ctx["overdue_total"], [i["number"] for i in ctx["invoices"]]
        ),
        purpose="dunning",
        notice_key=_customer_notice_key(pos, step),
        as_of=run.as_of,
        channel=channel.value,
    )
    if step.attach_statement:
        ctx["account_statement"] = account_statement(
            run.app, run.session, pos.customer, as_of=run.as_of
        )


def _customer_notice_key(pos: CustomerPosition, step: DunningLevel) -> str:
    """The idempotency key of the level's notice to the customer."""
    return f"dunning:{pos.episode_key}:l{step.level}"


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
) -> None:
    audit.record(
        run.session,
        actor="collections",
        action="dunning.level",
        entity_type="customer",
        entity_id=pos.customer.code,
        before={"level": step.level - 1},
        after={
            "level": step.level,
            "name": step.name,
            "channel": step.channel.value,
            "overdue_total": total,
            "currency": pos.currency,
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
            reason=f"{step.label}: late fee and interest per policy",
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
        reason=f"{step.label}: {money(total)} {currency} overdue",
        policy_version=run.version,
    )


def _queue_notices(
    run: DunningRun,
    pos: CustomerPosition,
    *,
    step: DunningLevel,
    channel: DunningChannel,
    ctx: dict[str, Any],
) -> list[str]:
    """The level's notice (or the collections team's call task), and the internal notices of a
    hold or a handover."""
    customer, teams = pos.customer, run.app.directory.teams
    key = f"{pos.episode_key}:l{step.level}"
    queued: list[str] = []

    def send(kind: str, prefix: str, locale: str, recipients: list[str], **kw: Any) -> None:
        queued.append(
            enqueue(
                run,
                key=f"{prefix}:{key}",
                kind=kind,
                locale=locale,
                recipients=recipients,
                customer=customer,
                ctx=ctx,
                **kw,
            )
        )

    if channel == DunningChannel.CALL:
        _open_case(run, pos, reason=CaseReason.CALL, level=step.level)
        send("call_task", "call-task", "en", [teams.collections])
    else:
        to = collections_addresses(run.session, customer, channel=channel.value)
        send(
            step.template,
            "dunning",
            customer.locale,
            to.recipients,
            letter_by=channel.value,
            cc=to.cc,
        )
    if step.action == DunningActionKind.CREDIT_HOLD:
        # Sales hears of the hold level even without a credit line: no new orders on credit.
        send("credit_hold_sales", "credit-hold", "en", [customer.sales_owner_email, teams.credit])
    if step.action == DunningActionKind.HANDOVER:
        _open_case(run, pos, reason=CaseReason.HANDOVER, level=step.level)
        send("handover_collections", "handover", "en", [teams.collections])
    return queued


def _open_case(run: DunningRun, pos: CustomerPosition, *, reason: CaseReason, level: int) -> None:
    s = run.session
    s.add(
        CollectionCase(
            customer_id=pos.customer_id,
            currency=pos.currency,
            episode=pos.state.episode,
            reason=reason,
            level=level,
            opened_on=run.as_of,
        )
    )
    s.flush()
    audit.record(
        s,
        actor="collections",
        action=f"worklist.{reason}",
        entity_type="customer",
        entity_id=pos.customer.code,
        after={"currency": pos.currency, "level": level, "status": CaseStatus.OPEN},
        reason=(
            "handed over to the collections team" if reason == CaseReason.HANDOVER else "call task"
        ),
        policy_version=run.version,
    )
