"""Promises to pay, as a collections run settles them: kept, or broken (a high risk signal)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from credit import audit
from credit.db.models import Payment, PaymentPromise
from credit.domain.money import money
from credit.domain.receivables_status import PaymentStatus, PromiseStatus
from credit.domain.signals import Signal
from credit.services.collections.state import CustomerPosition, DunningRun


def paid_between(s: Session, *, customer_id: int, currency: str, start: date, end: date) -> Decimal:
    """What the customer paid in ``currency`` from ``start`` to ``end``, both included."""
    total = s.exec(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.customer_id == customer_id,
            Payment.currency == currency,
            Payment.status == PaymentStatus.RECEIVED,
            Payment.paid_on >= start,
            Payment.paid_on <= end,
        )
    ).one()
    return Decimal(total)


def promise_expired(run: DunningRun, promise: PaymentPromise) -> bool:
    """Whether the promised day and the grace days the policy allows for bank imports are past."""
    grace = timedelta(days=run.policy.dunning.promise_grace_days)
    return promise.promised_for + grace < run.as_of


def settle_promise(run: DunningRun, pos: CustomerPosition, promise: PaymentPromise) -> bool:
    """Decide whether an expired promise was kept; a broken one raises a risk signal. Nothing is
    written on a dry run."""
    dunning_rules = run.policy.dunning
    # Payments made by the promised date (and within the grace days the policy allows for
    # bank imports) count.
    paid = paid_between(
        run.session,
        customer_id=pos.customer_id,
        currency=promise.currency,
        start=promise.recorded_on,
        end=promise.promised_for + timedelta(days=dunning_rules.promise_grace_days),
    )
    kept = (
        paid >= promise.amount - dunning_rules.tolerance
        or pos.owed.overdue_total <= dunning_rules.tolerance
    )
    if run.dry_run:
        return kept
    record_settlement(run, pos, promise, paid=paid, kept=kept)
    if not kept:
        signal_broken(run, pos, promise, paid=paid)
    return kept


def record_settlement(
    run: DunningRun, pos: CustomerPosition, promise: PaymentPromise, *, paid: Decimal, kept: bool
) -> None:
    s = run.session
    before = {"status": promise.status}
    promise.status = PromiseStatus.KEPT if kept else PromiseStatus.BROKEN
    promise.settled_on, promise.paid = run.as_of, paid
    s.add(promise)
    audit.record(
        s,
        actor="collections",
        action=f"promise.{promise.status}",
        entity_type="customer",
        entity_id=pos.customer.code,
        before=before,
        after={
            "status": promise.status,
            "amount": promise.amount,
            "currency": promise.currency,
            "promised_for": promise.promised_for,
            "paid": paid,
        },
        reason=f"paid {money(paid)} {promise.currency} of {money(promise.amount)} promised by "
        f"{promise.promised_for.isoformat()}",
        policy_version=run.version,
    )


def signal_broken(
    run: DunningRun, pos: CustomerPosition, promise: PaymentPromise, *, paid: Decimal
) -> None:
    from credit.services.risk import record_signals

    record_signals(
        run.app,
        run.session,
        customer=pos.customer,
        found=[
            Signal(
                kind="broken_promise",
                severity="high",
                detail=(
                    f"promised {money(promise.amount)} {promise.currency} by "
                    f"{promise.promised_for.isoformat()} ({promise.recorded_by}); "
                    f"paid {money(paid)}"
                ),
                key=f"broken_promise:{promise.id}",
            )
        ],
        as_of=run.as_of,
        policy_version=run.version,
    )
