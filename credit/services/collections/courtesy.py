"""Courtesy reminders before the due date: a friendly notice about invoices coming due, sent by
the daily collections run once per invoice. It is no dunning level: it never escalates, charges
or holds, and the dunning state does not see it."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from credit.db.models import CreditLine, Customer, Invoice
from credit.db.models_dunning_profiles import CourtesyReminder
from credit.domain import dunning
from credit.domain.dunning import OutcomeStatus
from credit.domain.dunning_profiles import coming_due, courtesy_short_of, profiles
from credit.domain.money import ZERO, money
from credit.domain.policy import PolicyBody
from credit.domain.policy_dunning_profiles import STANDARD
from credit.services.collections.decide import DunningOutcome
from credit.services.collections.profiles import follow_profile
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.collections.steps import enqueue
from credit.services.common import saved_id
from credit.services.receivables.dunning_profiles import CHUNK, dunning_settings, profile_of
from credit.services.views import customer_view

KEY_MAX = 200


def courtesy_reminders(
    run: DunningRun, pos: CustomerPosition, *, day_off: str | None
) -> list[DunningOutcome]:
    """The courtesy reminder of the customer's profile for its invoices in ``pos.currency``
    coming due, not yet reminded of (none for disputed or paid invoices, customers not dunned,
    or on a day that is no business day where the customer is): one outcome or none."""
    followed = follow_profile(run, pos)
    courtesy = followed.schedule.courtesy
    if courtesy is None or not followed.schedule.dun or day_off is not None:
        return []
    items = run.batch.items.get(pos.customer_id, {}).get(pos.currency, [])
    coming = coming_due(items, run.as_of, courtesy)
    if not coming:
        return []
    done = _reminded(run.session, pos.customer_id, [i.number for i in coming])
    new = [i for i in coming if (i.number, i.due_date) not in done]
    if not new or courtesy_short_of(courtesy, pos.currency, new) is not None:
        return []
    total = sum((i.open_amount for i in new), ZERO)
    outcome = DunningOutcome(
        customer=pos.customer.code,
        currency=pos.currency,
        level=pos.state.level,
        level_name="courtesy",
        overdue_total=str(money(total)),
        invoices=[i.number for i in new],
        action="none",
        status=OutcomeStatus.WOULD_COURTESY if run.dry_run else OutcomeStatus.COURTESY,
        channel=courtesy.channel,
        reason=(
            f"courtesy reminder of profile {followed.schedule.profile}: "
            f"due {', '.join(sorted({i.due_date.isoformat() for i in new}))}"
        ),
    )
    if not run.dry_run:
        outcome.notices = [_send(followed.run, pos, new, template=courtesy.template, total=total)]
    return [outcome]


def _reminded(s: Session, customer_id: int, numbers: list[str]) -> set[tuple[str, date]]:
    return {
        (number, due)
        for number, due in s.exec(
            select(col(CourtesyReminder.invoice_number), col(CourtesyReminder.due_date)).where(
                CourtesyReminder.customer_id == customer_id,
                col(CourtesyReminder.invoice_number).in_(numbers),
            )
        )
    }


def courtesy_key(pos: CustomerPosition, items: list[dunning.OpenItem]) -> str:
    """``courtesy:CODE:CUR:N1@DUE1,N2@DUE2``: the reminder's idempotency key, from the invoices
    and their due dates (a digest of them when the list is long)."""
    listed = ",".join(f"{i.number}@{i.due_date.isoformat()}" for i in items)
    key = f"courtesy:{pos.customer.code}:{pos.currency}:{listed}"
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(listed.encode()).hexdigest()[:32]
    return f"courtesy:{pos.customer.code}:{pos.currency}:{len(items)}:{digest}"


def _send(
    run: DunningRun,
    pos: CustomerPosition,
    items: list[dunning.OpenItem],
    *,
    template: str,
    total: Decimal,
) -> str:
    key = courtesy_key(pos, items)
    for i in items:
        run.session.add(
            CourtesyReminder(
                customer_id=pos.customer_id,
                currency=pos.currency,
                invoice_number=i.number,
                due_date=i.due_date,
                sent_on=run.as_of,
                profile=run.profile or "standard",
                notice_key=key,
            )
        )
    ctx = {
        "customer": customer_view(pos.customer),
        "as_of": run.as_of,
        "currency": pos.currency,
        "profile": run.profile,
        "items": [
            {
                "number": i.number,
                "due_date": i.due_date,
                "open_amount": i.open_amount,
                "days_to_due": (i.due_date - run.as_of).days,
            }
            for i in items
        ],
        "total": total,
    }
    to = run.batch.addresses(run.session, pos.customer)  # the dunning contact, with CC
    return enqueue(
        run,
        key=key,
        kind=template,
        locale=pos.customer.locale,
        recipients=to.recipients,
        customer=pos.customer,
        ctx=ctx,
        cc=to.cc,
    )


def courtesy_candidates(s: Session, policy: PolicyBody, as_of: date) -> set[int]:
    """Customers whose profile sends courtesy reminders and who have an invoice falling due
    within its window (none when no profile sends them)."""
    windows = {n: p.courtesy.days_before_due for n, p in profiles(policy).items() if p.courtesy}
    if not windows:
        return set()
    last = as_of + timedelta(days=max(windows.values()))
    ids = sorted(
        s.exec(
            select(Invoice.customer_id)
            .where(
                Invoice.amount > 0,
                Invoice.kind == dunning.INVOICE,
                Invoice.issue_date <= as_of,
                Invoice.due_date > as_of,
                Invoice.due_date <= last,
            )
            .distinct()
        )
    )
    settings = dunning_settings(s, ids)
    lines: dict[int, CreditLine] = {}
    found: set[int] = set()
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        for line in s.exec(
            select(CreditLine)
            .where(col(CreditLine.customer_id).in_(chunk))
            .order_by(col(CreditLine.id))
        ):
            lines.setdefault(line.customer_id, line)
        for c in s.exec(select(Customer).where(col(Customer.id).in_(chunk))):
            cid = saved_id(c)
            name, _ = profile_of(policy, c, line=lines.get(cid), setting=settings.get(cid))
            if (name or STANDARD) in windows:
                found.add(cid)
    return found
