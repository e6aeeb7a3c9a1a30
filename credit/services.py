"""Use cases. Each owns its transaction: a credit decision is saved whole (with its audit events and
its outbox notices) or not at all. Services take an :class:`~credit.app.App` and keyword arguments."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.config import load_policy_file
from credit.db.models import (
    ApprovalStep,
    CreditAssessment,
    CreditLine,
    CreditPolicy,
    CreditRequest,
    Customer,
    Decision,
    DunningAction,
    FinancialStatement,
    Invoice,
    LineStatus,
    Notice,
    Payment,
    PolicyStatus,
    RequestKind,
    RequestStatus,
    utcnow,
)
from credit.domain import authority, dunning, scoring
from credit.domain.money import ZERO, money
from credit.domain.policy import DunningAction as DunningActionKind
from credit.domain.policy import PolicyBody

log = logging.getLogger(__name__)

SUBJECT_REQUEST = "credit_request"
SUBJECT_POLICY = "credit_policy"


class ServiceError(ValueError):
    """A request the product refuses, with a message for the person who made it."""


class DecisionRefused(ServiceError):
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = [
        31,
        29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return date(year, month, min(day.day, last))


# --------------------------------------------------------------------------- set-up


def init_database(app: App, *, actor: str) -> dict[str, Any]:
    """Run the migrations; publish ``config/policy.yaml`` as version 1 if there is no policy yet."""
    from credit.db import migrate  # Alembic is only needed here

    migrate.upgrade(app.engine)
    with app.uow() as uow:
        existing = uow.session.exec(select(CreditPolicy)).first()
        if existing is not None:
            version, _ = app.published_policy(uow.session)
            return {
                "migrated_to": migrate.current_revision(app.engine),
                "policy_version": version,
                "created_policy": False,
            }
        body = load_policy_file(app.settings.policy_path)
        if body.base_currency != app.settings.base_currency:
            raise ServiceError(
                f"{app.settings.policy_path}: base_currency {body.base_currency} differs "
                f"from CREDIT_BASE_CURRENCY={app.settings.base_currency}"
            )
        row = _new_policy_row(
            body,
            version=1,
            proposed_by=actor,
            reason=f"initial policy from {app.settings.policy_path.name}",
        )
        row.status = PolicyStatus.PUBLISHED
        row.published_at = utcnow()
        uow.session.add(row)
        uow.session.flush()
        audit.record(
            uow.session,
            actor=actor,
            action="policy.publish",
            entity_type="credit_policy",
            entity_id=1,
            after={"version": 1, "status": "published", "sha256": row.body_sha256},
            reason="initial policy",
            policy_version=1,
        )
        uow.commit()
    return {
        "migrated_to": migrate.current_revision(app.engine),
        "policy_version": 1,
        "created_policy": True,
    }


def _new_policy_row(
    body: PolicyBody, *, version: int, proposed_by: str, reason: str
) -> CreditPolicy:
    data = audit.jsonable(body.model_dump(mode="json"))
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return CreditPolicy(
        version=version,
        name=body.name,
        body=data,
        body_sha256=digest,
        proposed_by=proposed_by,
        reason=reason,
    )


def _customer(session: Session, code: str) -> Customer:
    customer = session.exec(select(Customer).where(Customer.code == code)).first()
    if customer is None:
        raise ServiceError(f"no customer with code {code!r}")
    return customer


def _person_email(app: App, username: str) -> str:
    person = app.directory.get(username)
    if person is None:
        raise ServiceError(
            f"{username!r} is not in the approver directory ({app.settings.approvers_path})"
        )
    return person.email


# --------------------------------------------------------------------------- ledger views


def load_facts(session: Session, customer: Customer, as_of: date) -> scoring.CustomerFacts:
    """The customer's statements and documents (with the date each invoice was fully paid)."""
    statements = [
        scoring.StatementFacts(
            period_end=s.period_end,
            revenue=s.revenue,
            net_income=s.net_income,
            total_assets=s.total_assets,
            total_liabilities=s.total_liabilities,
            current_assets=s.current_assets,
            current_liabilities=s.current_liabilities,
            operating_cash_flow=s.operating_cash_flow,
        )
        for s in session.exec(
            select(FinancialStatement).where(
                FinancialStatement.customer_id == customer.id,
                FinancialStatement.period_end <= as_of,
            )
        )
    ]
    invoices = list(
        session.exec(
            select(Invoice).where(Invoice.customer_id == customer.id, Invoice.issue_date <= as_of)
        )
    )
    payments = list(
        session.exec(
            select(Payment)
            .where(Payment.customer_id == customer.id, Payment.paid_on <= as_of)
            .order_by(col(Payment.paid_on), col(Payment.id))
        )
    )
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    paid_on: dict[int, date] = {}
    by_id = {i.id: i for i in invoices}
    for p in payments:
        if p.invoice_id in by_id:
            allocated[p.invoice_id] += p.amount
            if (
                p.invoice_id not in paid_on
                and allocated[p.invoice_id] >= by_id[p.invoice_id].amount
            ):
                paid_on[p.invoice_id] = p.paid_on
    documents = [
        scoring.DocumentFacts(
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            amount=i.amount,
            paid_on=paid_on.get(i.id),
        )  # type: ignore[arg-type]
        for i in invoices
    ]
    return scoring.CustomerFacts(
        registered_on=customer.registered_on, statements=statements, documents=documents
    )


def open_items(
    session: Session, customer_id: int, as_of: date
) -> dict[str, list[dunning.OpenItem]]:
    """Open balances per currency: invoices after allocated payments, credit notes and unallocated
    payments as negative items."""
    invoices = list(
        session.exec(
            select(Invoice).where(Invoice.customer_id == customer_id, Invoice.issue_date <= as_of)
        )
    )
    payments = list(
        session.exec(
            select(Payment).where(Payment.customer_id == customer_id, Payment.paid_on <= as_of)
        )
    )
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    items: dict[str, list[dunning.OpenItem]] = defaultdict(list)
    for p in payments:
        if p.invoice_id is not None:
            allocated[p.invoice_id] += p.amount
        else:
            items[p.currency].append(
                dunning.OpenItem(f"payment {p.reference}", p.paid_on, -p.amount)
            )
    for inv in invoices:
        balance = inv.amount - allocated.get(inv.id, ZERO)  # type: ignore[arg-type]
        if balance != 0:
            items[inv.currency].append(dunning.OpenItem(inv.number, inv.due_date, balance))
    return dict(items)


