"""Periodic review: lines whose review date has come, and customers flagged by a risk signal."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypedDict

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit import notices
from credit.app import App
from credit.db.models import (
    ApprovalStep,
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    Decision,
    LineStatus,
    RequestStatus,
    RiskSignal,
    utcnow,
)
from credit.domain.research_status import IN_PROGRESS, SCHEDULED, AssessmentStatus, ReviewOutcome
from credit.services.approvals import advance_request
from credit.services.common import SUBJECT_REQUEST, ServiceError, enqueued_id, id_col, saved_id
from credit.services.draft import draft_request
from credit.services.research import score_assessment
from credit.services.research_batch import research_customers
from credit.services.review_routing import draft_and_route

log = logging.getLogger(__name__)


class InProgress(TypedDict):
    """A review under way: what it is, since when, and whom it waits for."""

    what: str
    since: str
    waiting_for: str


class DueReview(TypedDict):
    """A line due for review (or whose customer a risk signal flagged)."""

    customer: str
    review_key: str
    name: str
    next_review_on: str
    reason: str
    flagged_on: str | None
    limit: str
    currency: str
    rating: str
    status: str
    in_progress: InProgress | None


def due_reviews(app: App, *, as_of: date, include_in_progress: bool = False) -> list[DueReview]:
    """Lines due for review as of a date, or whose customer a high risk signal flagged, in due
    date and customer order.

    A line whose customer already has a review under way (research waiting for the analyst, a
    request in approval or approved and not yet published) is not started again; with
    ``include_in_progress`` it is listed all the same, with ``in_progress``: since when and what
    it waits for, so an overdue review never vanishes from the list."""
    with app.uow(read_only=True) as uow:
        rows, due_ids = _due_lines(uow.session, as_of)
        return _due(uow.session, rows, due_ids, as_of, include_in_progress=include_in_progress)


class DuePage(TypedDict):
    """A page of :func:`due_reviews_page`: its due reviews, and where the next page starts
    (None after the last)."""

    due: list[DueReview]
    lines: int  # the due lines the page looked at (those reviewed for the date already included)
    after: int | None


class ReviewedPage(TypedDict):
    """A page of due lines reviewed (``tasks.research.review_due_page``)."""

    started: list[dict[str, Any]]  # a due review with its "review": ReviewStarted
    under_way: list[DueReview]
    lines: int
    after: int | None


def due_reviews_page(
    app: App, *, as_of: date, after: int = 0, size: int = 2000, include_in_progress: bool = False
) -> DuePage:
    """:func:`due_reviews` a page at a time, in customer order: the due lines of the next
    ``size`` customers after the one ``after`` names (0: from the start). A large periodic
    review holds one page, not the whole list. Reviewing a page's customers changes nothing
    for the customers of later pages, so the pages of one run list every due line once."""
    with app.uow(read_only=True) as uow:
        rows, _ = _due_lines(uow.session, as_of, after=after, size=size)
        ids = [r.id for r in rows]
        due = _due(uow.session, rows, ids, as_of, include_in_progress=include_in_progress)
    return {"due": due, "lines": len(rows), "after": ids[-1] if len(rows) == size else None}


def count_due_lines(app: App, *, as_of: date) -> int:
    """How many lines :func:`due_reviews` looks at (those already reviewed for the date or
    under way included): a run's progress total."""
    with app.uow(read_only=True) as uow:
        return int(
            uow.session.execute(
                sa_select(func.count())
                .select_from(CreditLine)
                .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
                .where(*_due_where(as_of))
            ).scalar_one()
        )


