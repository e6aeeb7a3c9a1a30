"""Collections: the next dunning step per customer and currency, charges, holds and handovers.

Each customer is dunned in one transaction that first takes the customer's row lock, then re-reads
the balance, disputes, promises and holds, decides, and commits the action, the audit events and
the notices together. A payment, dispute or promise recorded after the run selected the customer
(those writers take the same lock) is therefore always seen before a notice is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_customers
from credit.db.models import (
    CollectionCase,
    CreditLine,
    Customer,
    Dispute,
    DunningAction,
    Invoice,
    LineStatus,
    Payment,
    PaymentPromise,
    utcnow,
)
from credit.domain import calendar, dunning
from credit.domain.money import MAX_AMOUNT, ZERO, money
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import DunningChannel, DunningLevel, PolicyBody
from credit.domain.signals import Signal
from credit.domain.words import counted
from credit.faults import checkpoint
from credit.services.common import ServiceError, id_col, saved_id
from credit.services.ledger import open_items_many, overdue_customers
from credit.services.views import customer_view, line_view

log = logging.getLogger(__name__)


class AlreadyTaken(Exception):
    """Another run recorded this step (customer, currency, episode, level) first."""


class AmountOutOfRange(Exception):
    """A customer's amounts add up beyond what the ledger can hold: that customer fails, with
    this message as its reason, and the others are dunned."""

    def __init__(self, message: str, currency: str) -> None:
        super().__init__(message, currency)
        self.message, self.currency = message, currency

    def __str__(self) -> str:
        return self.message


class CollectionsRunFailed(Exception):
    """A run in which some customers failed: everyone else was dunned and committed. Carries the
    run's whole result (outcomes, counts, errors) for whoever shows it."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message, result)  # both in args: the exception pickles whole
        self.message, self.result = message, result

    def __str__(self) -> str:
        return self.message


def _insert_step(s: Session, row: dict[str, Any], batch: _Batch) -> None:
    """Insert a dunning step; the unique (customer, currency, episode, level) key makes a second
    run for the same step a no-op. Any other integrity error is a bug and propagates.

    In a batch the customers are locked and their state was read after the lock, so no other run
    can hold the key: the row is simply added (flushed with the batch). Should the key be taken
    all the same, the batch fails as a whole and is redone customer by customer, carefully."""
    if batch.careful:
        try:
            with s.begin_nested():
                s.add(DunningAction(**row))
                s.flush()
        except IntegrityError as exc:
            raise AlreadyTaken from exc
    else:
        batch.steps.append(row)  # inserted with the batch, in one statement
    batch.state.setdefault(row["customer_id"], {})[row["currency"]] = (
        (row["episode"] + 1, 0, row["as_of"])
        if row["level"] == 0
        else (row["episode"], row["level"], row["as_of"])
    )


@dataclass
class _Batch:
    """What dunning a batch of customers reads, loaded set-based after their locks are taken (a
    handful of queries per batch, not per customer) and kept current as steps are taken."""

    customers: dict[int, Customer]
    items: dict[int, dict[str, list[dunning.OpenItem]]]
    # customer -> currency -> (episode, level, date of the last step); level 0: not in dunning
    state: dict[int, dict[str, tuple[int, int, date | None]]]
    promises: dict[int, dict[str, list[PaymentPromise]]]  # newest first
    lines: dict[int, CreditLine]
    careful: bool  # one customer, each step in its own savepoint
    steps: list[dict[str, Any]] = field(default_factory=list)  # taken in this batch

    @classmethod
    def load(cls, s: Session, ids: list[int], as_of: date, *, careful: bool) -> _Batch:
        customers = {
            saved_id(c): c for c in s.exec(select(Customer).where(col(Customer.id).in_(ids)))
        }
        state: dict[int, dict[str, tuple[int, int, date | None]]] = {}
        for cid, cur, episode, level, day in s.execute(
            sa_select(  # five columns: SQLModel's select types up to four
                col(DunningAction.customer_id),
                col(DunningAction.currency),
                col(DunningAction.episode),
                col(DunningAction.level),
                col(DunningAction.as_of),
            )
            .where(col(DunningAction.customer_id).in_(ids))
            .order_by(col(DunningAction.id))
        ):
            state.setdefault(cid, {})[cur] = (
                (episode + 1, 0, day) if level == 0 else (episode, level, day)
            )
        promises: dict[int, dict[str, list[PaymentPromise]]] = {}
        for p in s.exec(
            select(PaymentPromise)
            .where(
                col(PaymentPromise.customer_id).in_(ids),
                col(PaymentPromise.status).in_(["open", "kept", "broken"]),
            )
            .order_by(col(PaymentPromise.id).desc())
        ):
            promises.setdefault(p.customer_id, {}).setdefault(p.currency, []).append(p)
        lines: dict[int, CreditLine] = {}
        for line in s.exec(
            select(CreditLine)
            .where(col(CreditLine.customer_id).in_(ids))
            .order_by(col(CreditLine.id))
        ):
            lines.setdefault(line.customer_id, line)
        return cls(
            customers=customers,
            items=open_items_many(s, ids, as_of),
            state=state,
            promises=promises,
            lines=lines,
            careful=careful,
        )

    def dunning_state(self, customer_id: int, currency: str) -> tuple[int, int, date | None]:
        return self.state.get(customer_id, {}).get(currency, (1, 0, None))

    def currencies(self, customer_id: int) -> set[str]:
        """Currencies with open items, a dunning history or an open promise."""
        return (
            set(self.items.get(customer_id, {}))
            | set(self.state.get(customer_id, {}))
            | {
                cur
                for cur, ps in self.promises.get(customer_id, {}).items()
                if any(p.status == "open" for p in ps)
            }
        )

    def savepoint(self, s: Session) -> Any:
        # Only the careful path uses savepoints, and there a step that rolls back (AlreadyTaken)
        # raises in _insert_step before any audit event or notice of it is buffered: the
        # buffers of audit.batched and notices.batched never hold rolled-back work.
        return s.begin_nested() if self.careful else nullcontext()


