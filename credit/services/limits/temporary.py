"""Temporary limits: a limit raise asked for with a review (``credit reviews start ...
--requested-limit X --until D``), approved like any limit, in force once published, and fallen
back to the limit the line had before by the first daily run after ``D`` (the periodic review
flow, ``credit reviews due --run``), with notices to the credit team and the sales owner and a
letter to the customer; audited.

The raise is valid through ``D`` (inclusive). A request published for the customer meanwhile (a
periodic review, another raise) supersedes it: the newly approved limit stands and nothing falls
back."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import CreditLine, CreditRequest, Customer, utcnow
from credit.db.models_groups import TemporaryLimit
from credit.domain.money import fmt_money
from credit.domain.policy import PolicyBody
from credit.services.common import ServiceError, enqueued_id, person_email, saved_id
from credit.services.views import LineView, customer_view, line_view

REQUESTED, IN_FORCE, EXPIRED, SUPERSEDED, VOID = (
    "requested",
    "in_force",
    "expired",
    "superseded",
    "void",
)


class TemporaryView(TypedDict):
    """What the line shows: "temporary until D, then X"."""

    limit: str
    currency: str
    until: str
    then: str
    started_on: str | None
    request_id: int | None


class Expired(TypedDict):
    customer: str
    limit: str
    fallen_back_to: str
    currency: str
    until: str
    notices: list[int]


def check_temporary(
    policy: PolicyBody,
    line: CreditLine | None,
    *,
    until: date,
    requested_limit: Decimal | None,
    as_of: date,
) -> None:
    """Why a temporary limit cannot be asked for (a ServiceError), or nothing."""
    if until <= as_of:
        raise ServiceError(
            f"a temporary limit's end date {until} must be after the review's day {as_of}"
        )
    longest = policy.limits.temporary_max_days
    if until > as_of + timedelta(days=longest):
        raise ServiceError(
            f"a temporary limit's end date {until} is more than {longest} days ahead (the policy's "
            "limits.temporary_max_days)"
        )
    if requested_limit is None:
        raise ServiceError("a temporary limit needs a requested limit (the raised limit)")
    if line is None:
        raise ServiceError("a temporary limit raises a credit line: this customer has none yet")
    if requested_limit <= line.limit:
        raise ServiceError(
            f"a temporary limit is a raise: {requested_limit} is not above the current limit "
            f"{fmt_money(line.limit, line.currency)}"
        )


def record_intent(  # noqa: PLR0913  (the intent's own fields, keyword-only)
    s: Session,
    policy: PolicyBody,
    *,
    customer: Customer,
    review_key: str,
    until: date,
    requested_limit: Decimal | None,
    requested_by: str,
    as_of: date,
) -> None:
    """Record, with the review asked for, that the limit it approves is temporary."""
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    check_temporary(policy, line, until=until, requested_limit=requested_limit, as_of=as_of)
    s.add(
        TemporaryLimit(
            customer_id=saved_id(customer),
            review_key=review_key,
            until=until,
            requested_by=requested_by,
            requested_on=as_of,
        )
    )


def asked_until(s: Session, review_key: str) -> dict[str, date]:
    """``{"temporary_until": D}`` while a request's raise is asked for as temporary (what its
    approvers see beside the proposed limit), else nothing."""
    t = s.exec(
        select(TemporaryLimit).where(
            TemporaryLimit.review_key == review_key, TemporaryLimit.status == REQUESTED
        )
    ).first()
    return {} if t is None else {"temporary_until": t.until}


def _end(s: Session, t: TemporaryLimit, status: str, *, why: str, as_of: date) -> None:
    before = {"status": t.status}
    t.status, t.ended_on, t.ended_reason = status, as_of, why
    s.add(t)
    audit.record(
        s,
        actor="system",
        action=f"temporary_limit.{status}",
        entity_type="temporary_limit",
        entity_id=saved_id(t),
        before=before,
        after={"status": status},
        reason=why,
    )


def on_published(
    s: Session, r: CreditRequest, before: LineView | None, line: CreditLine, *, as_of: date
) -> None:
    """A request was published: a temporary limit in force for the customer is superseded; the
    request's own temporary intent comes into force (void when it did not raise the limit)."""
    for old in s.exec(
        select(TemporaryLimit).where(
            TemporaryLimit.customer_id == r.customer_id,
            TemporaryLimit.status == IN_FORCE,
            TemporaryLimit.review_key != r.review_key,
        )
    ).all():
        _end(s, old, SUPERSEDED, why=f"request {r.id} published a new limit", as_of=as_of)
    t = s.exec(
        select(TemporaryLimit).where(
            TemporaryLimit.review_key == r.review_key, TemporaryLimit.status == REQUESTED
        )
    ).first()
    if t is None:
        return
    t.request_id = saved_id(r)
    if before is None or line.limit <= before["limit"]:
        _end(
            s,
            t,
            VOID,
            why=f"request {r.id} did not raise the limit: nothing to fall back",
            as_of=as_of,
        )
        return
    t.status, t.started_on = IN_FORCE, as_of
    t.limit, t.previous_limit, t.currency = line.limit, before["limit"], line.currency
    s.add(t)
    audit.record(
        s,
        actor="system",
        action="temporary_limit.in_force",
        entity_type="credit_line",
        entity_id=str(r.customer_id),
        before={"limit": before["limit"]},
        after={"limit": line.limit, "until": t.until, "then": before["limit"]},
        reason=f"request {r.id}: temporary until {t.until}, then {before['limit']}",
        policy_version=r.policy_version,
    )


