"""Who a collections run looks at, and whether a live run may be dated as it is."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from credit.app import App
from credit.db.models import Dispute, DunningAction, Invoice, Payment, PaymentPromise
from credit.domain.receivables_status import PaymentStatus, PromiseStatus
from credit.services.collections.courtesy import courtesy_candidates
from credit.services.common import ServiceError
from credit.services.ledger import overdue_customers

log = logging.getLogger(__name__)


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
                    col(PaymentPromise.status).in_([PromiseStatus.KEPT, PromiseStatus.BROKEN])
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
                select(func.max(Payment.paid_on)).where(Payment.status == PaymentStatus.RECEIVED)
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
            f"would ignore them: run as of {last.isoformat()} or later, or inspect that date "
            "with a dry run"
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
        promised = select(PaymentPromise.customer_id).where(
            PaymentPromise.status == PromiseStatus.OPEN
        )
        ids = set(s.exec(in_dunning)) | set(s.exec(promised))
        ids |= courtesy_candidates(s, app.published_policy(s)[1], as_of)  # invoices coming due
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
