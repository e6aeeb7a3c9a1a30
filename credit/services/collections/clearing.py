"""An episode closed: the overdue balance is paid (or offset) within the tolerance. The step is
recorded at level 0, the worklist cases close, and a hold dunning put on the line is released."""

from __future__ import annotations

from sqlmodel import select

from credit import audit
from credit.db.models import CollectionCase, CreditLine, LineStatus, utcnow
from credit.domain.money import ZERO
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.receivables_status import CaseStatus
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.collections.steps import enqueue
from credit.services.views import customer_view, line_view

PAID = "overdue balance paid"


def clear_episode(run: DunningRun, pos: CustomerPosition) -> list[str]:
    """Close the episode; the notice kinds queued (those of a released hold)."""
    run.batch.record_step(
        run.session,
        {
            "customer_id": pos.customer.id,
            "currency": pos.currency,
            "episode": pos.state.episode,
            "level": 0,
            "level_name": "cleared",
            "as_of": run.as_of,
            "invoice_numbers": [],
            "overdue_total": ZERO,
            "policy_version": run.version,
            "channel": "email",
            "details": None,
            "created_at": utcnow(),
        },
    )
    audit.record(
        run.session,
        actor="collections",
        action="dunning.cleared",
        entity_type="customer",
        entity_id=pos.customer.code,
        before={"level": pos.state.level, "currency": pos.currency, "episode": pos.state.episode},
        after={"level": 0, "currency": pos.currency},
        reason=PAID,
        policy_version=run.version,
    )
    _close_cases(run, pos)
    line = pos.line
    if (
        line is not None
        and line.status == LineStatus.ON_HOLD
        and (line.hold_reason or "").startswith("dunning:")
        and not _held_in_other_currency(run, pos)
    ):
        return _release_hold(run, pos, line)
    return []


def _close_cases(run: DunningRun, pos: CustomerPosition) -> None:
    s = run.session
    for case in s.exec(
        select(CollectionCase).where(
            CollectionCase.customer_id == pos.customer.id,
            CollectionCase.currency == pos.currency,
            CollectionCase.status == CaseStatus.OPEN,
        )
    ):
        case.status, case.closed_on, case.closed_by, case.closed_reason = (
            CaseStatus.CLOSED,
            run.as_of,
            "collections",
            PAID,
        )
        s.add(case)
        audit.record(
            s,
            actor="collections",
            action="worklist.closed",
            entity_type="customer",
            entity_id=pos.customer.code,
            before={"status": CaseStatus.OPEN, "reason": case.reason},
            after={"status": CaseStatus.CLOSED},
            reason=PAID,
            policy_version=run.version,
        )


def _held_in_other_currency(run: DunningRun, pos: CustomerPosition) -> bool:
    """Whether another currency of the customer is still at or past the hold level: paying the
    euro invoices does not lift a hold the dollar invoices caused."""
    hold_levels = [
        lv.level for lv in run.policy.dunning.levels if lv.action == DunningActionKind.CREDIT_HOLD
    ]
    if not hold_levels:
        return False
    return any(
        state.level >= min(hold_levels)
        for cur, state in run.batch.state.get(pos.customer_id, {}).items()
        if cur != pos.currency
    )


def _release_hold(run: DunningRun, pos: CustomerPosition, line: CreditLine) -> list[str]:
    s, customer = run.session, pos.customer
    before = line_view(line)
    line.status, line.hold_reason, line.updated_at = LineStatus.ACTIVE, None, utcnow()
    s.add(line)
    audit.record(
        s,
        actor="collections",
        action="credit_line.release",
        entity_type="credit_line",
        entity_id=customer.code,
        before=before,
        after=line_view(line),
        reason=PAID,
        policy_version=run.version,
    )
    ctx = {
        "customer": customer_view(customer),
        "line": line_view(line),
        "as_of": run.as_of,
        "currency": pos.currency,
        "audience": "customer",
    }
    # The customer and the internal teams get separate messages: no internal addresses leak.
    prefix = f"hold-released:{pos.episode_key}"
    to = run.batch.addresses(run.session, customer)
    return [
        enqueue(
            run,
            key=f"{prefix}:customer",
            kind="credit_hold_released",
            locale=customer.locale,
            recipients=to.recipients,
            customer=customer,
            ctx=ctx,
            cc=to.cc,
        ),
        enqueue(
            run,
            key=f"{prefix}:internal",
            kind="credit_hold_released",
            locale="en",
            recipients=[customer.sales_owner_email, run.app.directory.teams.credit],
            customer=customer,
            ctx={**ctx, "audience": "internal"},
        ),
    ]