def lock_customer(s: Session, customer_id: int) -> None:
    """Take the customer's write lock (see :func:`credit.db.locks.lock_customers`)."""
    lock_customers(s, [customer_id])


def check_run_date(app: App, *, as_of: date, dry_run: bool, today: date | None = None) -> None:
    """Refuse a live run that would judge the ledger as it was on a past day.

    A run as of ``as_of`` reads payments, credit notes and disputes dated up to that day. When a
    later run already acted, or payments, credit notes or disputes dated after ``as_of`` are
    recorded, a live run would dun on a ledger that is no longer true (a reminder for an invoice
    paid since): it is refused with the reason. A rerun for the date of the latest run is allowed
    (it finds its steps done), and so is any dry run (it changes nothing). Given ``today`` (the
    company's, from the edge), a live run dated later is refused too: a mistyped date would dun
    invoices not yet overdue and hold back every run until then."""
    if dry_run:
        return
    refusal = app.settings.company_refusal("a live collections run")
    if refusal:  # its letters would go out without (or with someone else's) payment details
        raise ServiceError(refusal)
    if today is not None and as_of > today:  # a person typed the date (simulations do not)
        raise ServiceError(
            f"a collections run as of {as_of.isoformat()} is in the future (today is "
            f"{today.isoformat()}): it would dun invoices not yet overdue, and every run until "
            "then would be refused; inspect that date with a dry run"
        )
    with app.uow(read_only=True) as uow:
        s = uow.session
        acted = (  # the days live runs took steps or judged promises (kept or broken)
            s.exec(select(func.max(DunningAction.as_of))).one(),
            s.exec(
                select(func.max(PaymentPromise.settled_on)).where(
                    col(PaymentPromise.status).in_(["kept", "broken"])
                )
            ).one(),
        )
        latest_run = max((d for d in acted if d is not None), default=None)
        if latest_run is not None and latest_run > as_of:
            raise ServiceError(
                f"a collections run as of {latest_run.isoformat()} is already recorded; a run as "
                f"of {as_of.isoformat()} would judge the ledger as it was then: run as of "
                f"{latest_run.isoformat()} or later, or inspect that date with a dry run"
            )
        later = {
            "payments": s.exec(
                select(func.max(Payment.paid_on)).where(Payment.status == "received")
            ).one(),
            "credit notes": s.exec(
                select(func.max(Invoice.issue_date)).where(Invoice.amount < 0)
            ).one(),
            "disputes": s.exec(select(func.max(Dispute.opened_on))).one(),
        }
    ignored = {what: d for what, d in later.items() if d is not None and d > as_of}
    if ignored:
        last, names = max(ignored.values()), list(ignored)
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        raise ServiceError(
            f"{what} up to {last.isoformat()} are recorded; a run as of {as_of.isoformat()} "
            f"would ignore them: run as of {last.isoformat()} or later, or inspect that date with a dry "
            "run"
        )


