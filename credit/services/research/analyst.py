"""The analyst's part of research: the qualitative rating (given, reminded, reassigned or
cancelled) and the list of assessments waiting for it."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import CreditAssessment, Customer, utcnow
from credit.domain import scoring
from credit.domain.money import money
from credit.domain.policy import PolicyBody
from credit.domain.research_status import IN_PROGRESS, AssessmentStatus
from credit.services import followups
from credit.services.common import ServiceError, get_customer, person_email, saved_id
from credit.services.research.decision import Rating, ScoredSummary, rescore, scored_summary
from credit.services.research.effects import complete, open_signals, qualitative_context

log = logging.getLogger(__name__)


class QualitativeRecorded(ScoredSummary):
    """What recording the analyst's rating returns: the completed assessment and its limit."""

    recommended_limit: str
    currency: str
    follow_up: int  # drafting and routing the request, handed to the orchestrator


class ReminderCounts(TypedDict):
    reminders: int
    escalations: int


class WaitingAssessment(TypedDict):
    assessment_id: int | None
    customer: str
    analyst: str | None
    requested_by: str
    quantitative_score: str
    due_at: str


def record_qualitative(
    app: App,
    *,
    customer_code: str,
    username: str,
    scores: dict[str, Decimal],
    comment: str,
    override_limit: Decimal | None = None,
    override_reason: str | None = None,
    as_of: date | None = None,
) -> QualitativeRecorded:
    """The analyst's answer to the qualitative step: validated, combined, rated, audited.

    ``as_of`` is the day the analyst answers: risk signals recorded up to then, while the
    analyst was asked (a bounced payment a risk scan found meanwhile), count in the rating too.
    Without it, those recorded by the research date count."""
    if not comment.strip():
        raise ServiceError("a qualitative assessment needs a comment explaining the ratings")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        a = _assigned_assessment(s, customer, username)
        policy = app.policy_body_for(s, a.policy_version)
        _check_scores(scores, policy)
        _claim(s, a)
        if override_limit is not None:
            _override(
                s, a, code=customer.code, by=username, limit=override_limit, reason=override_reason
            )
        _take_in_signals_since(s, a, customer=customer, as_of=as_of)
        result = rescore(a, policy)
        rating = Rating(scores=scores, comment=comment, by=username)
        complete(app, s, a, customer=customer, policy=policy, result=result, rating=rating)
        follow = followups.enqueue(  # draft and route the request: the orchestrator's
            s,
            followups.FollowUpSpec(
                followups.FollowUpKind.COMPLETE_REVIEW,
                f"complete_review:{saved_id(a)}",
                {"assessment_id": saved_id(a)},
            ),
            as_of=as_of or a.as_of,  # the day the analyst answers, else the research's day
            by=username,
        )
        uow.commit()
        return {
            **scored_summary(a),
            "recommended_limit": str(a.recommended_limit),
            "currency": customer.currency,
            "follow_up": saved_id(follow),
        }


def _assigned_assessment(s: Session, customer: Customer, username: str) -> CreditAssessment:
    """The customer's assessment waiting for a qualitative rating by ``username``."""
    a = s.exec(
        select(CreditAssessment).where(
            CreditAssessment.customer_id == customer.id,
            CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE,
        )
    ).first()
    if a is None:
        raise ServiceError(
            f"customer {customer.code} has no assessment waiting for a qualitative rating"
        )
    if username != a.analyst:
        raise ServiceError(f"assessment {a.id} is assigned to {a.analyst}, not {username}")
    return a


def _check_scores(scores: dict[str, Decimal], policy: PolicyBody) -> None:
    try:
        scoring.score_qualitative(scores, policy)
    except ValueError as exc:
        names = ", ".join(f.name for f in policy.scorecard.qualitative.factors)
        raise ServiceError(
            f"{exc} (the policy's qualitative factors: {names}; scores 0-100)"
        ) from None