def exposure(session: Session, customer_id: int, as_of: date) -> dict[str, Decimal]:
    return {
        cur: sum((i.open_amount for i in its), ZERO)
        for cur, its in open_items(session, customer_id, as_of).items()
    }


def _dunning_state(
    session: Session, customer_id: int, currency: str
) -> tuple[int, int, date | None]:
    """(episode, current level, date of the last action) for a customer's currency; level 0 means
    not in dunning."""
    last = session.exec(
        select(DunningAction)
        .where(DunningAction.customer_id == customer_id, DunningAction.currency == currency)
        .order_by(col(DunningAction.id).desc())
    ).first()
    if last is None:
        return 1, 0, None
    if last.level == 0:
        return last.episode + 1, 0, last.as_of
    return last.episode, last.level, last.as_of


# --------------------------------------------------------------------------- research


def assess_customer(
    app: App, *, customer_code: str, as_of: date, requested_by: str, review_key: str
) -> int:
    """Score and rate a customer under the published policy; notify whoever asked. Idempotent per
    ``review_key``: a rerun returns the assessment already made."""
    requester_email = _person_email(app, requested_by)
    with app.uow() as uow:
        s = uow.session
        done = s.exec(
            select(CreditAssessment).where(CreditAssessment.review_key == review_key)
        ).first()
        if done is not None:
            return done.id  # type: ignore[return-value]
        customer = _customer(s, customer_code)
        version, policy = app.published_policy(s)
        facts = load_facts(s, customer, as_of)
        result = scoring.score_customer(facts, as_of, policy)
        rec = scoring.recommend(result, facts, as_of, policy)
        latest = scoring.latest_statement(facts, as_of)
        assessment = CreditAssessment(
            review_key=review_key,
            customer_id=customer.id,
            as_of=as_of,  # type: ignore[arg-type]
            policy_version=version,
            requested_by=requested_by,
            inputs=audit.jsonable(
                {
                    "statement": asdict(latest) if latest else None,
                    "documents": len(facts.documents),
                    "registered_on": customer.registered_on,
                }
            ),
            metrics=audit.jsonable(result.metrics),
            factors=audit.jsonable([asdict(f) for f in result.factors]),
            total_score=result.total,
            rating=result.rating,
            recommended_limit=rec.limit,
            terms_days=rec.terms_days,
            conditions=rec.conditions,
            review_months=rec.review_months,
            limit_basis=rec.basis,
        )
        s.add(assessment)
        s.flush()
        audit.record(
            s,
            actor=requested_by,
            action="assessment.create",
            entity_type="customer",
            entity_id=customer.code,
            after={
                "assessment_id": assessment.id,
                "score": result.total,
                "rating": result.rating,
                "recommended_limit": rec.limit,
            },
            reason=review_key,
            policy_version=version,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"assessment-ready:{assessment.id}",
            kind="assessment_ready",
            locale="en",
            recipients=[requester_email],
            customer_id=customer.id,
            context={
                "customer": _customer_view(customer),
                "assessment": _assessment_view(assessment),
                "requested_by": requested_by,
            },
        )
        uow.commit()
        return assessment.id  # type: ignore[return-value]


def _customer_view(c: Customer) -> dict[str, Any]:
    return {
        "code": c.code,
        "name": c.name,
        "email": c.email,
        "country": c.country,
        "currency": c.currency,
        "sales_owner_email": c.sales_owner_email,
    }


def _assessment_view(a: CreditAssessment) -> dict[str, Any]:
    return {
        "id": a.id,
        "as_of": a.as_of.isoformat(),
        "score": a.total_score.quantize(Decimal("0.01")),
        "rating": a.rating,
        "recommended_limit": a.recommended_limit,
        "terms_days": a.terms_days,
        "conditions": list(a.conditions),
        "review_months": a.review_months,
        "limit_basis": a.limit_basis,
        "policy_version": a.policy_version,
        "factors": [
            {**f, "value": f["value"] if f["value"] is not None else "missing"} for f in a.factors
        ],
    }


# --------------------------------------------------------------------------- draft


def draft_request(
    app: App, *, assessment_id: int, requested_limit: Decimal | None, kind: str | None = None
) -> int:
    """Turn an assessment into a credit request (limit, terms, conditions from the rating)."""
    with app.uow() as uow:
        s = uow.session
        a = s.get(CreditAssessment, assessment_id)
        if a is None:
            raise ServiceError(f"no assessment {assessment_id}")
        done = s.exec(select(CreditRequest).where(CreditRequest.review_key == a.review_key)).first()
        if done is not None:
            return done.id  # type: ignore[return-value]
        customer = s.get(Customer, a.customer_id)
        assert customer is not None
        open_request = s.exec(
            select(CreditRequest).where(
                CreditRequest.customer_id == customer.id,
                CreditRequest.status.in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED]),
            )
        ).first()  # type: ignore[attr-defined]
        if open_request is not None:
            raise ServiceError(
                f"customer {customer.code} already has request {open_request.id} "
                f"({open_request.status}); decide it first"
            )
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        proposed = money(requested_limit) if requested_limit is not None else a.recommended_limit
        if kind is None:
            if line is None:
                kind = RequestKind.NEW
            elif proposed > line.limit:
                kind = RequestKind.INCREASE
            elif proposed < line.limit:
                kind = RequestKind.DECREASE
            else:
                kind = RequestKind.REVIEW
        request = CreditRequest(
            review_key=a.review_key,
            customer_id=customer.id,
            assessment_id=a.id,  # type: ignore[arg-type]
            kind=kind,
            requested_by=a.requested_by,
            requested_limit=requested_limit,
            recommended_limit=a.recommended_limit,
            proposed_limit=proposed,
            current_limit=line.limit if line else None,
            currency=customer.currency,
            terms_days=a.terms_days,
            conditions=list(a.conditions),
            rating=a.rating,
            review_months=a.review_months,
            policy_version=a.policy_version,
        )
        s.add(request)
        s.flush()
        audit.record(
            s,
            actor=a.requested_by,
            action="request.create",
            entity_type="credit_request",
            entity_id=request.id,
            after=_request_view(request),
            reason=f"{kind} from assessment {a.id}",
            policy_version=a.policy_version,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"request-drafted:{request.id}",
            kind="request_drafted",
            locale="en",
            recipients=[_person_email(app, a.requested_by)],
            customer_id=customer.id,
            context={
                "customer": _customer_view(customer),
                "request": _request_view(request),
                "assessment": _assessment_view(a),
            },
        )
        uow.commit()
        return request.id  # type: ignore[return-value]