def _due(
    s: Session, rows: list[Any], due_ids: Any, as_of: date, *, include_in_progress: bool
) -> list[DueReview]:
    """The due reviews of these due lines (``due_ids``: their customers' ids, or a subquery)."""
    busy = _reviews_in_progress(s, due_ids) if rows else {}
    keys = _review_keys(s, rows, as_of, due_ids)
    # The periodic review keys the due customers have used (a few per customer, over the
    # years): a review already made for this due date is not started again.
    done = set(
        s.exec(
            select(CreditAssessment.review_key).where(
                col(CreditAssessment.customer_id).in_(due_ids),
                col(CreditAssessment.review_key).like("periodic:%"),
            )
        )
    )
    out: list[DueReview] = []
    for c in rows:
        in_progress = busy.get(c.id)
        if in_progress is None and keys[c.id] in done:
            # A review already made for this due date (say, rejected) is not started again.
            continue
        if in_progress is not None and not include_in_progress:
            continue
        out.append(
            {
                "customer": c.code,
                "review_key": keys[c.id],
                "name": c.name,
                "next_review_on": c.next_review_on.isoformat(),
                "reason": f"risk signal: {c.review_flag_reason}"
                if c.review_flagged_on is not None and c.next_review_on > as_of
                else SCHEDULED,
                "flagged_on": c.review_flagged_on.isoformat() if c.review_flagged_on else None,
                "limit": str(c.limit),
                "currency": c.currency,
                "rating": c.rating,
                "status": c.status,
                "in_progress": in_progress,
            }
        )
    return out


def _due_where(as_of: date) -> tuple[Any, ...]:
    return (
        or_(
            col(CreditLine.next_review_on) <= as_of,
            col(Customer.review_flagged_on).is_not(None),
        ),
        col(CreditLine.status).in_([LineStatus.ACTIVE, LineStatus.ON_HOLD]),
    )


def _due_lines(
    s: Session, as_of: date, *, after: int | None = None, size: int | None = None
) -> tuple[list[Any], Any]:
    """The lines due (or whose customer is flagged), as rows of the columns a due review shows,
    in due date and customer order; and their customers' ids as a subquery (not thousands of
    bound ids). With ``size``: the next ``size`` in customer id order after ``after``."""
    due_where = _due_where(as_of)
    if size is not None:
        due_where = (*due_where, col(Customer.id) > (after or 0))
        order: tuple[Any, ...] = (col(Customer.id),)
    else:
        order = (col(CreditLine.next_review_on), col(Customer.code))
    # Columns, not ORM objects (two per line cost more than the rest of the query).
    query = (
        sa_select(
            col(Customer.id),
            col(Customer.code),
            col(Customer.name),
            col(Customer.review_flagged_on),
            col(Customer.review_flag_reason),
            col(CreditLine.next_review_on),
            col(CreditLine.limit),
            col(CreditLine.currency),
            col(CreditLine.rating),
            col(CreditLine.status),
        )
        .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
        .where(*due_where)
        .order_by(*order)
    )
    rows = s.execute(query if size is None else query.limit(size)).all()
    due_ids = (
        select(CreditLine.customer_id)
        .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
        .where(*due_where)
    )
    return list(rows), due_ids


def _review_keys(s: Session, rows: list[Any], as_of: date, due_ids: Any) -> dict[int, str]:
    """Each due customer's review key: a scheduled review when its date has come; otherwise one
    per flagging signal (or per flag, when no signal raised it)."""
    open_signals: dict[int, int] = {}
    for cid, sid in s.exec(
        select(RiskSignal.customer_id, id_col(RiskSignal)).where(
            col(RiskSignal.reviewed_in).is_(None), col(RiskSignal.customer_id).in_(due_ids)
        )
    ):
        open_signals[cid] = max(sid, open_signals.get(cid, 0))

    def key(c: Any) -> str:
        if c.next_review_on > as_of and c.review_flagged_on is not None:
            signal = open_signals.get(c.id, 0)
            if signal:
                return f"periodic:{c.code}:signal:{signal}"
            # flagged without a signal (e.g. a policy asking for re-review): one per flag
            why = hashlib.sha256((c.review_flag_reason or "").encode()).hexdigest()[:8]
            return f"periodic:{c.code}:flag:{c.review_flagged_on.isoformat()}:{why}"
        return f"periodic:{c.code}:{c.next_review_on.isoformat()}"

    return {c.id: key(c) for c in rows}