def _claim(s: Session, a: CreditAssessment) -> None:
    """Lock the waiting assessment's row: of two answers at once, the second is refused."""
    claimed = s.exec(
        update(CreditAssessment)
        .where(
            col(CreditAssessment.id) == a.id,
            col(CreditAssessment.status) == AssessmentStatus.AWAITING_QUALITATIVE,
        )
        .values(status=AssessmentStatus.AWAITING_QUALITATIVE)
    )
    if claimed.rowcount != 1:
        raise ServiceError(f"assessment {a.id} was answered by someone else just now")


def _override(
    s: Session, a: CreditAssessment, *, code: str, by: str, limit: Decimal, reason: str | None
) -> None:
    """The analyst asks for a limit other than the recommendation (audited, with the reason)."""
    if not (reason and reason.strip()):
        raise ServiceError("a limit other than the recommendation needs a reason")
    audit.record(
        s,
        actor=by,
        action="assessment.override",
        entity_type="customer",
        entity_id=code,
        before={"requested_limit": a.requested_limit, "override_reason": a.override_reason},
        after={"requested_limit": money(limit), "override_reason": reason},
        reason=reason,
        policy_version=a.policy_version,
    )
    a.requested_limit, a.override_reason = money(limit), reason


def _take_in_signals_since(
    s: Session, a: CreditAssessment, *, customer: Customer, as_of: date | None
) -> None:
    """The signals recorded while the analyst was asked (up to ``as_of``) count too."""
    known = {d["key"] for d in a.inputs.get("signals", [])}
    until = max(a.as_of, as_of) if as_of is not None else a.as_of
    a.inputs = {
        **a.inputs,
        "open_signals": [
            d
            for d in open_signals(s, [customer], until).get(saved_id(customer), [])
            if d["key"] not in known
        ],
    }


def _email_or_team(app: App, username: str | None) -> str:
    person = app.directory.get(username) if username else None
    return person.email if person else app.directory.teams.credit


def send_research_reminders(app: App, *, now: datetime | None = None) -> ReminderCounts:
    """Remind analysts whose qualitative rating is overdue; tell the credit team when it is twice
    overdue. Each reminder is sent once (idempotency keys per assessment); one assessment that
    cannot be reminded (say, its analyst left the directory) does not stop the others."""
    now = now or utcnow()
    sent: ReminderCounts = {"reminders": 0, "escalations": 0}
    with app.uow() as uow:
        ids = list(
            uow.session.exec(
                select(CreditAssessment.id).where(
                    CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE,
                    col(CreditAssessment.qualitative_due_at) < now,
                )
            )
        )
    for assessment_id in ids:
        try:
            _remind(app, assessment_id, now=now, sent=sent)
        except (ServiceError, notices.NoticeError) as exc:
            log.error("reminder for assessment %s not sent: %s", assessment_id, exc)
    return sent


def _remind(app: App, assessment_id: int | None, *, now: datetime, sent: ReminderCounts) -> None:
    """One overdue assessment's reminder (and escalation, when twice overdue), in its own
    transaction; counted in ``sent``."""
    with app.uow() as uow:
        s = uow.session
        a = s.get(CreditAssessment, assessment_id)
        if a is None or a.status != AssessmentStatus.AWAITING_QUALITATIVE:
            return
        customer = s.get(Customer, a.customer_id)
        assert customer is not None and a.qualitative_due_at is not None
        policy = app.policy_body_for(s, a.policy_version)
        ctx = qualitative_context(a, customer, policy, reminder=True)
        _, created = notices.enqueue(
            s,
            app.renderer,
            key=f"qualitative-reminder:{a.id}",
            kind="qualitative_needed",
            locale="en",
            recipients=[_email_or_team(app, a.analyst or a.requested_by)],
            customer_id=customer.id,
            context=ctx,
        )
        sent["reminders"] += created
        if now - a.qualitative_due_at >= timedelta(hours=policy.scorecard.qualitative.due_hours):
            _, created = notices.enqueue(
                s,
                app.renderer,
                key=f"qualitative-escalation:{a.id}",
                kind="qualitative_needed",
                locale="en",
                recipients=[app.directory.teams.credit, _email_or_team(app, a.requested_by)],
                customer_id=customer.id,
                context=ctx,
            )
            sent["escalations"] += created
        uow.commit()