def _request_view(r: CreditRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "status": r.status,
        "requested_by": r.requested_by,
        "requested_limit": r.requested_limit,
        "recommended_limit": r.recommended_limit,
        "proposed_limit": r.proposed_limit,
        "current_limit": r.current_limit,
        "currency": r.currency,
        "terms_days": r.terms_days,
        "conditions": list(r.conditions),
        "rating": r.rating,
        "review_months": r.review_months,
        "policy_version": r.policy_version,
    }


# --------------------------------------------------------------------------- approval


@dataclass
class Progress:
    """Where an approval chain stands after :func:`advance_request` / :func:`advance_policy`."""

    subject: str
    subject_id: int
    status: str
    waiting_for: str | None = None
    notices: list[int] = field(default_factory=list)


def _steps(s: Session, subject: str, subject_id: int) -> list[ApprovalStep]:
    return list(
        s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.subject == subject, ApprovalStep.subject_id == subject_id)
            .order_by(col(ApprovalStep.level))
        )
    )


def _base_amount(app: App, request: CreditRequest, policy: PolicyBody) -> Decimal:
    """The amount the authority matrix compares, in the policy's base currency."""
    if request.currency != policy.base_currency:
        # FX conversion arrives with the rates table (issue 3); until then amounts in another
        # currency are compared one-to-one and the approver sees the currency on every notice.
        log.warning(
            "request %s in %s compared 1:1 with %s authority levels",
            request.id,
            request.currency,
            policy.base_currency,
        )
    return request.proposed_limit


def _create_steps(
    app: App,
    s: Session,
    *,
    subject: str,
    subject_id: int,
    chain: list[tuple[int, str, Decimal | None, str]],
    requester: str,
    amount: Decimal,
    due_hours: int,
    now: datetime,
) -> list[ApprovalStep]:
    steps = []
    for level, role, cap, reason in chain:
        step = ApprovalStep(
            subject=subject,
            subject_id=subject_id,
            level=level,
            role=role,
            cap=cap,
            reason=reason,
            due_at=now + timedelta(hours=due_hours),
        )
        s.add(step)
        steps.append(step)
    s.flush()
    return steps


def _assign(
    app: App, step: ApprovalStep, *, amount: Decimal, requester: str, excluded: set[str]
) -> str | None:
    if step.approver is None:
        person = authority.pick_approver(
            directory=app.directory,
            role=step.role,
            cap=step.cap,
            amount=amount,
            requester=requester,
            excluded=excluded,
        )
        step.approver = person.username if person else None
    return step.approver


def advance_request(app: App, *, request_id: int, as_of: date) -> Progress:
    """Move a credit request along its chain from what the database says: create the steps the
    authority matrix requires, ask the next approver, or report rejection. Safe to repeat."""
    with app.uow() as uow:
        s = uow.session
        r = s.get(CreditRequest, request_id)
        if r is None:
            raise ServiceError(f"no credit request {request_id}")
        customer = s.get(Customer, r.customer_id)
        assert customer is not None
        policy_row = s.exec(
            select(CreditPolicy).where(CreditPolicy.version == r.policy_version)
        ).one()
        policy = app.policy_body(policy_row)
        amount = _base_amount(app, r, policy)
        steps = _steps(s, SUBJECT_REQUEST, request_id)
        now = utcnow()
        if not steps and r.status == RequestStatus.IN_APPROVAL:
            chain = authority.required_steps(
                amount=amount,
                rating=r.rating,
                above_recommendation=r.proposed_limit > r.recommended_limit,
                policy=policy,
            )
            steps = _create_steps(
                app,
                s,
                subject=SUBJECT_REQUEST,
                subject_id=request_id,
                chain=[(c.level, c.role, c.cap, c.reason) for c in chain],
                requester=r.requested_by,
                amount=amount,
                due_hours=policy.authority.step_due_hours,
                now=now,
            )
            audit.record(
                s,
                actor="system",
                action="request.route",
                entity_type="credit_request",
                entity_id=request_id,
                after={"levels": [(c.level, c.role) for c in chain]},
                reason="; ".join(c.reason for c in chain),
                policy_version=r.policy_version,
            )
        progress = Progress(SUBJECT_REQUEST, request_id, r.status)
        rejected = next((st for st in steps if st.decision == Decision.REJECTED), None)
        assessment = s.get(CreditAssessment, r.assessment_id)
        assert assessment is not None
        ctx = {
            "customer": _customer_view(customer),
            "request": _request_view(r),
            "assessment": _assessment_view(assessment),
            "exposure": {k: v for k, v in exposure(s, customer.id, as_of).items()},  # type: ignore[arg-type]
            "steps": [_step_view(st) for st in steps],
        }
        if rejected is not None:
            if r.status != RequestStatus.REJECTED:
                r.status, r.decided_at = RequestStatus.REJECTED, now
                s.add(r)
                ctx["request"] = _request_view(r)
            n, _ = notices.enqueue(
                s,
                app.renderer,
                key=f"request-rejected:{r.id}",
                kind="request_rejected",
                locale="en",
                recipients=[_person_email(app, r.requested_by)],
                customer_id=customer.id,
                context={**ctx, "rejection": _step_view(rejected)},
            )
            progress.status, progress.notices = RequestStatus.REJECTED, [n.id]  # type: ignore[list-item]
        elif all(st.decision == Decision.APPROVED for st in steps):
            if r.status == RequestStatus.IN_APPROVAL:
                r.status, r.decided_at = RequestStatus.APPROVED, now
                s.add(r)
            progress.status = r.status
        else:
            step = next(st for st in steps if st.decision == Decision.PENDING)
            deciders = {st.decided_by for st in steps if st.decided_by}
            who = _assign(app, step, amount=amount, requester=r.requested_by, excluded=deciders)
            s.add(step)
            progress.waiting_for = f"level {step.level} ({step.role})"
            if who is None:
                recipients, key = [app.directory.teams.credit], f"approval-unassignable:{step.id}"
            else:
                recipients, key = [_person_email(app, who)], f"approval-needed:{step.id}:{who}"
                progress.waiting_for += f": {who}"
            n, _ = notices.enqueue(
                s,
                app.renderer,
                key=key,
                kind="approval_needed",
                locale="en",
                recipients=recipients,
                customer_id=customer.id,
                context={
                    **ctx,
                    "step": _step_view(step),
                    "approver": who or "",
                    "command_approve": f"credit approve {r.id} --as {who or 'USER'}",
                    "command_reject": f'credit reject {r.id} --as {who or "USER"} --comment "..."',
                },
            )
            progress.notices = [n.id]  # type: ignore[list-item]
        uow.commit()
        return progress


