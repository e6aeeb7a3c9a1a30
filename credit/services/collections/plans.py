"""Promises and instalment plans as a collections run judges them: a promise on its date, a
plan instalment by instalment (kept instalments are recorded; the first broken one breaks the
plan: a high risk signal, and escalation resumes one level up at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from credit import audit
from credit.db.models import PaymentPromise
from credit.db.models_plans import PromiseInstalment
from credit.domain import instalments as rules
from credit.domain.money import fmt_money, money
from credit.services.collections.promises import (
    paid_between,
    promise_expired,
    record_settlement,
    settle_promise,
    signal_broken,
)
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.receivables.plans import as_plan, instalment_rows


@dataclass(frozen=True)
class Judged:
    """What a run made of the open promise: what its outcome says, whether the promise (or
    plan) is settled today and whether it broke."""

    note: str = ""
    settled: bool = False
    broken: bool = False


def judge_promise(run: DunningRun, pos: CustomerPosition, promise: PaymentPromise) -> Judged:
    """Judge the customer's open promise on the run's day: a single-date promise once its date
    (and grace days) are past; a plan's instalments each on theirs."""
    rows = instalment_rows(run.session, promise.id)
    if not rows:
        if not promise_expired(run, promise):
            return Judged()
        kept = settle_promise(run, pos, promise)
        note = "promise kept; " if kept else "promise broken (a high risk signal is raised); "
        return Judged(note=note, settled=True, broken=not kept)
    dunning_rules = run.policy.dunning

    def paid_by(day: date) -> Decimal:
        return paid_between(
            run.session,
            customer_id=pos.customer_id,
            currency=promise.currency,
            start=promise.recorded_on,
            end=day,
        )

    verdicts = rules.judge(
        as_plan(rows),
        as_of=run.as_of,
        grace_days=dunning_rules.promise_grace_days,
        tolerance=dunning_rules.tolerance,
        nothing_overdue=pos.owed.overdue_total <= dunning_rules.tolerance,
        paid_by=paid_by,
    )
    if not verdicts:
        return Judged()
    notes = [_said(v, promise.currency) for v in verdicts]
    broken = not verdicts[-1].kept
    done = broken or len(verdicts) == sum(1 for r in rows if r.status == "open")
    if not run.dry_run:
        _record_verdicts(run, pos, promise, rows=rows, verdicts=verdicts)
        if done:
            record_settlement(run, pos, promise, paid=verdicts[-1].paid, kept=not broken)
        if broken:
            signal_broken(run, pos, promise, paid=verdicts[-1].paid)
    if broken:
        notes.append("the plan is broken (a high risk signal is raised)")
    elif done:
        notes.append("the plan is kept")
    return Judged(note="; ".join(notes) + "; ", settled=done, broken=broken)


def _said(v: rules.Verdict, currency: str) -> str:
    return (
        f"instalment {v.seq} ({fmt_money(v.amount, currency)} by {v.due_on.isoformat()}) "
        f"{'kept' if v.kept else 'broken'}: paid {fmt_money(v.paid, currency)} of "
        f"{fmt_money(v.owed_so_far, currency)} due so far"
    )


def _record_verdicts(
    run: DunningRun,
    pos: CustomerPosition,
    promise: PaymentPromise,
    *,
    rows: list[PromiseInstalment],
    verdicts: list[rules.Verdict],
) -> None:
    by_seq = {r.seq: r for r in rows}
    for v in verdicts:
        row = by_seq[v.seq]
        row.status = "kept" if v.kept else "broken"
        row.settled_on, row.paid = run.as_of, money(v.paid)
        run.session.add(row)
        audit.record(
            run.session,
            actor="collections",
            action=f"promise.instalment_{row.status}",
            entity_type="customer",
            entity_id=pos.customer.code,
            before={"status": "open"},
            after={
                "promise_id": promise.id,
                "instalment": v.seq,
                "due_on": v.due_on,
                "amount": v.amount,
                "owed_so_far": v.owed_so_far,
                "paid": v.paid,
                "status": row.status,
            },
            reason=_said(v, promise.currency),
            policy_version=run.version,
        )


def promise_reason(run: DunningRun, promise: PaymentPromise) -> str:
    """Why the open promise (or plan) holds dunning back today."""
    rows = instalment_rows(run.session, promise.id)
    following = rules.next_open(as_plan(rows))
    if following is None:
        return (
            f"{promise.recorded_by} recorded a promise to pay {money(promise.amount)} "
            f"{promise.currency} by {promise.promised_for.isoformat()}"
        )
    return (
        f"{promise.recorded_by} agreed a plan of {len(rows)} instalments "
        f"({money(promise.amount)} {promise.currency}): next {money(following.amount)} "
        f"{promise.currency} by {following.due_on.isoformat()}"
    )