def collection_candidates(app: App, *, as_of: date, dry_run: bool = False) -> list[int]:
    """Customers with something past due, in a dunning episode that may now close, or with a
    promise to pay to settle. A live run dated in the past is refused (:func:`check_run_date`)."""
    check_run_date(app, as_of=as_of, dry_run=dry_run)
    with app.uow(read_only=True) as uow:
        s = uow.session
        # The last step of each (customer, currency): an episode above level 0 is still open.
        last = (
            select(func.max(DunningAction.id))
            .group_by(col(DunningAction.customer_id), col(DunningAction.currency))
            .scalar_subquery()
        )
        in_dunning = select(DunningAction.customer_id).where(
            col(DunningAction.id).in_(last), DunningAction.level > 0
        )
        promised = select(PaymentPromise.customer_id).where(PaymentPromise.status == "open")
        ids = set(s.exec(in_dunning)) | set(s.exec(promised))
        try:
            overdue = overdue_customers(s, as_of)
        except DBAPIError:
            overdue = None
    if overdue is None:
        # A sum over some customer's ledger fails (an absurd amount overflows it on SQLite): find
        # the overdue customers a chunk at a time, and keep those whose query fails among the
        # candidates, so that the run reports each of them with its reason and duns the others.
        log.warning("collections: the overdue query failed; selecting in chunks", exc_info=True)
        overdue = _overdue_customers_in_chunks(app, as_of)
    return sorted(ids | overdue)


def _overdue_customers_in_chunks(app: App, as_of: date, size: int = 1000) -> set[int]:
    with app.uow(read_only=True) as uow:
        past_due = sorted(
            uow.session.exec(
                select(Invoice.customer_id)
                .where(Invoice.amount > 0, Invoice.due_date < as_of, Invoice.issue_date <= as_of)
                .distinct()
            )
        )
    found: set[int] = set()
    for i in range(0, len(past_due), size):
        chunk = past_due[i : i + size]
        try:
            with app.uow(read_only=True) as uow:
                found |= overdue_customers(uow.session, as_of, customer_ids=chunk)
        except DBAPIError:
            for cid in chunk:
                try:
                    with app.uow(read_only=True) as uow:
                        found |= overdue_customers(uow.session, as_of, customer_ids=[cid])
                except DBAPIError:
                    found.add(cid)  # dunning it fails again, and the run says why
    return found


@dataclass
class DunningOutcome:
    customer: str
    currency: str
    level: int
    level_name: str
    overdue_total: str
    invoices: list[str]
    action: str
    # sent | would_send | cleared | would_clear | already_done | nothing_due | deferred | promised
    # | paused | promise_broken | skipped (the state changed after the run selected the customer)
    status: str
    channel: str = ""
    reason: str = ""
    notices: list[str] = field(default_factory=list)


def _open_promise(batch: _Batch, customer_id: int, currency: str) -> PaymentPromise | None:
    return next(
        (p for p in batch.promises.get(customer_id, {}).get(currency, []) if p.status == "open"),
        None,
    )


def _broken_since(batch: _Batch, customer_id: int, currency: str, last_day: date | None) -> bool:
    """Whether the latest settled promise was broken after the last dunning step: the next level
    is then due at once, whatever its trigger says (a newer promise, kept or open, lifts that)."""
    latest = next(iter(batch.promises.get(customer_id, {}).get(currency, [])), None)
    if latest is None or latest.status != "broken":
        return False
    if last_day is None:
        return True
    assert latest.settled_on is not None  # a broken promise is settled on the day it broke
    return latest.settled_on > last_day


def paid_between(s: Session, customer_id: int, currency: str, start: date, end: date) -> Decimal:
    total = s.exec(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.customer_id == customer_id,
            Payment.currency == currency,
            Payment.status == "received",
            Payment.paid_on >= start,
            Payment.paid_on <= end,
        )
    ).one()
    return Decimal(total)


def _settle_promise(
    app: App,
    s: Session,
    customer: Customer,
    promise: PaymentPromise,
    position: dunning.DunningPosition,
    policy: PolicyBody,
    as_of: date,
    version: int,
    *,
    write: bool,
) -> bool:
    """Decide whether an expired promise was kept; a broken one raises a risk signal. Nothing is
    written on a dry run."""
    # Payments made by the promised date (and within the grace days the policy allows for
    # bank imports) count.
    paid = paid_between(
        s,
        saved_id(customer),
        promise.currency,
        promise.recorded_on,
        promise.promised_for + timedelta(days=policy.dunning.promise_grace_days),
    )
    kept = (
        paid >= promise.amount - policy.dunning.tolerance
        or position.overdue_total <= policy.dunning.tolerance
    )
    if not write:
        return kept
    before = {"status": promise.status}
    promise.status, promise.settled_on, promise.paid = ("kept" if kept else "broken"), as_of, paid
    s.add(promise)
    audit.record(
        s,
        actor="collections",
        action=f"promise.{promise.status}",
        entity_type="customer",
        entity_id=customer.code,
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
        policy_version=version,
    )
    if not kept:
        from credit.services.risk import record_signals

        record_signals(
            app,
            s,
            customer=customer,
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
            as_of=as_of,
            policy_version=version,
        )
    return kept