def _step_view(st: ApprovalStep) -> dict[str, Any]:
    return {
        "id": st.id,
        "level": st.level,
        "role": st.role,
        "approver": st.approver,
        "decided_by": st.decided_by,
        "decision": st.decision,
        "comment": st.comment or "",
        "reason": st.reason,
        "due_at": st.due_at.strftime("%Y-%m-%d %H:%M UTC"),
        "decided_at": st.decided_at.strftime("%Y-%m-%d %H:%M UTC") if st.decided_at else "",
    }


def decide(
    app: App, *, subject: str, subject_id: int, username: str, approve: bool, comment: str | None
) -> ApprovalStep:
    """Record one approver's decision on the pending step, after checking the authority matrix and
    segregation of duties. A refusal raises :class:`DecisionRefused` and is itself audited."""
    if not approve and not (comment and comment.strip()):
        raise ServiceError("a rejection needs a --comment saying why")
    with app.uow() as uow:
        s = uow.session
        if subject == SUBJECT_REQUEST:
            r = s.get(CreditRequest, subject_id)
            if r is None:
                raise ServiceError(f"no credit request {subject_id}")
            status, requester, policy_version = r.status, r.requested_by, r.policy_version
            amount = r.proposed_limit
            open_status = RequestStatus.IN_APPROVAL
        else:
            p = s.exec(select(CreditPolicy).where(CreditPolicy.version == subject_id)).first()
            if p is None:
                raise ServiceError(f"no policy version {subject_id}")
            status, requester, policy_version = p.status, p.proposed_by, p.version
            amount, open_status = ZERO, PolicyStatus.IN_APPROVAL
        if status != open_status:
            raise ServiceError(
                f"{subject.replace('_', ' ')} {subject_id} is {status}, not awaiting approval"
            )
        steps = _steps(s, subject, subject_id)
        pending = [st for st in steps if st.decision == Decision.PENDING]
        if not pending:
            raise ServiceError(
                f"{subject.replace('_', ' ')} {subject_id} has no step awaiting a decision"
            )
        deciders = {st.decided_by for st in steps if st.decided_by}
        if subject == SUBJECT_REQUEST:
            step = pending[0]  # levels are decided in order
            refusals = authority.decision_refusals(
                username=username,
                directory=app.directory,
                step_role=step.role,
                step_cap=step.cap,
                amount=amount,
                requester=requester,
                deciders_of_other_steps=deciders,
            )
        else:
            # A policy committee decides in any order; the person takes the step of a role they hold.
            person = app.directory.get(username)
            mine = [st for st in pending if person and st.role in person.roles]
            step = mine[0] if mine else pending[0]
            refusals = authority.decision_refusals(
                username=username,
                directory=app.directory,
                step_role=step.role,
                step_cap=ZERO,
                amount=ZERO,
                requester=requester,
                deciders_of_other_steps=deciders,
            )
        if refusals:
            uow.rollback()
            _audit_refusal(app, subject, subject_id, username, refusals, policy_version)
            raise DecisionRefused(refusals)
        before = _step_view(step)
        step.decision = Decision.APPROVED if approve else Decision.REJECTED
        step.decided_by, step.decided_at, step.comment = username, utcnow(), comment
        s.add(step)
        audit.record(
            s,
            actor=username,
            action="approval.approve" if approve else "approval.reject",
            entity_type=subject,
            entity_id=subject_id,
            before=before,
            after=_step_view(step),
            reason=comment or "",
            policy_version=policy_version,
        )
        uow.commit()
        return step


def _audit_refusal(
    app: App, subject: str, subject_id: int, username: str, reasons: list[str], policy_version: int
) -> None:
    with app.uow() as uow:
        audit.record(
            uow.session,
            actor=username,
            action="approval.refused",
            entity_type=subject,
            entity_id=subject_id,
            reason="; ".join(reasons),
            policy_version=policy_version,
        )
        uow.commit()


def pending_approvals(app: App, *, username: str | None = None) -> list[dict[str, Any]]:
    """Steps awaiting a decision (the first pending level of each open chain)."""
    with app.uow() as uow:
        s = uow.session
        rows = s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.decision == Decision.PENDING)
            .order_by(
                col(ApprovalStep.subject), col(ApprovalStep.subject_id), col(ApprovalStep.level)
            )
        ).all()
        out, seen = [], set()
        for st in rows:
            key = (st.subject, st.subject_id)
            if st.subject == SUBJECT_REQUEST and key in seen:
                continue
            seen.add(key)
            if st.subject == SUBJECT_REQUEST:
                r = s.get(CreditRequest, st.subject_id)
                if r is None or r.status != RequestStatus.IN_APPROVAL:
                    continue
                c = s.get(Customer, r.customer_id)
                item = {
                    "subject": "request",
                    "id": r.id,
                    "customer": c.code if c else "?",
                    "kind": r.kind,
                    "amount": str(r.proposed_limit),
                    "currency": r.currency,
                    "rating": r.rating,
                    "requested_by": r.requested_by,
                }
            else:
                p = s.exec(
                    select(CreditPolicy).where(CreditPolicy.version == st.subject_id)
                ).first()
                if p is None or p.status != PolicyStatus.IN_APPROVAL:
                    continue
                item = {
                    "subject": "policy",
                    "id": p.version,
                    "customer": "-",
                    "kind": "policy",
                    "amount": "",
                    "currency": "",
                    "rating": "",
                    "requested_by": p.proposed_by,
                }
            item.update(
                {
                    "level": st.level,
                    "role": st.role,
                    "approver": st.approver or "",
                    "due_at": st.due_at.isoformat(),
                }
            )
            if username:
                person = app.directory.get(username)
                if person is None or st.role not in person.roles:
                    continue
            out.append(item)
        return out


# --------------------------------------------------------------------------- publish


