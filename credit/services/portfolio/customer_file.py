"""A customer's file: what `credit customers show` prints and, beside it, the score's factors
with why, the trend of its assessments, the credit line's history, dunning, cases, disputes,
feedback, risk signals, notices (each as it was sent) and the audit trail."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit.app import App
from credit.db.models import (
    ApprovalStep,
    AuditEvent,
    CollectionCase,
    CreditAssessment,
    Customer,
    CustomerFeedback,
    Dispute,
    DunningAction,
    Invoice,
    Notice,
    ServiceTask,
)
from credit.services.common import SUBJECT_REQUEST, ServiceError, get_customer, saved_id, table_of
from credit.services.queries import audit_events, customer_overview, list_notices
from credit.services.risk import list_signals
from credit.services.views import q2

SCORES = ("quantitative_score", "qualitative_score", "total_score")
SHOWN = 100  # rows of a customer's histories shown on the file (the latest first)


def factor_why(f: dict[str, Any]) -> str:
    """Why a scorecard factor scored its points, in words (from its value, band and weight)."""
    band, points = str(f["band"]), f["points"]
    weighted = f"{points} points × weight {f['weight']} = {f['weighted']}"
    if band.startswith("missing"):
        treatment = band.split(": ", 1)[-1]
        return f"no value on file: the policy scores missing data as {treatment}, {weighted}"
    if band.startswith("outside"):
        return f"{f['value']} falls outside every band of the policy: scored neutral, {weighted}"
    low, _, high = band.strip("[)").partition(", ")
    if low and high:
        where = f"from {low} to under {high}"
    else:
        where = f"{low} or more" if low else f"under {high}"
    return f"{f['value']} is in the band {where}: {weighted}"


def _trend(s: Session, customer_id: int) -> list[dict[str, Any]]:
    """Every assessment of the customer, oldest first, with the change of its score."""
    a = table_of(CreditAssessment)
    rows = s.execute(
        sa_select(
            a.c.id,
            a.c.as_of,
            a.c.status,
            a.c.quantitative_score,
            a.c.qualitative_score,
            a.c.total_score,
            a.c.rating,
            a.c.policy_version,
        )
        .where(a.c.customer_id == customer_id)
        .order_by(a.c.as_of, a.c.id)
    )
    out: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for r in rows:
        scores = {k: q2(getattr(r, k)) for k in SCORES}
        score = scores["total_score"] if r.total_score is not None else scores["quantitative_score"]
        change = score - previous if score is not None and previous is not None else None
        out.append({**r._asdict(), **scores, "score": score, "change": change})
        previous = score if score is not None else previous
    return out


def _line_history(s: Session, customer: Customer) -> list[dict[str, Any]]:
    """The credit line's events (published, held, released, review moved), with who approved
    each published change (as :func:`credit.services.queries.limit_changes` reads them)."""
    events = list(
        s.execute(
            sa_select(table_of(AuditEvent))
            .where(
                table_of(AuditEvent).c.entity_id.in_([customer.code, str(customer.id)]),
                table_of(AuditEvent).c.action.like("credit_line.%"),
            )
            .order_by(table_of(AuditEvent).c.id.desc())
            .limit(SHOWN)
        )
    )
    ids = [e.after.get("request_id") for e in events if e.after and e.after.get("request_id")]
    steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    st = table_of(ApprovalStep)
    for step in s.execute(
        sa_select(st.c.subject_id, st.c.level, st.c.role, st.c.decided_by, st.c.decision)
        .where(st.c.subject == SUBJECT_REQUEST, st.c.subject_id.in_(ids))
        .order_by(st.c.subject_id, st.c.level)
    ):
        steps[step.subject_id].append(step._asdict())
    return [
        {
            "at": e.at,
            "action": e.action.removeprefix("credit_line."),
            "actor": e.actor,
            "before": e.before or {},
            "after": e.after or {},
            "reason": e.reason,
            "approvals": steps.get((e.after or {}).get("request_id") or 0, []),
        }
        for e in events
    ]


def _rows(s: Session, query: Any) -> list[dict[str, Any]]:
    return [r._asdict() for r in s.execute(query.limit(SHOWN))]


def _desk(s: Session, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """Dunning history, collection cases, disputes, feedback and service follow-ups."""
    da, case_, dis = table_of(DunningAction), table_of(CollectionCase), table_of(Dispute)
    inv, fb, task = table_of(Invoice), table_of(CustomerFeedback), table_of(ServiceTask)
    return {
        "dunning": _rows(
            s,
            sa_select(
                da.c.as_of,
                da.c.currency,
                da.c.episode,
                da.c.level,
                da.c.level_name,
                da.c.overdue_total,
                da.c.channel,
                da.c.invoice_numbers,
            )
            .where(da.c.customer_id == customer_id)
            .order_by(da.c.id.desc()),
        ),
        "cases": _rows(
            s,
            sa_select(case_).where(case_.c.customer_id == customer_id).order_by(case_.c.id.desc()),
        ),
        "disputes": _rows(
            s,
            sa_select(dis, inv.c.number.label("invoice"))
            .join(inv, inv.c.id == dis.c.invoice_id)
            .where(dis.c.customer_id == customer_id)
            .order_by(dis.c.id.desc()),
        ),
        "feedback": _rows(
            s, sa_select(fb).where(fb.c.customer_id == customer_id).order_by(fb.c.id.desc())
        ),
        "service_tasks": _rows(
            s, sa_select(task).where(task.c.customer_id == customer_id).order_by(task.c.id.desc())
        ),
    }


def customer_file(app: App, *, code: str, as_of: date) -> dict[str, Any]:
    """Everything the workspace shows of a customer: the overview of ``credit customers show``
    and, beside it, the score's factors with why, the trend of its assessments, the credit
    line's history, dunning, cases, disputes, feedback, risk signals, notices and audit trail."""
    overview = customer_overview(app, code=code, as_of=as_of, items_shown=50)
    with app.uow(read_only=True) as uow:
        s = uow.session
        customer = get_customer(s, code)
        _, policy = app.published_policy(s)
        found = {
            "trend": _trend(s, saved_id(customer)),
            "line_history": _line_history(s, customer),
            **_desk(s, saved_id(customer)),
        }
    asm = overview["assessment"]
    return {
        "overview": overview,
        "factors": [{**f, "why": factor_why(f)} for f in asm["factors"]] if asm else [],
        "level_names": {lv.level: lv.label for lv in policy.dunning.levels},
        "signals": list_signals(app, customer_code=code),
        "notices": list_notices(app, customer_code=code, kind=None, limit=500)[-SHOWN:],
        "audit": audit_events(app, entity=code, limit=SHOWN),
        **found,
    }


class NoticeView(TypedDict):
    id: int
    customer: str
    kind: str
    channel: str
    locale: str
    status: str
    subject: str
    recipients: list[str]
    created_at: str
    sent_at: str | None
    delivered_to: str
    text: str
    html: str


def customer_notice(app: App, *, code: str, notice_id: int) -> NoticeView:
    """One notice about the customer, as it was rendered for its recipients; a notice about
    another customer (or none) is refused."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        customer = get_customer(s, code)
        n = s.get(Notice, notice_id)
        if n is None or n.customer_id != customer.id:
            raise ServiceError(f"customer {customer.code} has no notice {notice_id}")
        return {
            "id": saved_id(n),
            "customer": customer.code,
            "kind": n.kind,
            "channel": n.channel,
            "locale": n.locale,
            "status": n.status,
            "subject": n.subject,
            "recipients": list(n.recipients),
            "created_at": n.created_at.isoformat(timespec="seconds"),
            "sent_at": n.sent_at.isoformat(timespec="seconds") if n.sent_at else None,
            "delivered_to": n.delivered_to or "",
            "text": n.text,
            "html": n.html,
        }