def _view(t: TemporaryLimit) -> TemporaryView:
    return {
        "limit": str(t.limit),
        "currency": t.currency or "",
        "until": t.until.isoformat(),
        "then": str(t.previous_limit),
        "started_on": t.started_on.isoformat() if t.started_on else None,
        "request_id": t.request_id,
    }


def temporary_of(s: Session, customer_id: int) -> TemporaryView | None:
    """The temporary limit in force on a customer's line, if any."""
    t = s.exec(
        select(TemporaryLimit).where(
            TemporaryLimit.customer_id == customer_id, TemporaryLimit.status == IN_FORCE
        )
    ).first()
    return None if t is None else _view(t)


def _notify(
    app: App, s: Session, t: TemporaryLimit, *, policy: PolicyBody, customer: Customer,
    line: CreditLine, as_of: date,
) -> list[int]:  # fmt: skip
    ctx = {
        "customer": customer_view(customer),
        "line": line_view(line),
        "temporary": _view(t),
        "as_of": as_of,
        "told_customer": policy.limits.temporary_tell_customer,
    }
    internal = [app.directory.teams.credit, customer.sales_owner_email]
    try:
        internal.append(person_email(app, t.requested_by))
    except ServiceError:  # the requester left the directory: the team and the sales owner hear
        pass
    n1, _ = notices.enqueue(
        s,
        app.renderer,
        key=f"temporary-limit-expired:{t.id}",
        kind="temporary_limit_expired",
        locale="en",
        recipients=list(dict.fromkeys(internal)),
        customer_id=customer.id,
        context=ctx,
    )
    sent = [enqueued_id(n1)]
    if policy.limits.temporary_tell_customer:
        n2, _ = notices.enqueue(
            s,
            app.renderer,
            key=f"temporary-limit-ended:{t.id}",
            kind="temporary_limit_ended",
            locale=customer.locale,
            recipients=[customer.email],
            customer_id=customer.id,
            context=ctx,
        )
        sent.append(enqueued_id(n2))
    return sent


def _expire_one(app: App, t_id: int, as_of: date) -> Expired | None:
    with app.uow() as uow:
        s = uow.session
        t = s.get(TemporaryLimit, t_id)
        assert t is not None
        lock_customer(s, t.customer_id)
        s.refresh(t)
        if t.status != IN_FORCE or t.until >= as_of:  # another run took it meanwhile
            return None
        version, policy = app.published_policy(s)
        customer = s.get(Customer, t.customer_id)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == t.customer_id)).first()
        assert customer is not None and t.previous_limit is not None and t.limit is not None
        if line is None or line.limit != t.limit:
            _end(
                s,
                t,
                SUPERSEDED,
                why="the line's limit changed since it came into force",
                as_of=as_of,
            )
            uow.commit()
            return None
        before = line_view(line)
        line.limit, line.updated_at = t.previous_limit, utcnow()
        s.add(line)
        t.status, t.ended_on = EXPIRED, as_of
        t.ended_reason = f"ended {t.until}: fallen back to {t.previous_limit}"
        s.add(t)
        audit.record(
            s,
            actor="system",
            action="credit_line.temporary_limit_expired",
            entity_type="credit_line",
            entity_id=customer.code,
            before=before,
            after={**line_view(line), "temporary_limit_id": t.id},
            reason=f"temporary limit {fmt_money(t.limit, line.currency)} ended on {t.until}; "
            f"back to {fmt_money(t.previous_limit, line.currency)}",
            policy_version=version,
        )
        sent = _notify(app, s, t, policy=policy, customer=customer, line=line, as_of=as_of)
        uow.commit()
        return {
            "customer": customer.code,
            "limit": str(t.limit),
            "fallen_back_to": str(t.previous_limit),
            "currency": line.currency,
            "until": t.until.isoformat(),
            "notices": sent,
        }


def expire_temporary_limits(app: App, *, as_of: date) -> list[Expired]:
    """Fall back every temporary limit whose last day is before ``as_of`` (once: a rerun finds
    them expired and does nothing)."""
    with app.uow(read_only=True) as uow:
        due = list(
            uow.session.exec(
                select(col(TemporaryLimit.id))
                .where(TemporaryLimit.status == IN_FORCE, col(TemporaryLimit.until) < as_of)
                .order_by(col(TemporaryLimit.id))
            )
        )
    return [done for t_id in due if t_id is not None and (done := _expire_one(app, t_id, as_of))]