def publish_request(app: App, *, request_id: int, as_of: date) -> dict[str, Any]:
    """Activate (or change) the customer's credit line from an approved request; tell the customer
    and the sales owner. Rerunning after publication changes nothing and sends nothing new."""
    with app.uow() as uow:
        s = uow.session
        r = s.get(CreditRequest, request_id)
        if r is None:
            raise ServiceError(f"no credit request {request_id}")
        if r.status not in (RequestStatus.APPROVED, RequestStatus.PUBLISHED):
            raise ServiceError(
                f"request {request_id} is {r.status}; only approved requests publish"
            )
        customer = s.get(Customer, r.customer_id)
        assert customer is not None
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
        if r.status == RequestStatus.APPROVED:
            before = _line_view(line) if line else None
            if line is None:
                line = CreditLine(
                    customer_id=customer.id,
                    limit=r.proposed_limit,
                    currency=r.currency,  # type: ignore[arg-type]
                    terms_days=r.terms_days,
                    conditions=list(r.conditions),
                    rating=r.rating,
                    request_id=r.id,
                    policy_version=r.policy_version,
                    activated_on=as_of,  # type: ignore[arg-type]
                    next_review_on=add_months(as_of, r.review_months),
                )
            else:
                line.limit, line.terms_days, line.conditions = (
                    r.proposed_limit,
                    r.terms_days,
                    list(r.conditions),
                )
                line.rating, line.request_id, line.policy_version = r.rating, r.id, r.policy_version  # type: ignore[assignment]
                line.next_review_on, line.updated_at = add_months(as_of, r.review_months), utcnow()
                if line.status == LineStatus.CLOSED:
                    line.status = LineStatus.ACTIVE
            s.add(line)
            r.status = RequestStatus.PUBLISHED
            s.add(r)
            s.flush()
            approvers = [st.decided_by for st in _steps(s, SUBJECT_REQUEST, r.id)]  # type: ignore[arg-type]
            audit.record(
                s,
                actor="system",
                action="credit_line.publish",
                entity_type="credit_line",
                entity_id=customer.code,
                before=before,
                after=_line_view(line),
                reason=f"request {r.id} approved by {', '.join(a for a in approvers if a)}",
                policy_version=r.policy_version,
            )
        assert line is not None
        ctx = {
            "customer": _customer_view(customer),
            "line": _line_view(line),
            "request": _request_view(r),
        }
        n1, _ = notices.enqueue(
            s,
            app.renderer,
            key=f"terms-letter:{r.id}",
            kind="terms_letter",
            locale=customer.locale,
            recipients=[customer.email],
            customer_id=customer.id,
            context=ctx,
        )
        n2, _ = notices.enqueue(
            s,
            app.renderer,
            key=f"line-published-sales:{r.id}",
            kind="line_published_sales",
            locale="en",
            recipients=[customer.sales_owner_email, _person_email(app, r.requested_by)],
            customer_id=customer.id,
            context=ctx,
        )
        uow.commit()
        return {
            "customer": customer.code,
            "limit": str(line.limit),
            "currency": line.currency,
            "next_review_on": line.next_review_on.isoformat(),
            "notices": [n1.id, n2.id],
        }


def _line_view(line: CreditLine) -> dict[str, Any]:
    return {
        "limit": line.limit,
        "currency": line.currency,
        "terms_days": line.terms_days,
        "conditions": list(line.conditions),
        "rating": line.rating,
        "status": line.status,
        "hold_reason": line.hold_reason or "",
        "activated_on": line.activated_on.isoformat(),
        "next_review_on": line.next_review_on.isoformat(),
        "policy_version": line.policy_version,
    }


# --------------------------------------------------------------------------- periodic review


def due_reviews(app: App, *, as_of: date) -> list[dict[str, Any]]:
    """Credit lines whose review date has come and that have no request in progress."""
    with app.uow() as uow:
        s = uow.session
        busy = select(CreditRequest.customer_id).where(
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED])
        )
        rows = s.exec(
            select(CreditLine, Customer)
            .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
            .where(CreditLine.next_review_on <= as_of)
            .where(col(CreditLine.status).in_([LineStatus.ACTIVE, LineStatus.ON_HOLD]))
            .where(col(CreditLine.customer_id).not_in(busy))
            .order_by(col(CreditLine.next_review_on), col(Customer.code))
        ).all()
        return [
            {
                "customer": c.code,
                "name": c.name,
                "next_review_on": line.next_review_on.isoformat(),
                "limit": str(line.limit),
                "currency": line.currency,
                "rating": line.rating,
                "status": line.status,
            }
            for line, c in rows
        ]


def notify_reviews_started(app: App, *, as_of: date, reviews: list[dict[str, Any]]) -> int | None:
    """One notice to the credit team listing the reviews started for a date."""
    if not reviews:
        return None
    with app.uow() as uow:
        n, _ = notices.enqueue(
            uow.session,
            app.renderer,
            key=f"reviews-due:{as_of.isoformat()}",
            kind="reviews_due",
            locale="en",
            recipients=[app.directory.teams.credit],
            context={"as_of": as_of.isoformat(), "reviews": reviews},
        )
        uow.commit()
        return n.id


# --------------------------------------------------------------------------- collections


def collection_candidates(app: App, *, as_of: date) -> list[int]:
    """Customers with something past due, or in a dunning episode that may now close."""
    with app.uow() as uow:
        s = uow.session
        overdue = (
            select(Invoice.customer_id)
            .where(Invoice.due_date < as_of, Invoice.amount > 0)
            .distinct()
        )
        in_dunning = select(DunningAction.customer_id).distinct()
        ids = set(s.exec(overdue)) | set(s.exec(in_dunning))
        return sorted(ids)


@dataclass
class DunningOutcome:
    customer: str
    currency: str
    level: int
    level_name: str
    overdue_total: str
    invoices: list[str]
    action: str
    status: str  # sent | would_send | already_done | cleared | nothing_due