def dun_customer(
    app: App,
    *,
    customer_id: int,
    as_of: date,
    dry_run: bool,
    expected: dict[str, int] | None = None,
) -> list[DunningOutcome]:
    """Age one customer's open items and take the next dunning step per currency, in one
    transaction: the action, charges, hold, audit events and notices land together or not at all.

    ``expected`` is what the run planned when it selected the customer (currency -> level); when
    the fresh state says otherwise (paid, disputed, promised meanwhile), the outcome says so.
    A concurrent run that got there first makes this one a no-op.
    """
    [(_, outcomes)] = _dun_batch(
        app,
        [customer_id],
        as_of=as_of,
        dry_run=dry_run,
        expected={customer_id: expected} if expected is not None else None,
        careful=True,
    )
    return outcomes


def _dun_batch(
    app: App,
    ids: list[int],
    *,
    as_of: date,
    dry_run: bool,
    expected: dict[int, dict[str, int]] | None,
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
        batch = _Batch.load(s, ids, as_of, careful=careful)
        with audit.batched(s), notices.batched(s):
            for cid in ids:
                customer = batch.customers[cid]
                planned_levels = (expected or {}).get(cid) or {}
                currencies = batch.currencies(cid) | set(planned_levels)
                day_off = calendar.non_business_reason(as_of, customer.country)
                outcomes: list[DunningOutcome] = []
                for currency in sorted(currencies):
                    outcome = _dun_currency(
                        app,
                        s,
                        batch,
                        customer,
                        currency,
                        batch.items.get(cid, {}).get(currency, []),
                        policy,
                        version,
                        as_of,
                        dry_run,
                        day_off,
                    )
                    planned = planned_levels.get(currency)
                    if (
                        planned is not None
                        and outcome.status in ("nothing_due", "paused", "promised", "deferred")
                        and planned != outcome.level
                    ):
                        outcome.status = "skipped"
                        outcome.reason = (
                            f"changed since selection (level {planned} was planned): "
                            + (outcome.reason or outcome.status)
                        )
                    outcomes.append(outcome)
                results.append((cid, outcomes))
                checkpoint("collections.customer")
            if batch.steps:
                s.execute(insert(DunningAction), batch.steps)
        if not dry_run:
            checkpoint("collections.decided")
            uow.commit()
            checkpoint("collections.committed")
    return results


def _dun_currency(
    app: App,
    s: Session,
    batch: _Batch,
    customer: Customer,
    currency: str,
    items: list[dunning.OpenItem],
    policy: PolicyBody,
    version: int,
    as_of: date,
    dry_run: bool,
    day_off: str | None,
) -> DunningOutcome:
    position = dunning.dunning_position(items, as_of, policy.dunning.tolerance)
    _check_in_range(position, currency)
    episode, level, last_day = batch.dunning_state(saved_id(customer), currency)
    name = "" if level == 0 else policy.dunning_level(min(level, len(policy.dunning.levels))).name

    def outcome(status: str, reason: str = "", **kw: Any) -> DunningOutcome:
        values: dict[str, Any] = dict(level=level, level_name=name, action="none")
        values.update(kw)
        return DunningOutcome(
            customer=customer.code,
            currency=currency,
            overdue_total=str(money(position.overdue_total)),
            invoices=[i.number for i in position.overdue_items],
            status=status,
            reason=reason,
            **values,
        )

    if last_day is not None and last_day >= as_of:
        # One step per customer and business day: a rerun for the same date (or a late run for
        # an earlier date) changes nothing.
        if last_day == as_of:
            return outcome("already_done", f"level {level} already taken on {as_of.isoformat()}")
        return outcome("nothing_due", f"a later run ({last_day.isoformat()}) already acted")

    promise = _open_promise(batch, saved_id(customer), currency)
    promise_note, broken_now = "", False
    grace = timedelta(days=policy.dunning.promise_grace_days)
    if promise is not None and promise.promised_for + grace < as_of:
        kept = _settle_promise(
            app, s, customer, promise, position, policy, as_of, version, write=not dry_run
        )
        promise_note = (
            "promise kept; " if kept else "promise broken (a high risk signal is raised); "
        )
        broken_now = not kept
        promise = None

    if position.overdue_total <= policy.dunning.tolerance:
        if level == 0:
            return outcome("nothing_due", promise_note + "nothing overdue beyond the tolerance")
        if position.disputed_items:
            # The disputed invoices may come back: the episode waits (no notice, no release).
            return outcome("paused", promise_note + dunning.within_tolerance_reason(position))
        result = outcome(
            "would_clear" if dry_run else "cleared",
            promise_note + dunning.within_tolerance_reason(position),
            level=0,
            level_name="cleared",
            action="release",
        )
        if not dry_run:
            try:
                with batch.savepoint(s):
                    result.notices = _clear_episode(
                        app, s, batch, customer, currency, episode, level, as_of, version
                    )
            except AlreadyTaken:
                result.status = "already_done"
        return result

    if promise is not None:
        return outcome(
            "promised",
            f"{promise.recorded_by} recorded a promise to pay {money(promise.amount)} {currency} by "
            f"{promise.promised_for.isoformat()}",
        )

    forced = broken_now or _broken_since(batch, saved_id(customer), currency, last_day)
    step = dunning.next_dunning_level(
        current_level=level,
        position=position,
        policy=policy,
        as_of=as_of,
        previous_sent_on=last_day if level > 0 else None,
        force=forced,
    )
    if step is None:
        # A broken promise is news even when there is no level left to send.
        return outcome(
            "promise_broken" if broken_now else "nothing_due",
            promise_note + _not_yet(level, position, policy, last_day),
        )
    if day_off is not None:
        return outcome(
            "deferred",
            f"level {step.level} ({step.name}) is due but {as_of.isoformat()} is a {day_off} "
            f"for {customer.country}: it goes out on the next business day",
        )
    result = outcome(
        "would_send" if dry_run else "sent",
        promise_note + ("broken promise: one level up at once" if forced else ""),
        level=step.level,
        level_name=step.name,
        action=step.action.value,
        channel=step.channel.value,
    )
    if dry_run:
        return result
    try:
        with batch.savepoint(s):
            result.notices, result.channel, note = _apply_dunning(
                app,
                s,
                batch,
                customer,
                currency,
                episode,
                step,
                position,
                as_of,
                version,
                policy,
                forced,
            )
            if note:
                result.reason = "; ".join(r for r in (result.reason, note) if r)
    except AlreadyTaken:
        result.status = "already_done"
        result.reason = f"level {step.level} was taken by another run"
    return result


def _check_in_range(position: dunning.DunningPosition, currency: str) -> None:
    """Amounts that add up beyond what the ledger can hold (data no import should have let in)
    fail this customer with a plain reason, before anything is written."""
    owed = sum((i.open_amount for i in position.overdue_items), ZERO)
    credited = -sum((c.open_amount for c in position.credits), ZERO)
    for what, amount in (("overdue items", owed), ("unallocated credits", credited)):
        if amount > MAX_AMOUNT:
            raise AmountOutOfRange(
                f"its {currency} {what} add up to {money(amount):,}, more than the largest "
                f"amount the ledger holds ({MAX_AMOUNT:,}): correct its invoices and payments",
                currency,
            )


def _not_yet(
    level: int, position: dunning.DunningPosition, policy: PolicyBody, last_day: date | None
) -> str:
    if level >= len(policy.dunning.levels):
        return "at the last level"
    reference = position.reference_due_date or position.oldest_due_date
    if reference is None:
        return "nothing overdue"
    step = policy.dunning_level(level + 1)
    when = dunning.trigger_date(
        step,
        oldest_due_date=reference,
        previous_sent_on=last_day if level > 0 else None,
        min_gap=policy.dunning.min_days_between_levels,
    )
    return f"level {step.level} ({step.name}) is due on {when.isoformat()}"


def _charges(
    s: Session,
    customer: Customer,
    currency: str,
    episode: int,
    step: DunningLevel,
    position: dunning.DunningPosition,
    as_of: date,
    policy: PolicyBody,
) -> tuple[list[dunning.OpenItem], dict[str, Any]]:
    """The late fee and interest a charge level adds, stored as separate receivables (kind fee and
    interest) so that paying only the principal never drops them."""
    new: list[dunning.OpenItem] = []
    details: dict[str, Any] = {}

    def book(number: str, amount: Decimal, kind: str) -> dunning.OpenItem:
        """A charge is a receivable of its own, due at once."""
        s.add(
            Invoice(
                customer_id=saved_id(customer),
                number=number,
                issue_date=as_of,
                due_date=as_of,
                amount=amount,
                currency=currency,
                kind=kind,
            )
        )
        return dunning.OpenItem(number, as_of, amount, kind)

    fee = step.fee.get(currency)
    if fee:
        number = f"FEE-{customer.code}-{currency}-E{episode}-L{step.level}"
        new.append(book(number, fee, dunning.FEE))
        details["fee"] = {"number": number, "amount": str(fee)}
    if step.interest and policy.dunning.interest_annual_rate is not None:
        charged_until: dict[str, date] = {}
        for d in s.exec(
            select(DunningAction.details).where(
                DunningAction.customer_id == customer.id,
                DunningAction.currency == currency,
                col(DunningAction.details).is_not(None),
            )
        ):
            for line in (d or {}).get("interest", {}).get("lines", []):
                end = date.fromisoformat(line["end"])
                charged_until[line["invoice"]] = max(end, charged_until.get(line["invoice"], end))
        lines = dunning.interest_lines(
            position.overdue_items,
            as_of=as_of,
            annual_rate=policy.dunning.interest_annual_rate,
            charged_until=charged_until,
            net_open=position.net_open,
        )
        total = sum((ln.amount for ln in lines), ZERO)
        if total > 0:
            number = f"INT-{customer.code}-{currency}-E{episode}-L{step.level}"
            new.append(book(number, total, dunning.INTEREST))
            details["interest"] = {
                "number": number,
                "rate": str(policy.dunning.interest_annual_rate),
                "amount": str(total),
                "lines": [
                    {
                        "invoice": ln.number,
                        "start": ln.start.isoformat(),
                        "end": ln.end.isoformat(),
                        "days": ln.days,
                        "open_amount": str(ln.open_amount),
                        "amount": str(ln.amount),
                    }
                    for ln in lines
                ],
            }
    return new, details


def notice_context(
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
        "invoices": [
            {
                "number": i.number,
                "kind": i.kind,
                "due_date": i.due_date,
                "open_amount": i.open_amount,
                "days_overdue": i.days_overdue(as_of),
            }
            for i in listed
        ],
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
        "line": line_view(line) if line else None,
        # The date payment is asked for: the policy's days to pay, on a business day there.
        "pay_by": calendar.next_business_day(
            as_of + timedelta(days=step.pay_within_days), customer.country
        ),
    }


def _apply_dunning(
    app: App,
    s: Session,
    batch: _Batch,
    customer: Customer,
    currency: str,
    episode: int,
    step: DunningLevel,
    position: dunning.DunningPosition,
    as_of: date,
    version: int,
    policy: PolicyBody,
    forced: bool,
) -> tuple[list[str], str, str]:
    """Record the step, its charges and hold, and queue its notices; (notice kinds, channel,
    note for the run's report)."""
    new_charges: list[dunning.OpenItem] = []
    details: dict[str, Any] = {}
    if step.action == DunningActionKind.CHARGE:
        new_charges, details = _charges(
            s, customer, currency, episode, step, position, as_of, policy
        )
    listed = [*position.overdue_items, *new_charges]
    total = sum((i.open_amount for i in listed), ZERO) + sum(
        (c.open_amount for c in position.credits), ZERO
    )
    if forced:
        details["broken_promise"] = True
    channel, note = step.channel, ""
    if channel == DunningChannel.LETTER and not (customer.postal_address or "").strip():
        # A letter nobody can post is not sent: it goes by e-mail and the run says why.
        channel, note = DunningChannel.EMAIL, "no postal address on file: the letter went by e-mail"
    _insert_step(
        s,
        {
            "customer_id": customer.id,
            "currency": currency,
            "episode": episode,
            "level": step.level,
            "level_name": step.name,
            "as_of": as_of,
            "invoice_numbers": [i.number for i in listed],
            "overdue_total": total,
            "policy_version": version,
            "channel": channel.value,
            "details": details or None,
            "created_at": utcnow(),
        },
        batch,
    )
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
            "channel": step.channel.value,
            "overdue_total": total,
            "currency": currency,
        },
        reason=(
            "promise to pay broken"
            if forced
            else f"oldest invoice {counted(position.oldest_days_overdue, 'day')} overdue"
        ),
        policy_version=version,
    )
    if new_charges:
        audit.record(
            s,
            actor="collections",
            action="dunning.charge",
            entity_type="customer",
            entity_id=customer.code,
            after={c.number: c.open_amount for c in new_charges},
            reason=f"{step.label}: late fee and interest per policy",
            policy_version=version,
        )
    line = batch.lines.get(saved_id(customer))
    if (
        step.action == DunningActionKind.CREDIT_HOLD
        and line is not None
        and line.status == LineStatus.ACTIVE
    ):
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
            app,
            s,
            customer=customer,
            key=f"hold:{customer.code}:{currency}:e{episode}",
            reason=f"credit line on hold: {money(total)} {currency} overdue ({step.label})",
            as_of=as_of,
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
            policy_version=version,
        )
    ctx = notice_context(customer, currency, step, listed, position.credits, as_of, line, details)
    ctx["level"]["channel"] = channel.value
    queued: list[str] = []
    prefix = f"{customer.code}:{currency}:e{episode}"
    if channel == DunningChannel.CALL:
        _open_case(s, customer, currency, episode, "call", step.level, as_of, version)
        queued.append(
            _enqueue(
                app,
                s,
                f"call-task:{prefix}:l{step.level}",
                "call_task",
                "en",
                [app.directory.teams.collections],
                customer,
                ctx,
            )
        )
    else:
        queued.append(
            _enqueue(
                app,
                s,
                f"dunning:{prefix}:l{step.level}",
                step.template,
                customer.locale,
                [customer.email],
                customer,
                ctx,
                channel=channel.value,
            )
        )
    if step.action == DunningActionKind.CREDIT_HOLD:
        # Sales hears of the hold level even without a credit line: no new orders on credit.
        queued.append(
            _enqueue(
                app,
                s,
                f"credit-hold:{prefix}:l{step.level}",
                "credit_hold_sales",
                "en",
                [customer.sales_owner_email, app.directory.teams.credit],
                customer,
                ctx,
            )
        )
    if step.action == DunningActionKind.HANDOVER:
        _open_case(s, customer, currency, episode, "handover", step.level, as_of, version)
        queued.append(
            _enqueue(
                app,
                s,
                f"handover:{prefix}:l{step.level}",
                "handover_collections",
                "en",
                [app.directory.teams.collections],
                customer,
                ctx,
            )
        )
    return queued, channel.value, note


