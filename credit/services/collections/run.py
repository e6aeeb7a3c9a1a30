"""Dunning customers: a batch per transaction, each customer under its row lock; a batch that
fails is redone customer by customer, so one customer's failure does not stop the others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from datetime import date
from typing import cast

from sqlalchemy.exc import StatementError
from sqlmodel import col, select

from credit import audit, gc_pace, notices, progress
from credit.app import App
from credit.db.bulk import insert_rows
from credit.db.locks import lock_customers
from credit.db.models import Customer, DunningAction
from credit.db.models_dunning_items import DunningItemLevel
from credit.db.tables import table_of
from credit.domain import calendar
from credit.domain.dunning import OutcomeStatus
from credit.faults import checkpoint
from credit.services.cash import references
from credit.services.collections.courtesy import courtesy_reminders
from credit.services.collections.decide import DunningOutcome, dun_currency
from credit.services.collections.errors import AmountOutOfRange
from credit.services.collections.state import Batch, DunningRun
from credit.services.collections.summary import OutcomeRow
from credit.services.common import id_col

log = logging.getLogger(__name__)

BATCH = 500

# What a run planned for a customer when it selected it: currency -> level.
Planned = dict[str, int]

# The outcomes that say the run did nothing for the currency: when the level differs from the
# plan, the state changed since the selection (paid, disputed, promised meanwhile).
_UNCHANGED = (
    OutcomeStatus.NOTHING_DUE,
    OutcomeStatus.PAUSED,
    OutcomeStatus.PROMISED,
    OutcomeStatus.DEFERRED,
)


def dun_customer(
    app: App,
    *,
    customer_id: int,
    as_of: date,
    dry_run: bool,
    expected: Planned | None = None,
) -> list[DunningOutcome]:
    """Age one customer's open items and take the next dunning step per currency, in one
    transaction: the action, charges, hold, audit events and notices land together or not at all.

    ``expected`` is what the run planned when it selected the customer (currency -> level); when
    the fresh state says otherwise (paid, disputed, promised meanwhile), the outcome says so.
    A concurrent run that got there first makes this one a no-op.
    """
    [(_, outcomes)] = dun_batch(
        app,
        [customer_id],
        as_of=as_of,
        dry_run=dry_run,
        expected={customer_id: expected} if expected is not None else None,
        careful=True,
    )
    return outcomes


def dun_batch(
    app: App,
    ids: list[int],
    *,
    as_of: date,
    dry_run: bool,
    expected: dict[int, Planned] | None,
    careful: bool,
) -> list[tuple[int, list[DunningOutcome]]]:
    """Dun a batch of customers in one transaction: lock them (in id order), read their state
    set-based, decide and act per customer, then write the audit events and the notices in bulk.
    Any error rolls the whole batch back (the caller then redoes it customer by customer)."""
    results: list[tuple[int, list[DunningOutcome]]] = []
    with app.uow() as uow:
        s = uow.session
        if not dry_run:
            lock_customers(s, ids)
        version, policy = app.published_policy(s)
        batch = Batch.load(s, ids, as_of, careful=careful)
        run = DunningRun(
            app=app,
            session=s,
            batch=batch,
            policy=policy,
            version=version,
            as_of=as_of,
            dry_run=dry_run,
        )
        # The batch's letters' references are inserted with it (one customer, carefully: each
        # in its step's savepoint).
        refs = nullcontext() if careful else references.batched(s)
        with audit.batched(s), notices.batched(s), refs:
            for cid in ids:
                results.append((cid, _dun_one(run, cid, (expected or {}).get(cid) or {})))
                checkpoint("collections.customer")
            insert_rows(s, table_of(DunningAction), batch.steps)
            insert_rows(s, table_of(DunningItemLevel), batch.item_steps)
        if not dry_run:
            checkpoint("collections.decided")
            uow.commit()
            checkpoint("collections.committed")
    return results


def _dun_one(run: DunningRun, cid: int, planned_levels: Planned) -> list[DunningOutcome]:
    """Each currency of one customer of the batch, checked against what the run planned."""
    customer = run.batch.customers[cid]
    currencies = run.batch.currencies(cid) | set(planned_levels)
    day_off = calendar.non_business_reason(run.as_of, customer.country)
    outcomes: list[DunningOutcome] = []
    for currency in sorted(currencies):
        pos = run.batch.position(
            customer, currency, as_of=run.as_of, tolerance=run.policy.dunning.tolerance
        )
        outcome = dun_currency(run, pos, day_off=day_off)
        planned = planned_levels.get(currency)
        if planned is not None and outcome.status in _UNCHANGED and planned != outcome.level:
            outcome.status = OutcomeStatus.SKIPPED
            outcome.reason = f"changed since selection (level {planned} was planned): " + (
                outcome.reason or outcome.status
            )
        outcomes.append(outcome)
        outcomes += courtesy_reminders(run, pos, day_off=day_off)
    return outcomes


@gc_pace.bulk_work()
def dun_customers(
    app: App,
    *,
    customer_ids: list[int],
    as_of: date,
    dry_run: bool,
    expected: dict[str, Planned] | None = None,
    batch_size: int = BATCH,
    after_batch: Callable[[], None] | None = None,
) -> list[OutcomeRow]:
    """Collections for a list of customers, a batch per transaction. ``expected`` maps a customer
    code to the levels planned at selection. If a batch fails, it is rolled back and redone one
    customer at a time, so that one customer's failure does not stop the others: that customer
    gets an ``error`` outcome and is left as it was."""
    checkpoint("collections.selected")
    out: list[OutcomeRow] = []
    by_id = _planned_by_id(app, expected) if expected else None
    for i in range(0, len(customer_ids), batch_size):
        chunk = customer_ids[i : i + batch_size]
        try:
            results = dun_batch(
                app, chunk, as_of=as_of, dry_run=dry_run, expected=by_id, careful=False
            )
        except Exception:
            log.warning(
                "collections: a batch of %d customer(s) failed; redoing it one by one",
                len(chunk),
                exc_info=True,
            )
            results = [
                _dun_one_carefully(app, cid, as_of=as_of, dry_run=dry_run, expected=by_id)
                for cid in chunk
            ]
        out.extend(cast(OutcomeRow, asdict(o)) for _, outcomes in results for o in outcomes)
        progress.advance("customers", len(chunk))
        if after_batch is not None:
            after_batch()  # e.g. renew the lease on a claimed partition
    return out


def _planned_by_id(app: App, expected: dict[str, Planned]) -> dict[int, Planned]:
    with app.uow() as uow:
        codes = dict(
            uow.session.exec(
                select(Customer.code, id_col(Customer)).where(col(Customer.code).in_(expected))
            ).all()
        )
    return {codes[code]: levels for code, levels in expected.items() if code in codes}


def _dun_one_carefully(
    app: App,
    cid: int,
    *,
    as_of: date,
    dry_run: bool,
    expected: dict[int, Planned] | None,
) -> tuple[int, list[DunningOutcome]]:
    try:
        [result] = dun_batch(
            app, [cid], as_of=as_of, dry_run=dry_run, expected=expected, careful=True
        )
        return result
    except Exception as exc:  # one customer's failure does not stop the others
        with app.uow() as uow:
            code = uow.session.exec(select(Customer.code).where(Customer.id == cid)).first()
        reason = failure_reason(exc)
        log.error(
            "collections as of %s failed for customer %s (id %s): %s",
            as_of,
            code,
            cid,
            reason,
            exc_info=True,
        )
        return cid, [
            DunningOutcome(
                customer=code or f"id {cid}",
                currency=exc.currency if isinstance(exc, AmountOutOfRange) else "",
                level=0,
                level_name="",
                overdue_total="",
                invoices=[],
                action="none",
                status=OutcomeStatus.ERROR,
                reason=reason,
            )
        ]


def failure_reason(exc: BaseException) -> str:
    """One line a person can read for why a customer failed: the underlying error, without the
    SQL statement and its parameters (those, with the traceback, are in the log)."""
    if isinstance(exc, AmountOutOfRange):
        return str(exc)
    cause: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        cause = exc.orig  # the driver's or the column type's own error
    text = next((ln.strip() for ln in str(cause).splitlines() if ln.strip()), "")
    if "overflow" in text.lower():
        return (
            f"a sum over its ledger overflows ({text}): an amount is out of range; "
            "correct its invoices and payments"
        )
    reason = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    return reason if len(reason) <= 200 else reason[:199] + "…"