def dun_customer(app: App, *, customer_id: int, as_of: date, dry_run: bool) -> list[DunningOutcome]:
    """Age one customer's open items and take the next dunning step per currency, in one
    transaction: the action, the hold, the audit events and the notices land together or not at
    all. A concurrent run that got there first makes this one a no-op (unique constraint)."""
    outcomes: list[DunningOutcome] = []
    with app.uow() as uow:
        s = uow.session
        customer = s.get(Customer, customer_id)
        assert customer is not None
        version, policy = app.published_policy(s)
        items_by_cur = open_items(s, customer_id, as_of)
        currencies = set(items_by_cur) | {
            a.currency
            for a in s.exec(select(DunningAction).where(DunningAction.customer_id == customer_id))
        }
        for currency in sorted(currencies):
            position = dunning.dunning_position(items_by_cur.get(currency, []), as_of)
            episode, level, last_day = _dunning_state(s, customer_id, currency)
            base = dict(
                customer=customer.code,
                currency=currency,
                overdue_total=str(position.overdue_total),
                invoices=[i.number for i in position.overdue_items],
            )
            if last_day is not None and last_day >= as_of:
                # One step per customer and business day: a rerun for the same date (or a late run
                # for an earlier date) changes nothing.
                outcomes.append(
                    DunningOutcome(
                        **base, level=level, level_name="", action="none", status="nothing_due"
                    )
                )
                continue
            if position.overdue_total <= policy.dunning.tolerance:
                if level > 0:
                    cleared = DunningOutcome(
                        **base,
                        level=0,
                        level_name="cleared",
                        action="release",
                        status="would_clear" if dry_run else "cleared",
                    )
                    outcomes.append(cleared)
                    if not dry_run:
                        try:
                            with s.begin_nested():
                                _clear_episode(app, s, customer, currency, episode, as_of, version)
                        except IntegrityError:
                            cleared.status = "already_done"
                continue
            step = dunning.next_dunning_level(current_level=level, position=position, policy=policy)
            if step is None:
                outcomes.append(
                    DunningOutcome(
                        **base,
                        level=level,
                        level_name="" if level == 0 else policy.dunning_level(level).name,
                        action="none",
                        status="nothing_due",
                    )
                )
                continue
            outcome = DunningOutcome(
                **base,
                level=step.level,
                level_name=step.name,
                action=step.action,
                status="would_send" if dry_run else "sent",
            )
            outcomes.append(outcome)
            if dry_run:
                continue
            try:
                with s.begin_nested():
                    _apply_dunning(
                        app, s, customer, currency, episode, step, position, as_of, version
                    )
            except IntegrityError:
                outcome.status = "already_done"
        if not dry_run:
            uow.commit()
    return outcomes


def _apply_dunning(
    app: App,
    s: Session,
    customer: Customer,
    currency: str,
    episode: int,
    step: Any,
    position: dunning.DunningPosition,
    as_of: date,
    version: int,
) -> None:
    action = DunningAction(
        customer_id=customer.id,
        currency=currency,
        episode=episode,
        level=step.level,  # type: ignore[arg-type]
        level_name=step.name,
        as_of=as_of,
        invoice_numbers=[i.number for i in position.overdue_items],
        overdue_total=position.overdue_total,
        policy_version=version,
    )
    s.add(action)
    s.flush()  # the unique (customer, currency, episode, level) guard fires here
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
            "overdue_total": position.overdue_total,
            "currency": currency,
        },
        reason=f"oldest invoice {position.oldest_days_overdue} days overdue",
        policy_version=version,
    )
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    if (
        step.action == DunningActionKind.CREDIT_HOLD
        and line is not None
        and line.status == LineStatus.ACTIVE
    ):
        before = _line_view(line)
        line.status, line.hold_reason, line.updated_at = (
            LineStatus.ON_HOLD,
            f"dunning:{step.name}",
            utcnow(),
        )
        s.add(line)
        audit.record(
            s,
            actor="collections",
            action="credit_line.hold",
            entity_type="credit_line",
            entity_id=customer.code,
            before=before,
            after=_line_view(line),
            reason=f"{step.label}: {position.overdue_total} {currency} overdue",
            policy_version=version,
        )
    ctx = {
        "customer": _customer_view(customer),
        "as_of": as_of.isoformat(),
        "currency": currency,
        "level": {"number": step.level, "name": step.name, "label": step.label},
        "overdue_total": position.overdue_total,
        "invoices": [
            {
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "open_amount": i.open_amount,
                "days_overdue": i.days_overdue(as_of),
            }
            for i in position.overdue_items
        ],
        "line": _line_view(line) if line else None,
    }
    notices.enqueue(
        s,
        app.renderer,
        key=f"dunning:{customer.code}:{currency}:e{episode}:l{step.level}",
        kind=step.template,
        locale=customer.locale,
        recipients=[customer.email],
        customer_id=customer.id,
        context=ctx,
    )
    if step.action == DunningActionKind.CREDIT_HOLD:
        # Sales hears of the hold level even without a credit line: no new orders on credit.
        notices.enqueue(
            s,
            app.renderer,
            key=f"credit-hold:{customer.code}:{currency}:e{episode}",
            kind="credit_hold_sales",
            locale="en",
            recipients=[customer.sales_owner_email, app.directory.teams.credit],
            customer_id=customer.id,
            context=ctx,
        )
    if step.action == DunningActionKind.HANDOVER:
        notices.enqueue(
            s,
            app.renderer,
            key=f"handover:{customer.code}:{currency}:e{episode}",
            kind="handover_collections",
            locale="en",
            recipients=[app.directory.teams.collections],
            customer_id=customer.id,
            context=ctx,
        )


def _clear_episode(
    app: App, s: Session, customer: Customer, currency: str, episode: int, as_of: date, version: int
) -> None:
    s.add(
        DunningAction(
            customer_id=customer.id,
            currency=currency,
            episode=episode,
            level=0,  # type: ignore[arg-type]
            level_name="cleared",
            as_of=as_of,
            invoice_numbers=[],
            overdue_total=ZERO,
            policy_version=version,
        )
    )
    s.flush()  # the unique (customer, currency, episode, 0) guard fires here
    audit.record(
        s,
        actor="collections",
        action="dunning.cleared",
        entity_type="customer",
        entity_id=customer.code,
        after={"level": 0, "currency": currency},
        reason="overdue balance paid",
        policy_version=version,
    )
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    if (
        line is not None
        and line.status == LineStatus.ON_HOLD
        and (line.hold_reason or "").startswith("dunning:")
    ):
        before = _line_view(line)
        line.status, line.hold_reason, line.updated_at = LineStatus.ACTIVE, None, utcnow()
        s.add(line)
        audit.record(
            s,
            actor="collections",
            action="credit_line.release",
            entity_type="credit_line",
            entity_id=customer.code,
            before=before,
            after=_line_view(line),
            reason="overdue balance paid",
            policy_version=version,
        )
        ctx = {
            "customer": _customer_view(customer),
            "line": _line_view(line),
            "as_of": as_of.isoformat(),
            "currency": currency,
        }
        # The customer and the internal teams get separate messages: no internal addresses leak.
        notices.enqueue(
            s,
            app.renderer,
            key=f"hold-released:{customer.code}:{currency}:e{episode}:customer",
            kind="credit_hold_released",
            locale=customer.locale,
            recipients=[customer.email],
            customer_id=customer.id,
            context=ctx,
        )
        notices.enqueue(
            s,
            app.renderer,
            key=f"hold-released:{customer.code}:{currency}:e{episode}:internal",
            kind="credit_hold_released",
            locale="en",
            recipients=[customer.sales_owner_email, app.directory.teams.credit],
            customer_id=customer.id,
            context=ctx,
        )