def _enqueue(
    app: App,
    s: Session,
    key: str,
    kind: str,
    locale: str,
    recipients: list[str],
    customer: Customer,
    ctx: dict[str, Any],
    channel: str = "email",
) -> str:
    notices.enqueue(
        s,
        app.renderer,
        key=key,
        kind=kind,
        locale=locale,
        recipients=recipients,
        customer_id=customer.id,
        context=ctx,
        channel=channel,
    )
    return kind


def _open_case(
    s: Session,
    customer: Customer,
    currency: str,
    episode: int,
    reason: str,
    level: int,
    as_of: date,
    version: int,
) -> None:
    s.add(
        CollectionCase(
            customer_id=saved_id(customer),
            currency=currency,
            episode=episode,
            reason=reason,
            level=level,
            opened_on=as_of,
        )
    )
    s.flush()
    audit.record(
        s,
        actor="collections",
        action=f"worklist.{reason}",
        entity_type="customer",
        entity_id=customer.code,
        after={"currency": currency, "level": level, "status": "open"},
        reason="handed over to the collections team" if reason == "handover" else "call task",
        policy_version=version,
    )


def _held_in_other_currency(
    app: App, s: Session, batch: _Batch, customer: Customer, cleared: str
) -> bool:
    """Whether another currency of the customer is still at or past the hold level: paying the
    euro invoices does not lift a hold the dollar invoices caused."""
    _, policy = app.published_policy(s)
    hold_levels = [
        lv.level for lv in policy.dunning.levels if lv.action == DunningActionKind.CREDIT_HOLD
    ]
    if not hold_levels:
        return False
    return any(
        level >= min(hold_levels)
        for cur, (_, level, _) in batch.state.get(saved_id(customer), {}).items()
        if cur != cleared
    )


