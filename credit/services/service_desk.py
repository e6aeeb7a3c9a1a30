"""Customer feedback on terms and collection, and customer service's follow-ups after credit
control cut a limit or held a line (so good customers are not quietly lost)."""

from __future__ import annotations

from datetime import date
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import Customer, CustomerFeedback, ServiceTask
from credit.domain.receivables_status import ServiceTaskStatus
from credit.services.common import (
    ServiceError,
    get_customer,
    known_user,
    required_text,
    saved_id,
)
from credit.services.views import customer_view

TOPICS = ("terms", "limit", "collection", "service", "other")
ALL = "all"  # service_tasks(status=ALL): open and done alike


class FeedbackRecorded(TypedDict):
    id: int | None
    customer: str
    topic: str


class FeedbackLine(TypedDict):
    on: str
    customer: str
    topic: str
    text: str


class FeedbackSummary(TypedDict):
    count: int
    by_topic: dict[str, int]
    latest: list[FeedbackLine]


class ServiceTaskRow(TypedDict):
    id: int | None
    customer: str
    name: str
    sales_owner: str
    reason: str
    opened_on: str
    status: str  # a ServiceTaskStatus
    done_by: str | None
    note: str | None


class ServiceTaskDone(TypedDict):
    id: int | None
    status: str  # ServiceTaskStatus.DONE


def record_feedback(
    app: App, *, customer_code: str, topic: str, text: str, by: str, as_of: date
) -> FeedbackRecorded:
    by, text = known_user(app, by), required_text(text, "what the customer said")
    if topic not in TOPICS:
        raise ServiceError(f"the topic {topic!r} is not one of {', '.join(TOPICS)}")
    with app.uow() as uow:
        s = uow.session
        customer = get_customer(s, customer_code)
        row = CustomerFeedback(
            customer_id=saved_id(customer),
            topic=topic,
            text=text,
            recorded_by=by,
            received_on=as_of,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            actor=by,
            action="feedback.recorded",
            entity_type="customer",
            entity_id=customer.code,
            after={"topic": topic, "text": text},
            reason="customer feedback",
            policy_version=app.published_policy(s)[0],
        )
        uow.commit()
        return {"id": row.id, "customer": customer.code, "topic": topic}


def feedback_summary(s: Session, start: date, end: date) -> FeedbackSummary:
    rows = list(
        s.exec(
            select(CustomerFeedback, Customer.code)
            .join(Customer, col(Customer.id) == col(CustomerFeedback.customer_id))
            .where(CustomerFeedback.received_on > start, CustomerFeedback.received_on <= end)
            .order_by(col(CustomerFeedback.received_on).desc(), col(CustomerFeedback.id).desc())
        )
    )
    by_topic: dict[str, int] = {}
    for f, _ in rows:
        by_topic[f.topic] = by_topic.get(f.topic, 0) + 1
    return {
        "count": len(rows),
        "by_topic": dict(sorted(by_topic.items())),
        "latest": [
            {"on": f.received_on.isoformat(), "customer": code, "topic": f.topic, "text": f.text}
            for f, code in rows[:10]
        ],
    }


def open_service_task(
    app: App,
    s: Session,
    *,
    customer: Customer,
    key: str,
    reason: str,
    as_of: date,
    notify: bool,
    context: dict[str, Any] | None = None,
) -> None:
    """Open a follow-up for customer service (once per ``key``) inside the caller's transaction;
    with ``notify``, the sales owner is told too."""
    if s.exec(select(ServiceTask.id).where(ServiceTask.key == key)).first() is not None:
        return
    s.add(ServiceTask(key=key, customer_id=saved_id(customer), reason=reason, opened_on=as_of))
    s.flush()
    audit.record(
        s,
        actor="system",
        action="service.task",
        entity_type="customer",
        entity_id=customer.code,
        after={"status": ServiceTaskStatus.OPEN, "reason": reason},
        reason="follow-up after a credit decision",
    )
    if notify:
        notices.enqueue(
            s,
            app.renderer,
            key=f"service-followup:{key}",
            kind="service_followup",
            locale="en",
            recipients=[customer.sales_owner_email],
            customer_id=customer.id,
            context={
                "customer": customer_view(customer),
                "reason": reason,
                "as_of": as_of,
                **(context or {}),
            },
        )


def service_tasks(app: App, *, status: str = ServiceTaskStatus.OPEN) -> list[ServiceTaskRow]:
    if status not in (*ServiceTaskStatus, ALL):
        raise ServiceError(f"the task status {status!r} is not one of open, done, all")
    with app.uow() as uow:
        query = (
            select(ServiceTask, Customer)
            .join(Customer, col(Customer.id) == col(ServiceTask.customer_id))
            .order_by(col(ServiceTask.opened_on), col(ServiceTask.id))
        )
        if status != ALL:
            query = query.where(ServiceTask.status == status)
        return [
            {
                "id": t.id,
                "customer": c.code,
                "name": c.name,
                "sales_owner": c.sales_owner_email,
                "reason": t.reason,
                "opened_on": t.opened_on.isoformat(),
                "status": t.status,
                "done_by": t.done_by,
                "note": t.note,
            }
            for t, c in uow.session.exec(query)
        ]


def close_service_task(
    app: App, *, task_id: int, by: str, note: str, as_of: date
) -> ServiceTaskDone:
    by, note = known_user(app, by), required_text(note, "the note")
    with app.uow() as uow:
        s = uow.session
        t = s.get(ServiceTask, task_id)
        if t is None:
            raise ServiceError(f"no service task {task_id}")
        if t.status == ServiceTaskStatus.DONE:
            raise ServiceError(f"service task {task_id} was done on {t.done_on} by {t.done_by}")
        t.status, t.done_on, t.done_by, t.note = ServiceTaskStatus.DONE, as_of, by, note
        s.add(t)
        customer = s.get(Customer, t.customer_id)
        audit.record(
            s,
            actor=by,
            action="service.done",
            entity_type="customer",
            entity_id=customer.code if customer else str(t.customer_id),
            before={"status": ServiceTaskStatus.OPEN, "reason": t.reason},
            after={"status": ServiceTaskStatus.DONE},
            reason=note,
        )
        uow.commit()
        return {"id": t.id, "status": ServiceTaskStatus.DONE}