# --------------------------------------------------------------------------- policy lifecycle


def propose_policy(app: App, *, path: Path, by: str, reason: str) -> int:
    """Store a new policy version as a draft (validated first: an invalid file changes nothing)."""
    _person_email(app, by)
    body = load_policy_file(path)
    with app.uow() as uow:
        s = uow.session
        latest = s.exec(select(func.max(CreditPolicy.version))).one() or 0
        row = _new_policy_row(body, version=latest + 1, proposed_by=by, reason=reason)
        s.add(row)
        s.flush()
        audit.record(
            s,
            actor=by,
            action="policy.propose",
            entity_type="credit_policy",
            entity_id=row.version,
            after={
                "version": row.version,
                "status": row.status,
                "sha256": row.body_sha256,
                "file": str(path),
            },
            reason=reason,
        )
        uow.commit()
        return row.version


def advance_policy(app: App, *, version: int) -> Progress:
    """Route a draft policy to the committee the published policy names; publish it once every
    member approved (retiring the previous version); report a rejection. Safe to repeat."""
    with app.uow() as uow:
        s = uow.session
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None:
            raise ServiceError(f"no policy version {version}")
        current_version, current = app.published_policy(s)
        now = utcnow()
        steps = _steps(s, SUBJECT_POLICY, version)
        if row.status == PolicyStatus.DRAFT:
            chain = [
                (i + 1, role, None, f"policy change needs {role}")
                for i, role in enumerate(current.policy_change.approver_roles)
            ]
            steps = _create_steps(
                app,
                s,
                subject=SUBJECT_POLICY,
                subject_id=version,
                chain=chain,
                requester=row.proposed_by,
                amount=ZERO,
                due_hours=current.authority.step_due_hours,
                now=now,
            )
            row.status = PolicyStatus.IN_APPROVAL
            s.add(row)
            audit.record(
                s,
                actor="system",
                action="policy.route",
                entity_type="credit_policy",
                entity_id=version,
                before={"status": "draft"},
                after={"status": "in_approval", "roles": [c[1] for c in chain]},
                policy_version=current_version,
            )
        progress = Progress(SUBJECT_POLICY, version, row.status)
        ctx = {
            "policy": {
                "version": row.version,
                "name": row.name,
                "proposed_by": row.proposed_by,
                "reason": row.reason,
                "sha256": row.body_sha256,
            },
            "current_version": current_version,
            "changes": policy_changes(current, app.policy_body(row)),
            "steps": [_step_view(st) for st in steps],
        }
        if row.status == PolicyStatus.IN_APPROVAL:
            rejected = next((st for st in steps if st.decision == Decision.REJECTED), None)
            if rejected is not None:
                row.status = PolicyStatus.REJECTED
                s.add(row)
                audit.record(
                    s,
                    actor=rejected.decided_by or "system",
                    action="policy.reject",
                    entity_type="credit_policy",
                    entity_id=version,
                    before={"status": "in_approval"},
                    after={"status": "rejected"},
                    reason=rejected.comment or "",
                    policy_version=current_version,
                )
                notices.enqueue(
                    s,
                    app.renderer,
                    key=f"policy-rejected:{version}",
                    kind="policy_rejected",
                    locale="en",
                    recipients=[_person_email(app, row.proposed_by)],
                    context={**ctx, "rejection": _step_view(rejected)},
                )
            elif all(st.decision == Decision.APPROVED for st in steps):
                old = s.exec(
                    select(CreditPolicy).where(CreditPolicy.version == current_version)
                ).one()
                old.status, old.retired_at = PolicyStatus.RETIRED, now
                row.status, row.published_at = PolicyStatus.PUBLISHED, now
                s.add(old)
                s.add(row)
                audit.record(
                    s,
                    actor="system",
                    action="policy.publish",
                    entity_type="credit_policy",
                    entity_id=version,
                    before={"published_version": current_version},
                    after={"published_version": version, "sha256": row.body_sha256},
                    reason="approved by " + ", ".join(st.decided_by or "" for st in steps),
                    policy_version=version,
                )
                notices.enqueue(
                    s,
                    app.renderer,
                    key=f"policy-published:{version}",
                    kind="policy_published",
                    locale="en",
                    recipients=[app.directory.teams.credit, app.directory.teams.collections],
                    context={**ctx, "approvers": [st.decided_by for st in steps]},
                )
            else:
                deciders = {st.decided_by for st in steps if st.decided_by}
                for st in steps:
                    if st.decision != Decision.PENDING:
                        continue
                    who = _assign(
                        app, st, amount=ZERO, requester=row.proposed_by, excluded=deciders
                    )
                    s.add(st)
                    if who is None:
                        notices.enqueue(
                            s,
                            app.renderer,
                            key=f"policy-approval-unassignable:{st.id}",
                            kind="policy_approval_needed",
                            locale="en",
                            recipients=[app.directory.teams.credit],
                            context={
                                **ctx,
                                "step": _step_view(st),
                                "approver": "",
                                "command_approve": f"credit policy approve {version} --as USER",
                                "command_reject": f'credit policy reject {version} --as USER --comment "..."',
                            },
                        )
                    else:
                        deciders.add(who)
                        notices.enqueue(
                            s,
                            app.renderer,
                            key=f"policy-approval-needed:{st.id}:{who}",
                            kind="policy_approval_needed",
                            locale="en",
                            recipients=[_person_email(app, who)],
                            context={
                                **ctx,
                                "step": _step_view(st),
                                "approver": who,
                                "command_approve": f"credit policy approve {version} --as {who}",
                                "command_reject": f'credit policy reject {version} --as {who} --comment "..."',
                            },
                        )
                progress.waiting_for = ", ".join(
                    f"{st.role}: {st.approver}" for st in steps if st.decision == Decision.PENDING
                )
        progress.status = row.status
        uow.commit()
        return progress


def policy_changes(old: PolicyBody, new: PolicyBody) -> list[str]:
    """What a new version changes, in readable lines (a fuller diff arrives with issue 6)."""
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else k)
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
                label = (
                    xi.get("name") or xi.get("grade") or xi.get("level")
                    if isinstance(xi, dict)
                    else i
                )
                walk(xi, yi, f"{path}[{label}]")
        elif x != y:
            out.append(f"{path}: {x} -> {y}")

    walk(a, b, "")
    return out