def reassign_analyst(app: App, *, customer_code: str, to: str, by: str, reason: str) -> int:
    """Give a waiting qualitative rating to another analyst (audited); they are asked at once."""
    person_email(app, to)
    person_email(app, by)
    _require_reason(reason)
    with app.uow() as uow:
        s = uow.session
        customer, a = _waiting_of(s, customer_code)
        before = {"analyst": a.analyst}
        a.analyst = to
        a.qualitative_due_at = utcnow() + timedelta(
            hours=app.policy_body_for(s, a.policy_version).scorecard.qualitative.due_hours
        )
        s.add(a)
        audit.record(
            s,
            actor=by,
            action="assessment.reassign",
            entity_type="customer",
            entity_id=customer.code,
            before=before,
            after={"analyst": to, "assessment_id": a.id},
            reason=reason,
            policy_version=a.policy_version,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"qualitative-needed:{a.id}:{to}",
            kind="qualitative_needed",
            locale="en",
            recipients=[person_email(app, to)],
            customer_id=customer.id,
            context=qualitative_context(
                a, customer, app.policy_body_for(s, a.policy_version), reminder=False
            ),
        )
        uow.commit()
        return saved_id(a)


def cancel_research(app: App, *, customer_code: str, by: str, reason: str) -> int:
    """Abandon a review waiting for its qualitative rating (audited), so a new one can start."""
    person_email(app, by)
    _require_reason(reason)
    with app.uow() as uow:
        s = uow.session
        customer, a = _waiting_of(s, customer_code)
        a.status = AssessmentStatus.CANCELLED
        s.add(a)
        audit.record(
            s,
            actor=by,
            action="assessment.cancel",
            entity_type="customer",
            entity_id=customer.code,
            before={"status": AssessmentStatus.AWAITING_QUALITATIVE, "assessment_id": a.id},
            after={"status": AssessmentStatus.CANCELLED},
            reason=reason,
            policy_version=a.policy_version,
        )
        uow.commit()
        return saved_id(a)


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise ServiceError("a reason is required: say why")


def _waiting_of(s: Session, customer_code: str) -> tuple[Customer, CreditAssessment]:
    """The customer and its assessment waiting for a qualitative rating."""
    customer = get_customer(s, customer_code)
    return customer, _waiting(s, customer)


def _waiting(s: Session, customer: Customer) -> CreditAssessment:
    a = s.exec(
        select(CreditAssessment).where(
            CreditAssessment.customer_id == customer.id,
            col(CreditAssessment.status).in_(IN_PROGRESS),
        )
    ).first()
    if a is None:
        raise ServiceError(
            f"customer {customer.code} has no assessment waiting for a qualitative rating"
        )
    return a


def waiting_assessments(app: App) -> list[WaitingAssessment]:
    """Assessments waiting for an analyst's qualitative rating."""
    with app.uow() as uow:
        rows = uow.session.exec(
            select(CreditAssessment, Customer)
            .join(Customer, col(Customer.id) == col(CreditAssessment.customer_id))
            .where(CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE)
            .order_by(col(CreditAssessment.qualitative_due_at))
        ).all()
        return [
            {
                "assessment_id": a.id,
                "customer": c.code,
                "analyst": a.analyst,
                "requested_by": a.requested_by,
                "quantitative_score": str(a.quantitative_score),
                "due_at": a.qualitative_due_at.isoformat() if a.qualitative_due_at else "",
            }
            for a, c in rows
        ]