def _reviews_in_progress(s: Session, customer_ids: Any) -> dict[int, InProgress]:
    """The review under way for each of these customers (a subquery of their ids), if any: what
    it is, since when, and whom it waits for."""
    found: dict[int, InProgress] = {}
    for a in s.exec(
        select(CreditAssessment)
        .where(col(CreditAssessment.customer_id).in_(customer_ids))
        .where(col(CreditAssessment.status).in_(IN_PROGRESS))
    ):
        if a.status == AssessmentStatus.AWAITING_QUALITATIVE:
            waiting = f"qualitative rating by {a.analyst or a.requested_by}"
        else:
            waiting = "scoring (research was interrupted; the research reminders finish it)"
        found[a.customer_id] = {
            "what": f"assessment {a.id}",
            "since": a.as_of.isoformat(),
            "waiting_for": waiting,
        }
    requests = list(
        s.exec(
            select(CreditRequest)
            .where(col(CreditRequest.customer_id).in_(customer_ids))
            .where(
                col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED])
            )
        )
    )
    if not requests:
        return found
    request_ids = [r.id for r in requests]
    pending: dict[int, ApprovalStep] = {}  # each request's lowest undecided level
    started: dict[int | None, date] = {}
    for i in range(0, len(requests), 5000):  # a database takes so many parameters at most
        for step in s.exec(
            select(ApprovalStep)
            .where(
                ApprovalStep.subject == SUBJECT_REQUEST,
                col(ApprovalStep.subject_id).in_(request_ids[i : i + 5000]),
                ApprovalStep.decision == Decision.PENDING,
            )
            .order_by(col(ApprovalStep.level).desc())
        ):
            pending[step.subject_id] = step
        started.update(
            s.execute(
                sa_select(id_col(CreditAssessment), col(CreditAssessment.as_of)).where(
                    col(CreditAssessment.id).in_([r.assessment_id for r in requests[i : i + 5000]])
                )
            ).all()  # a list of pairs: a Result has keys(), dict.update took it for a mapping
        )
    for r in requests:
        level_step = pending.get(saved_id(r))
        if r.status == RequestStatus.APPROVED:
            waiting = "publication (approved; the approval sweeper publishes it)"
        elif level_step is None:
            waiting = "approval"
        else:
            waiting = f"approval level {level_step.level} ({level_step.role}" + (
                f": {level_step.approver})" if level_step.approver else ")"
            )
        since = started.get(r.assessment_id) or r.created_at.date()
        found[r.customer_id] = {
            "what": f"request {r.id}",
            "since": since.isoformat(),
            "waiting_for": waiting,
        }
    return found


def notify_reviews_started(
    app: App,
    *,
    as_of: date,
    reviews: Sequence[Mapping[str, Any]],
    under_way: Sequence[Mapping[str, Any]] | None = None,
) -> int | None:
    """One notice to the credit team listing the reviews started for a date, and the due lines
    whose earlier review is still under way (since when, waiting for whom)."""
    under_way = under_way or []
    if not reviews and not under_way:
        return None
    # Two runs on the same day that start different reviews each send their own list.
    digest = hashlib.sha256(
        "|".join(
            sorted(r.get("review_key", r["customer"]) for r in reviews)
            + sorted(f"under-way:{r['customer']}" for r in under_way)
        ).encode()
    ).hexdigest()[:12]
    with app.uow() as uow:
        n, _ = notices.enqueue(
            uow.session,
            app.renderer,
            key=f"reviews-due:{as_of.isoformat()}:{digest}",
            kind="reviews_due",
            locale="en",
            recipients=[app.directory.teams.credit],
            context={"as_of": as_of.isoformat(), "reviews": reviews, "under_way": under_way},
        )
        uow.commit()
        return enqueued_id(n)