def _clear_episode(
    app: App,
    s: Session,
    batch: _Batch,
    customer: Customer,
    currency: str,
    episode: int,
    level: int,
    as_of: date,
    version: int,
) -> list[str]:
    _insert_step(
        s,
        {
            "customer_id": customer.id,
            "currency": currency,
            "episode": episode,
            "level": 0,
            "level_name": "cleared",
            "as_of": as_of,
            "invoice_numbers": [],
            "overdue_total": ZERO,
            "policy_version": version,
            "channel": "email",
            "details": None,
            "created_at": utcnow(),
        },
        batch,
    )
    audit.record(
        s,
        actor="collections",
        action="dunning.cleared",
        entity_type="customer",
        entity_id=customer.code,
        before={"level": level, "currency": currency, "episode": episode},
        after={"level": 0, "currency": currency},
        reason="overdue balance paid",
        policy_version=version,
    )
    for case in s.exec(
        select(CollectionCase).where(
            CollectionCase.customer_id == customer.id,
            CollectionCase.currency == currency,
            CollectionCase.status == "open",
        )
    ):
        case.status, case.closed_on, case.closed_by, case.closed_reason = (
            "closed",
            as_of,
            "collections",
            "overdue balance paid",
        )
        s.add(case)
        audit.record(
            s,
            actor="collections",
            action="worklist.closed",
            entity_type="customer",
            entity_id=customer.code,
            before={"status": "open", "reason": case.reason},
            after={"status": "closed"},
            reason="overdue balance paid",
            policy_version=version,
        )
    queued: list[str] = []
    line = batch.lines.get(saved_id(customer))
    if (
        line is not None
        and line.status == LineStatus.ON_HOLD
        and (line.hold_reason or "").startswith("dunning:")
        and not _held_in_other_currency(app, s, batch, customer, currency)
    ):
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
            reason="overdue balance paid",
            policy_version=version,
        )
        ctx = {
            "customer": customer_view(customer),
            "line": line_view(line),
            "as_of": as_of,
            "currency": currency,
            "audience": "customer",
        }
        # The customer and the internal teams get separate messages: no internal addresses leak.
        prefix = f"hold-released:{customer.code}:{currency}:e{episode}"
        queued.append(
            _enqueue(
                app,
                s,
                f"{prefix}:customer",
                "credit_hold_released",
                customer.locale,
                [customer.email],
                customer,
                ctx,
            )
        )
        queued.append(
            _enqueue(
                app,
                s,
                f"{prefix}:internal",
                "credit_hold_released",
                "en",
                [customer.sales_owner_email, app.directory.teams.credit],
                customer,
                {**ctx, "audience": "internal"},
            )
        )
    return queued


