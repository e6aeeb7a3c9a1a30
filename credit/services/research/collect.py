"""Research's first step: collect and clean everything known about a customer into a new
assessment's snapshot (its own transaction, safe to repeat)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import (
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    RequestStatus,
)
from credit.domain import cleaning, scoring
from credit.domain.money import money
from credit.domain.policy import PolicyBody
from credit.domain.research_status import IN_PROGRESS, AssessmentStatus
from credit.domain.snapshot import make_snapshot
from credit.services import followups
from credit.services.common import ServiceError, get_customer, person_email, saved_id
from credit.services.ledger import base_view_of, load_raw_many, rate_table
from credit.services.limits import temporary
from credit.services.limits.groups import customer_group_view

COLLECTED = AssessmentStatus.COLLECTED

RawLedger = tuple[
    list[cleaning.RawStatement], list[cleaning.RawDocument], list[cleaning.RawPayment]
]


class Collected(TypedDict):
    """What collecting returns: the assessment and what cleaning did to the data."""

    assessment_id: int
    cleaning: dict[str, Any]


def refuse_if_review_open(
    s: Session, customer: Customer, *, ignore_assessment: int | None = None
) -> None:
    open_request = s.exec(
        select(CreditRequest).where(
            CreditRequest.customer_id == customer.id,
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED]),
        )
    ).first()
    if open_request is not None:
        raise ServiceError(
            f"customer {customer.code} already has credit request {open_request.id} "
            f"({open_request.status}); it must be decided before a new review starts"
        )
    waiting = s.exec(
        select(CreditAssessment).where(
            CreditAssessment.customer_id == customer.id,
            col(CreditAssessment.status).in_(IN_PROGRESS),
            CreditAssessment.id != (ignore_assessment or 0),
        )
    ).first()
    if waiting is not None:
        raise ServiceError(
            f"customer {customer.code} already has assessment {waiting.id} waiting for "
            f"{waiting.analyst or 'scoring'}; finish it with `credit assess {customer.code}` first"
        )


def check_review_can_start(
    app: App,
    *,
    customer_code: str,
    requested_by: str,
    analyst: str | None = None,
    requested_limit: Decimal | None = None,
    override_reason: str | None = None,
) -> None:
    """Fail fast, before any flow runs, when a review cannot start."""
    person_email(app, requested_by)
    if analyst:
        person_email(app, analyst)
    if requested_limit is not None and not (override_reason and override_reason.strip()):
        raise ServiceError(
            "a requested limit overrides the policy's recommendation: give the reason for it"
        )
    with app.uow() as uow:
        customer = get_customer(uow.session, customer_code)
        app.published_policy(uow.session)
        refuse_if_review_open(uow.session, customer)


class ReviewRequested(TypedDict):
    """A review recorded and handed over: the follow-up that researches the customer."""

    customer: str
    review_key: str
    follow_up: int


def review_key_prefix(customer_code: str) -> str:
    return f"review:{customer_code}:"


def request_review(  # noqa: PLR0913  # the review's own fields, all keyword-only
    app: App,
    *,
    customer_code: str,
    requested_by: str,
    as_of: date,
    analyst: str | None = None,
    requested_limit: Decimal | None = None,
    override_reason: str | None = None,
    until: date | None = None,
) -> ReviewRequested:
    """Record that a credit manager asked for a review, and hand the research to the
    orchestrator (a running service starts it at once; else the command runs it). Refused
    like :func:`check_review_can_start`, and while a review of the customer is already handed
    over and not started yet. ``until``: the limit it approves is temporary (it falls back to
    the limit before it after that day, :mod:`credit.services.limits.temporary`)."""
    check_review_can_start(
        app,
        customer_code=customer_code,
        requested_by=requested_by,
        analyst=analyst,
        requested_limit=requested_limit,
        override_reason=override_reason,
    )
    review_key = f"manual:{customer_code}:{uuid.uuid4().hex[:12]}"
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        lock_customer(s, saved_id(customer))  # two requests at once: one after the other
        refuse_if_review_open(s, customer)  # again, in the transaction that records it
        if followups.open_with_prefix(s, review_key_prefix(customer_code)):
            raise ServiceError(
                f"a review of customer {customer_code} is asked for already and has not "
                "started yet (`credit status` shows it, with its last error if it failed)"
            )
        if until is not None:
            temporary.record_intent(
                s, app.published_policy(s)[1], customer=customer, review_key=review_key,
                until=until, requested_limit=requested_limit, requested_by=requested_by,
                as_of=as_of,
            )  # fmt: skip
        params = {
            "customer_code": customer_code,
            "requested_by": requested_by,
            "review_key": review_key,
            "analyst": analyst,
            "requested_limit": str(requested_limit) if requested_limit is not None else None,
            "override_reason": override_reason,
        }
        row = followups.enqueue(
            s,
            followups.FollowUpSpec(
                followups.FollowUpKind.REVIEW, review_key_prefix(customer_code) + review_key, params
            ),
            as_of=as_of,
            by=requested_by,
        )
        audit.record(
            s,
            actor=requested_by,
            action="review.requested",
            entity_type="customer",
            entity_id=customer_code,
            after={k: v for k, v in params.items() if v is not None and k != "requested_by"}
            | ({"until": until.isoformat()} if until else {}),
            reason=override_reason or "",
        )
        uow.commit()
        return {"customer": customer_code, "review_key": review_key, "follow_up": saved_id(row)}


def collect_customer_data(
    app: App,
    *,
    customer_code: str,
    as_of: date,
    requested_by: str,
    review_key: str,
    analyst: str | None = None,
    requested_limit: Decimal | None = None,
    override_reason: str | None = None,
) -> Collected:
    """Collect and clean everything known about a customer into a new assessment's snapshot.

    Idempotent per ``review_key``: a rerun returns the assessment already started.
    """
    person_email(app, requested_by)
    with app.uow() as uow:
        s = uow.session
        done = s.exec(
            select(CreditAssessment).where(CreditAssessment.review_key == review_key)
        ).first()
        if done is not None:
            return {"assessment_id": saved_id(done), "cleaning": done.cleaning_report}
        customer = get_customer(s, customer_code)
        refuse_if_review_open(s, customer)  # two review starts at once: the second one stops here
        version, policy = app.published_policy(s)
        rates = rate_table(s, policy.base_currency)
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        customer_id = saved_id(customer)
        raw, owed = load_raw_many(s, [customer], as_of, policy.dunning.tolerance)[customer_id]
        snapshot, report, facts = collected_snapshot(
            customer, line, raw=raw, owed=owed, as_of=as_of, policy=policy, rates=rates
        )
        group = customer_group_view(s, policy.base_currency, customer, as_of)
        if group is not None:  # the group's exposure and limit, beside the customer's own
            snapshot["group"] = dict(group)
        assessment = CreditAssessment(
            review_key=review_key,
            customer_id=customer_id,
            as_of=as_of,
            policy_version=version,
            requested_by=requested_by,
            status=COLLECTED,
            analyst=analyst or requested_by,
            requested_limit=money(requested_limit) if requested_limit is not None else None,
            override_reason=override_reason,
            inputs=snapshot,
            cleaning_report=report.to_dict(),
        )
        s.add(assessment)
        s.flush()
        audit_collected(s, assessment, customer=customer, facts=facts, report=report)
        uow.commit()
        return {"assessment_id": saved_id(assessment), "cleaning": report.to_dict()}


def collected_snapshot(
    customer: Customer,
    line: CreditLine | None,
    *,
    raw: RawLedger,
    owed: dict[str, Decimal],
    as_of: date,
    policy: PolicyBody,
    rates: cleaning.RateTable,
) -> tuple[dict[str, Any], cleaning.CleaningReport, scoring.CustomerFacts]:
    """The cleaned facts of a customer's stored data as an assessment's snapshot (what the
    scorecard and the signals see), with exposure (``owed``, by currency) and limit in the base
    currency."""
    raw_statements, raw_documents, raw_payments = raw
    facts, report = cleaning.clean(
        registered_on=customer.registered_on,
        statements=raw_statements,
        documents=raw_documents,
        payments=raw_payments,
        rates=rates,
        as_of=as_of,
        max_statement_age_months=policy.max_statement_age_months,
    )
    base = base_view_of(owed, customer, line=line, rates=rates, as_of=as_of, report=report)
    snapshot = make_snapshot(
        facts,
        raw_payments,
        {
            "as_of": as_of,
            "base_currency": policy.base_currency,
            "profile": {
                "email": customer.email,
                "country": customer.country,
                "tax_id": customer.tax_id,
                "registered_on": customer.registered_on.isoformat()
                if customer.registered_on
                else None,
                "sales_owner_email": customer.sales_owner_email,
            },
            **base,
        },
    )
    return snapshot, report, facts


def audit_collected(
    s: Session,
    a: CreditAssessment,
    *,
    customer: Customer,
    facts: scoring.CustomerFacts,
    report: cleaning.CleaningReport,
) -> None:
    audit.record(
        s,
        actor=a.requested_by,
        action="assessment.collect",
        entity_type="customer",
        entity_id=customer.code,
        after={
            "assessment_id": a.id,
            "statements": len(facts.statements),
            "documents": len(facts.documents),
            "fixes": len(report.fixes),
            "rejected": len(report.rejected),
            "flags": len(report.flags),
        },
        reason=a.review_key,
        policy_version=a.policy_version,
    )