class ReviewStarted(TypedDict, total=False):
    """What a periodic review reports of one due customer: the request it routed and whom it
    waits for, the assessment waiting for the analyst, or ``status: "not started"`` and the
    ``error`` why."""

    customer: str
    assessment_id: int
    reason: str
    request_id: int
    status: str
    waiting_for: str | None
    error: str


def review_customers(
    app: App, *, due: Sequence[Mapping[str, Any]], as_of: date, requested_by: str
) -> list[ReviewStarted]:
    """Re-review a batch: collect, score (carrying a recent qualitative rating over), then draft
    and route; idempotent per customer and due date (or flag date)."""
    results: list[ReviewStarted] = []
    researched = research_customers(
        app, due=due, as_of=as_of, requested_by=requested_by, notify_ready=False
    )
    complete = [r["assessment_id"] for r in researched if r["status"] == AssessmentStatus.COMPLETE]
    routed = draft_and_route(app, complete, as_of=as_of)
    for scored in researched:
        code = scored["customer"]
        if scored["status"] == ReviewOutcome.NOT_STARTED:
            results.append({"customer": code, "status": scored["status"], "error": scored["error"]})
            continue
        result: ReviewStarted = {
            "customer": code,
            "assessment_id": scored["assessment_id"],
            "reason": scored["reason"],
        }
        if scored["status"] != AssessmentStatus.COMPLETE:
            results.append({**result, "status": scored["status"], "waiting_for": scored["analyst"]})
            continue
        done = routed[scored["assessment_id"]]
        if isinstance(done, ServiceError):
            log.warning("review of %s not started: %s", code, done)
            results.append(
                {"customer": code, "status": ReviewOutcome.NOT_STARTED, "error": str(done)}
            )
            continue
        results.append(
            {
                **result,
                "request_id": done.request_id,
                "status": done.progress.status,
                "waiting_for": done.progress.waiting_for,
            }
        )
    return results


def resume_research(
    app: App, *, as_of: date, older_than: timedelta = timedelta(minutes=10)
) -> dict[str, list[int]]:
    """Finish what an interrupted run left half done: score assessments stopped after collecting,
    and draft and route complete assessments that never became a request (the latest one of each
    customer, completed in the last week). Returns the assessment ids scored and drafted."""
    cutoff = utcnow() - older_than
    done: dict[str, list[int]] = {"scored": [], "drafted": []}
    with app.uow() as uow:
        s = uow.session
        collected = list(
            s.exec(
                select(id_col(CreditAssessment)).where(
                    CreditAssessment.status == AssessmentStatus.COLLECTED,
                    col(CreditAssessment.created_at) < cutoff,
                )
            )
        )
        drafted_keys = select(CreditRequest.review_key)
        complete = list(
            s.exec(
                select(CreditAssessment)
                .where(
                    CreditAssessment.status == AssessmentStatus.COMPLETE,
                    col(CreditAssessment.completed_at) < cutoff,
                    col(CreditAssessment.completed_at) >= cutoff - timedelta(days=7),
                    col(CreditAssessment.review_key).not_in(drafted_keys),
                )
                .order_by(col(CreditAssessment.id))
            )
        )
        latest: dict[int, int] = {}
        for a_id, c_id in s.exec(select(id_col(CreditAssessment), CreditAssessment.customer_id)):
            latest[c_id] = max(a_id, latest.get(c_id, 0))
    for assessment_id in collected:
        score_assessment(app, assessment_id=assessment_id)
        done["scored"].append(assessment_id)
    for a in complete:
        if latest.get(a.customer_id) != a.id:
            continue  # a newer review of the customer took its place
        try:
            request_id = draft_request(app, assessment_id=saved_id(a))
            advance_request(app, request_id=request_id, as_of=as_of)
        except ServiceError as exc:
            log.warning("assessment %s not drafted: %s", a.id, exc)
            continue
        done["drafted"].append(saved_id(a))
    return done
