"""The outbox's use cases that write: deliver what it holds (telling the operator of notices
that failed for good) and put failed notices back after their cause is fixed."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlmodel import col, select

from credit import audit, gc_pace, notices
from credit.app import App
from credit.db.models import CreditPolicy, Notice, NoticeStatus, utcnow
from credit.domain.dunning_profiles import customer_templates
from credit.services.common import ServiceError, known_user, required_text
from credit.services.letters import rewrite_for_account

log = logging.getLogger(__name__)


class Delivered(TypedDict):
    """A delivery sweep's report (:class:`credit.notices.DeliveryReport`), the notices made due
    now (``released``) and the operator's notice of those that failed for good, if any."""

    sent: int
    retried: int
    failed: int
    skipped: int
    repeated: int
    failed_ids: list[int]
    stopped: str
    waiting: int
    next_attempt: datetime | None
    held: int
    held_reason: str
    released: int
    operator_notice: int | None


@gc_pace.bulk_work()
def deliver(
    app: App,
    *,
    limit: int | None = None,
    notice_ids: list[int] | None = None,
    now: bool = False,
    by: str | None = None,
) -> Delivered:
    """Send what the outbox holds. Notices that failed for good in this sweep (a permanent
    refusal, or retries used up) are listed in one notice to the operator.

    While the company's details are not configured, notices to customers stay in the outbox
    (pending, no attempt spent) and the report says why. ``now``: notices waiting out a retry
    delay are sent now (audited, as ``by``)."""
    hold: frozenset[str] = frozenset()
    hold_reason = ""
    missing = app.settings.company_missing()
    if missing:
        hold = _customer_kinds(app)
        hold_reason = notices.company_refusal(missing)
    released = _release_waiting(app, by=by, hold=hold) if now else []
    report = notices.deliver_pending(
        app.engine,
        notices.transport_for(app.settings),
        mail_from=app.settings.mail_from,
        limit=limit,
        notice_ids=notice_ids,
        letters_dir=app.settings.letters_path,
        lease=timedelta(seconds=app.settings.delivery_lease_seconds),
        retry_base=app.settings.delivery_retry_seconds,
        hold=hold,
        hold_reason=hold_reason,
        letter_maker=letter_maker(app),
    )
    out = asdict(report)
    out["released"] = len(released)
    out["operator_notice"] = tell_operator(app, report.failed_ids)
    return cast("Delivered", out)  # the report's fields and the two above


def letter_maker(app: App) -> Any:
    """What makes customer letters' PDFs at delivery: the company's details and bank accounts."""
    from credit.notices.pdf_maker import LetterMaker

    return LetterMaker(company=app.settings.company, load_accounts=lambda: app.bank_accounts)


def _release_waiting(app: App, *, by: str | None, hold: frozenset[str]) -> list[int]:
    """Make notices waiting out a retry delay due now (audited: sending before the retry is due
    says by whom); their ids."""
    by = known_user(app, by or "")
    with app.uow() as uow:
        released = notices.release_waiting(uow.session, utcnow(), hold)
        if released:
            audit.record(
                uow.session,
                actor=by,
                action="notice.retry_now",
                entity_type="outbox",
                entity_id="waiting",
                before={"waiting": len(released)},
                after={
                    "due": len(released),
                    "first_id": min(released),
                    "last_id": max(released),
                },
                reason="sent now instead of after their retry delay",
            )
        uow.commit()
    return released


def _customer_kinds(app: App) -> frozenset[str]:
    """The kinds of notice that go to customers: the shipped ones and the templates of every
    policy version's dunning levels that write to them (not the call tasks)."""
    templates = set()
    with app.uow(read_only=True) as uow:
        for row in uow.session.exec(select(CreditPolicy)):
            templates |= set(customer_templates(app.policy_body(row)))
    return notices.customer_kinds(templates)


def retry_notices(app: App, *, notice_ids: list[int], by: str, reason: str) -> list[int]:
    """Put failed notices back in the outbox (after the cause is fixed); audited. Refuses ids
    that are unknown or not failed, and changes nothing then."""
    by, reason = known_user(app, by), required_text(reason, "what was fixed")
    with app.uow() as uow:
        s = uow.session
        rows = {n.id: n for n in s.exec(select(Notice).where(col(Notice.id).in_(notice_ids)))}
        missing = [i for i in notice_ids if i not in rows]
        if missing:
            raise ServiceError(f"no notice with id {', '.join(map(str, missing))}")
        not_failed = [
            f"#{i} is {rows[i].status}" for i in notice_ids if rows[i].status != NoticeStatus.FAILED
        ]
        if not_failed:
            raise ServiceError(f"only failed notices can be retried: {'; '.join(not_failed)}")
        for i in notice_ids:
            n = rows[i]
            before = {"status": n.status, "attempts": n.attempts, "last_error": n.last_error}
            # A letter refused for its account is written again with the account as it is now.
            rewritten = rewrite_for_account(app, n)
            n.status, n.attempts, n.claimed_until = NoticeStatus.PENDING, 0, None
            s.add(n)
            audit.record(
                s,
                actor=by,
                action="notice.retry",
                entity_type="notice",
                entity_id=str(i),
                before=before,
                after={"status": n.status, "attempts": 0}
                | ({"rewritten": rewritten} if rewritten else {}),
                reason=reason,
            )
        uow.commit()
    return notice_ids


SHOWN_FAILED = 200  # failed notices listed one by one in the operator's notice


def tell_operator(app: App, failed_ids: list[int]) -> int | None:
    """Queue (and try to send) one notice to the operator listing notices that failed for good;
    an operator notice that fails is not reported again by another."""
    if not failed_ids:
        return None
    with app.uow() as uow:
        s = uow.session
        failed = []
        for i in range(0, len(failed_ids), 5000):
            failed += [
                n
                for n in s.exec(
                    select(Notice)
                    .where(col(Notice.id).in_(failed_ids[i : i + 5000]))
                    .order_by(col(Notice.id))
                )
                if n.kind != "delivery_failed"
            ]
        if not failed:
            return None
        key = "delivery-failed:" + ",".join(str(n.id) for n in failed)
        if len(key) > 120:  # the key column's size: a long list is named by its digest
            digest = hashlib.sha256(key.encode()).hexdigest()[:16]
            key = f"delivery-failed:{failed[0].id}-{failed[-1].id}:{len(failed)}:{digest}"
        notice, _ = notices.enqueue(
            s,
            app.renderer,
            key=key,
            kind="delivery_failed",
            locale="en",
            recipients=[app.directory.teams.operator_email],
            context={
                "total": len(failed),
                "failed": [
                    {
                        "id": n.id,
                        "key": n.idempotency_key,
                        "kind": n.kind,
                        "recipients": list(n.recipients),
                        "attempts": n.attempts,
                        "last_error": n.last_error or "",
                        "subject": n.subject,
                    }
                    for n in failed[:SHOWN_FAILED]
                ],
                "mail_from": app.settings.mail_from,
            },
        )
        uow.commit()
        operator_id = notice.id if notice is not None else None
    log.error(
        "%d notice(s) could not be delivered (%s); the operator is told",
        len(failed),
        ", ".join(str(n.id) for n in failed[:20]),
    )
    if operator_id is not None:
        notices.deliver_pending(
            app.engine,
            notices.transport_for(app.settings),
            mail_from=app.settings.mail_from,
            notice_ids=[operator_id],
            letters_dir=app.settings.letters_path,
            lease=timedelta(seconds=app.settings.delivery_lease_seconds),
        )
    return operator_id