BATCH = 500


def dun_customers(
    app: App,
    *,
    customer_ids: list[int],
    as_of: date,
    dry_run: bool,
    expected: dict[str, dict[str, int]] | None = None,
    batch_size: int = BATCH,
    after_batch: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Collections for a list of customers, a batch per transaction. ``expected`` maps a customer
    code to the levels planned at selection. If a batch fails, it is rolled back and redone one
    customer at a time, so that one customer's failure does not stop the others: that customer
    gets an ``error`` outcome and is left as it was."""
    checkpoint("collections.selected")
    out: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, int]] | None = None
    if expected:
        with app.uow() as uow:
            codes = dict(
                uow.session.exec(
                    select(Customer.code, id_col(Customer)).where(col(Customer.code).in_(expected))
                ).all()
            )
        by_id = {codes[code]: levels for code, levels in expected.items() if code in codes}
    for i in range(0, len(customer_ids), batch_size):
        chunk = customer_ids[i : i + batch_size]
        try:
            results = _dun_batch(
                app, chunk, as_of=as_of, dry_run=dry_run, expected=by_id, careful=False
            )
        except Exception:
            log.warning(
                "collections: a batch of %d customer(s) failed; redoing it one by one",
                len(chunk),
                exc_info=True,
            )
            results = [_dun_one_carefully(app, cid, as_of, dry_run, by_id) for cid in chunk]
        out.extend(asdict(o) for _, outcomes in results for o in outcomes)
        if after_batch is not None:
            after_batch()  # e.g. renew the lease on a claimed partition
    return out


def _dun_one_carefully(
    app: App,
    cid: int,
    as_of: date,
    dry_run: bool,
    expected: dict[int, dict[str, int]] | None,
) -> tuple[int, list[DunningOutcome]]:
    try:
        [result] = _dun_batch(
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
                status="error",
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


ACTIONS_SHOWN = 1000  # actions a run reports one by one; the rest are counted (all are stored)


def run_summary(
    outcomes: list[dict[str, Any]], into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Fold a batch's outcomes into a run's summary: counts per status and per level sent, every
    error, and the first :data:`ACTIONS_SHOWN` actions (a run over 100,000 customers reports its
    figures, not 100,000 rows: each action is in the dunning history, the outbox and the audit)."""
    summary: dict[str, Any] = into if into is not None else {
        "counts": {}, "levels": {}, "errors": [], "actions": [], "actions_total": 0,
        "by_currency": {},
    }  # fmt: skip
    by_currency = summary.setdefault("by_currency", {})
    for o in outcomes:
        summary["counts"][o["status"]] = summary["counts"].get(o["status"], 0) + 1
        per = by_currency.setdefault(o["currency"], {})  # "": a customer that failed as a whole
        per[o["status"]] = per.get(o["status"], 0) + 1
        if o["status"] in ("sent", "would_send"):
            summary["levels"][o["level_name"]] = summary["levels"].get(o["level_name"], 0) + 1
        if o["status"] == "error":
            summary["errors"].append(o)
        if o["status"] != "nothing_due":
            summary["actions_total"] += 1
            if len(summary["actions"]) < ACTIONS_SHOWN:
                summary["actions"].append(o)
    return summary


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary from several (batches, or partitions run by other workers)."""
    out: dict[str, Any] = {
        "counts": {}, "levels": {}, "errors": [], "actions": [], "actions_total": 0,
        "by_currency": {},
    }  # fmt: skip
    for part in parts:
        for key in ("counts", "levels"):
            for k, v in part[key].items():
                out[key][k] = out[key].get(k, 0) + v
        for cur, counts in part.get("by_currency", {}).items():
            per = out["by_currency"].setdefault(cur, {})
            for k, v in counts.items():
                per[k] = per.get(k, 0) + v
        out["errors"] += part["errors"]
        out["actions"] += part["actions"][: ACTIONS_SHOWN - len(out["actions"])]
        out["actions_total"] += part["actions_total"]
    return out