# --------------------------------------------------------------------------- read models


def customer_overview(app: App, *, code: str, as_of: date) -> dict[str, Any]:
    with app.uow() as uow:
        s = uow.session
        c = _customer(s, code)
        a = s.exec(
            select(CreditAssessment)
            .where(CreditAssessment.customer_id == c.id)
            .order_by(col(CreditAssessment.id).desc())
        ).first()
        line = s.exec(select(CreditLine).where(CreditLine.customer_id == c.id)).first()
        items = open_items(s, c.id, as_of)  # type: ignore[arg-type]
        levels = {}
        for cur in sorted(
            set(items)
            | {
                d.currency
                for d in s.exec(select(DunningAction).where(DunningAction.customer_id == c.id))
            }
        ):
            _, level, _ = _dunning_state(s, c.id, cur)  # type: ignore[arg-type]
            levels[cur] = level
        requests = s.exec(
            select(CreditRequest)
            .where(CreditRequest.customer_id == c.id)
            .order_by(col(CreditRequest.id).desc())
        ).all()
        return audit.jsonable(
            {
                "customer": {
                    **_customer_view(c),
                    "locale": c.locale,
                    "tax_id": c.tax_id,
                    "registered_on": c.registered_on,
                },
                "as_of": as_of,
                "assessment": _assessment_view(a) if a else None,
                "credit_line": _line_view(line) if line else None,
                "exposure": {
                    cur: sum((i.open_amount for i in its), ZERO) for cur, its in items.items()
                },
                "aging": {cur: dunning.aging(its, as_of) for cur, its in items.items()},
                "dunning_level": levels,
                "requests": [_request_view(r) for r in requests],
            }
        )


def list_notices(
    app: App,
    *,
    customer_code: str | None,
    kind: str | None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    with app.uow() as uow:
        s = uow.session
        q = select(Notice).order_by(col(Notice.id))
        if customer_code:
            q = q.where(Notice.customer_id == _customer(s, customer_code).id)
        if kind:
            q = q.where(Notice.kind == kind)
        if status:
            q = q.where(Notice.status == status)
        rows = s.exec(q.limit(limit)).all()
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "status": n.status,
                "subject": n.subject,
                "recipients": list(n.recipients),
                "created_at": n.created_at.isoformat(timespec="seconds"),
                "attempts": n.attempts,
                "delivered_to": n.delivered_to or "",
                "key": n.idempotency_key,
            }
            for n in rows
        ]


def deliver(
    app: App, *, limit: int | None = None, notice_ids: list[int] | None = None
) -> dict[str, int]:
    report = notices.deliver_pending(
        app.engine,
        notices.transport_for(app.settings),
        mail_from=app.settings.mail_from,
        limit=limit,
        notice_ids=notice_ids,
    )
    return asdict(report)


def review_customers(
    app: App, *, customer_codes: list[str], as_of: date, requested_by: str
) -> list[dict[str, Any]]:
    """Scheduled re-review of a batch: research, draft and route each customer (one transaction
    per step, idempotent per customer and review date)."""
    results = []
    for code in customer_codes:
        with app.uow() as uow:
            c = _customer(uow.session, code)
            line = uow.session.exec(
                select(CreditLine).where(CreditLine.customer_id == c.id)
            ).first()
            due_on = line.next_review_on.isoformat() if line else as_of.isoformat()
        key = f"periodic:{code}:{due_on}"
        try:
            assessment_id = assess_customer(
                app, customer_code=code, as_of=as_of, requested_by=requested_by, review_key=key
            )
            request_id = draft_request(
                app, assessment_id=assessment_id, requested_limit=None, kind=RequestKind.REVIEW
            )
            progress = advance_request(app, request_id=request_id, as_of=as_of)
        except ServiceError as exc:
            log.warning("review of %s not started: %s", code, exc)
            results.append({"customer": code, "error": str(exc)})
            continue
        results.append(
            {
                "customer": code,
                "assessment_id": assessment_id,
                "request_id": request_id,
                "status": progress.status,
                "waiting_for": progress.waiting_for,
            }
        )
    return results


def dun_customers(
    app: App, *, customer_ids: list[int], as_of: date, dry_run: bool
) -> list[dict[str, Any]]:
    """Collections for a batch of customers: one transaction per customer."""
    out = []
    for cid in customer_ids:
        out.extend(
            asdict(o) for o in dun_customer(app, customer_id=cid, as_of=as_of, dry_run=dry_run)
        )
    return out


def customer_list(app: App) -> list[dict[str, Any]]:
    with app.uow() as uow:
        s = uow.session
        rows = s.exec(
            select(Customer, CreditLine)
            .join(CreditLine, col(CreditLine.customer_id) == col(Customer.id), isouter=True)
            .order_by(col(Customer.code))
        ).all()
        latest: dict[int, str] = {}
        for a in s.exec(select(CreditAssessment).order_by(col(CreditAssessment.id))):
            latest[a.customer_id] = a.rating
        return [
            {
                "code": c.code,
                "name": c.name,
                "currency": c.currency,
                "rating": latest.get(c.id),  # type: ignore[arg-type]
                "limit": str(line.limit) if line else None,
                "terms_days": line.terms_days if line else None,
                "status": line.status if line else None,
                "next_review_on": line.next_review_on.isoformat() if line else None,
            }
            for c, line in rows
        ]


def audit_events(app: App, *, entity: str | None, limit: int) -> list[dict[str, Any]]:
    from credit.db.models import AuditEvent

    with app.uow() as uow:
        q = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
        if entity:
            q = q.where(AuditEvent.entity_id == entity)
        rows = list(uow.session.exec(q))
        return [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "entity_type": e.entity_type,
                "entity_id": e.entity_id,
                "before": e.before,
                "after": e.after,
                "reason": e.reason,
                "policy_version": e.policy_version,
            }
            for e in reversed(rows)
        ]


def policy_view(app: App, *, version: int | None) -> dict[str, Any]:
    with app.uow() as uow:
        s = uow.session
        if version is None:
            version, _ = app.published_policy(s)
        row = s.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None:
            raise ServiceError(f"no policy version {version}")
        return {
            "version": row.version,
            "name": row.name,
            "status": row.status,
            "proposed_by": row.proposed_by,
            "reason": row.reason,
            "sha256": row.body_sha256,
            "published_at": row.published_at.isoformat() if row.published_at else None,
            "body": row.body,
        }
