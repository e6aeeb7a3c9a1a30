"""Research for many customers at once (the periodic review's research step).

Each batch is one transaction: the customers are locked in id order, everything research reads
about them is read set-based (a dozen queries for the whole batch instead of a dozen per
customer), each customer is collected, scored and decided with the same functions as a single
review, the assessments go in with one multi-row insert, and the audit events and notices are
appended in bulk. If anything in a batch fails, the batch is rolled back and each of its customers
is researched on its own (:func:`research_one`), where an error stops only that customer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from credit import audit, notices
from credit.app import App
from credit.db.locks import lock_customers
from credit.db.models import (
    CreditAssessment,
    CreditLine,
    CreditRequest,
    Customer,
    RequestStatus,
    utcnow,
)
from credit.db.tables import among, insert_returning_ids
from credit.domain.policy import PolicyBody
from credit.domain.research_status import IN_PROGRESS, SCHEDULED, AssessmentStatus, ReviewOutcome
from credit.services.common import (
    ServiceError,
    add_months,
    id_col,
    person_email,
    saved_id,
    table_of,
)
from credit.services.ledger import load_raw_many, rate_table
from credit.services.research import (
    Outcome,
    ScoredSummary,
    audit_collected,
    collect_customer_data,
    collected_snapshot,
    decide,
    first_own_rating,
    open_signals,
    outcome_effects,
    scan_assessment,
    score_assessment,
    scored_summary,
)
from credit.services.risk import known_signals, record_signals, write_signals

log = logging.getLogger(__name__)

BATCH = 200


class Researched(TypedDict, total=False):
    """What a run reports of one due customer: its assessment in brief, or ``status: "not
    started"`` and the ``error`` why."""

    customer: str
    reason: str
    assessment_id: int
    status: str
    analyst: str | None
    quantitative_score: str | None
    score: str | None
    rating: str | None
    error: str


@dataclass(frozen=True)
class _Run:
    """What every customer of a research run shares."""

    as_of: date
    requested_by: str
    now: datetime
    notify: bool


def research_customers(
    app: App,
    *,
    due: Sequence[Mapping[str, Any]],
    as_of: date,
    requested_by: str,
    notify_ready: bool = True,
    batch_size: int = BATCH,
    now: datetime | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> list[Researched]:
    """Collect and score each due customer (``customer``, ``review_key`` and ``reason`` as
    :func:`credit.services.reviews.due_reviews` lists them), carrying a recent qualitative rating
    over into a scheduled review. Idempotent per review key. One result per item, in order:
    the scored summary, or ``status: "not started"`` with the reason.

    ``notify_ready``: tell the requester each assessment is ready (a periodic review lists them
    in its one "reviews started" notice instead)."""
    now = now or utcnow()
    try:
        person_email(app, requested_by)
    except ServiceError as exc:
        return [_not_started(item, exc) for item in due]
    run = _Run(as_of=as_of, requested_by=requested_by, now=now, notify=notify_ready)
    results: list[Researched] = []
    for i in range(0, len(due), batch_size):
        chunk = due[i : i + batch_size]
        try:
            done, alone = _research_batch(app, chunk, run)
        except Exception as exc:  # noqa: BLE001 - redone one by one, where a real error surfaces
            log.warning(
                "research batch of %d customer(s) rolled back (%s: %s); researching each alone",
                len(chunk),
                type(exc).__name__,
                exc,
            )
            done, alone = {}, list(chunk)
        for item in alone:
            done[item["review_key"]] = research_one(
                app,
                item,
                as_of=as_of,
                requested_by=requested_by,
                notify_ready=notify_ready,
                now=now,
            )
        results += [done[item["review_key"]] for item in chunk]
        if after_batch is not None:
            after_batch(len(chunk))
    return results


def research_one(
    app: App,
    item: Mapping[str, Any],
    *,
    as_of: date,
    requested_by: str,
    notify_ready: bool = True,
    now: datetime | None = None,
) -> Researched:
    """One due customer on its own: collect, then score (two transactions, each safe to redo)."""
    try:
        collected = collect_customer_data(
            app,
            customer_code=item["customer"],
            as_of=as_of,
            requested_by=requested_by,
            review_key=item["review_key"],
        )
        scored = score_assessment(
            app,
            assessment_id=collected["assessment_id"],
            # a rating may be carried over into a scheduled review, not into one a signal asked for
            reuse_qualitative=item["reason"] == SCHEDULED,
            notify_ready=notify_ready,
            now=now,
        )
    except ServiceError as exc:
        return _not_started(item, exc)
    return _brief(item, scored)


def _brief(item: Mapping[str, Any], scored: ScoredSummary) -> Researched:
    """What a run reports of one researched customer (the factors and signals are on the
    assessment: 100,000 customers' worth would not fit a flow's result)."""
    return {
        "customer": item["customer"],
        "reason": item["reason"],
        "assessment_id": scored["assessment_id"],
        "status": scored["status"],
        "analyst": scored["analyst"],
        "quantitative_score": scored["quantitative_score"],
        "score": scored["score"],
        "rating": scored["rating"],
    }


def _not_started(item: Mapping[str, Any], exc: Exception) -> Researched:
    log.warning("review of %s not started: %s", item["customer"], exc)
    return {"customer": item["customer"], "status": ReviewOutcome.NOT_STARTED, "error": str(exc)}


def _research_batch(
    app: App, items: Sequence[Mapping[str, Any]], run: _Run
) -> tuple[dict[str, Researched], list[Mapping[str, Any]]]:
    """(results by review key, the items left to :func:`research_one`): those whose review key
    already has an assessment (a rerun finishes or returns it) and repeated customers."""
    results: dict[str, Researched] = {}
    alone: list[Mapping[str, Any]] = []
    with app.uow() as uow:
        s = uow.session
        codes = [item["customer"] for item in items]
        # Locked first, then read: a flag a risk scan set meanwhile is seen (and closed).
        lock_customers(
            s, list(s.exec(select(id_col(Customer)).where(among(s, col(Customer.code), codes))))
        )
        customers = {
            c.code: c
            for c in s.exec(
                select(Customer)
                .where(among(s, col(Customer.code), codes))
                .execution_options(populate_existing=True)
            )
        }
        version, policy = app.published_policy(s)
        started = set(
            s.exec(
                select(CreditAssessment.review_key).where(
                    among(
                        s, col(CreditAssessment.review_key), [item["review_key"] for item in items]
                    )
                )
            )
        )
        todo: list[tuple[Mapping[str, Any], Customer]] = []
        seen: set[str] = set()
        for item in items:
            customer = customers.get(item["customer"])
            if item["review_key"] in started or item["customer"] in seen:
                alone.append(item)
            elif customer is None:
                results[item["review_key"]] = _not_started(
                    item, ServiceError(f"no customer with code {item['customer']!r}")
                )
            else:
                todo.append((item, customer))
            seen.add(item["customer"])
        refused = _open_reviews(s, [saved_id(c) for _, c in todo])
        for item, customer in todo:
            if customer.id in refused:
                results[item["review_key"]] = _not_started(
                    item,
                    ServiceError(refused[customer.id].format(code=customer.code)),
                )
        todo = [(item, c) for item, c in todo if c.id not in refused]
        if todo:
            results.update(_research(app, s, todo, version=version, policy=policy, run=run))
        uow.commit()
    return results, alone


def _open_reviews(s: Session, ids: list[int]) -> dict[int, str]:
    """Customer id -> why a review cannot start (the messages of a single review's check)."""
    if not ids:
        return {}
    why: dict[int, str] = {}
    for cid, aid, analyst in s.exec(
        select(CreditAssessment.customer_id, CreditAssessment.id, CreditAssessment.analyst).where(
            among(s, col(CreditAssessment.customer_id), ids),
            col(CreditAssessment.status).in_(IN_PROGRESS),
        )
    ):
        why[cid] = (
            f"customer {{code}} already has assessment {aid} waiting for "
            f"{analyst or 'scoring'}; finish it with `credit assess {{code}}` first"
        )
    for cid, rid, status in s.exec(
        select(CreditRequest.customer_id, CreditRequest.id, CreditRequest.status).where(
            among(s, col(CreditRequest.customer_id), ids),
            col(CreditRequest.status).in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED]),
        )
    ):
        why[cid] = (
            f"customer {{code}} already has credit request {rid} ({status}); "
            "it must be decided before a new review starts"
        )
    return why


def _research(
    app: App,
    s: Session,
    todo: list[tuple[Mapping[str, Any], Customer]],
    *,
    version: int,
    policy: PolicyBody,
    run: _Run,
) -> dict[str, Researched]:
    """Collect, score and decide every customer of the batch, then write it all."""
    as_of, requested_by = run.as_of, run.requested_by
    ids = [saved_id(c) for _, c in todo]
    rates = rate_table(s, policy.base_currency)
    raw = load_raw_many(s, [c for _, c in todo], as_of, policy.dunning.tolerance)
    lines = {
        line.customer_id: line
        for line in s.exec(select(CreditLine).where(among(s, col(CreditLine.customer_id), ids)))
    }
    ratings = _earlier_ratings(s, ids, as_of, policy)
    opened = open_signals(s, [c for _, c in todo], as_of)

    decided = []
    for item, customer in todo:
        cid = saved_id(customer)
        line = lines.get(cid)
        customer_raw, owed = raw[cid]
        snapshot, report, facts = collected_snapshot(
            customer, line, raw=customer_raw, owed=owed, as_of=as_of, policy=policy, rates=rates
        )
        a = _draft(
            review_key=item["review_key"],
            customer_id=cid,
            as_of=as_of,
            policy_version=version,
            requested_by=requested_by,
            status=AssessmentStatus.COLLECTED,
            analyst=requested_by,
            inputs=snapshot,
            cleaning_report=report.to_dict(),
        )
        result, found, scanned = scan_assessment(a, line, policy, opened.get(cid, []))
        # a rating may be carried over into a scheduled review, not into one a signal asked for
        carried = (
            first_own_rating(ratings.get(cid, []), policy) if item["reason"] == SCHEDULED else None
        )
        outcome: Outcome = decide(
            a, policy, result=result, carried=carried, now=run.now, notify=run.notify, facts=scanned
        )
        decided.append((item, customer, a, facts, report, found, outcome))

    _insert_assessments(s, [a for _, _, a, *_ in decided])

    known = known_signals(
        s, ids, [f"{c.code}:{sig.key}" for _, c, _, _, _, found, _ in decided for sig in found]
    )
    results: dict[str, Researched] = {}
    with audit.batched(s), notices.batched(s):
        for item, customer, a, facts, report, found, outcome in decided:
            audit_collected(s, a, customer=customer, facts=facts, report=report)
            record_signals(
                app,
                s,
                customer=customer,
                found=found,
                as_of=as_of,
                policy_version=version,
                reviewed_in=a.id,
                known=known,
            )
            outcome_effects(app, s, a, customer=customer, policy=policy, outcome=outcome)
            results[item["review_key"]] = _brief(item, scored_summary(a))
        write_signals(app, s, known)
    return results


def _insert_assessments(s: Session, drafts: list[Any]) -> None:
    """The batch's new assessments in one go (:func:`insert_returning_ids`); each gets its id."""
    rows = [{k: v for k, v in vars(a).items() if k != "id"} for a in drafts]
    for a, new_id in zip(
        drafts, insert_returning_ids(s, table_of(CreditAssessment), rows), strict=True
    ):
        a.id = new_id


@cache
def _defaults() -> tuple[dict[str, Any], dict[str, Callable[..., Any]]]:
    """The assessment model's defaults and default factories (by field name)."""
    fields = CreditAssessment.model_fields
    return (
        {n: f.default for n, f in fields.items() if f.default_factory is None},
        {n: f.default_factory for n, f in fields.items() if f.default_factory is not None},
    )


def _draft(**values: Any) -> Any:
    """A new assessment as a plain object with the model's fields (building thousands of
    SQLModel instances costs half a millisecond each); written with one Core insert."""
    defaults, factories = _defaults()
    return SimpleNamespace(**(defaults | {n: make() for n, make in factories.items()} | values))


def _earlier_ratings(
    s: Session, ids: list[int], as_of: date, policy: PolicyBody
) -> dict[int, list[Any]]:
    """Each customer's complete assessments with a qualitative rating within the policy's reuse
    period, latest first (what :func:`first_own_rating` picks from)."""
    qual = policy.scorecard.qualitative
    if qual.weight == 0 or qual.reuse_months <= 0:
        return {}
    out: dict[int, list[Any]] = {}
    for row in s.execute(  # rows, with their columns by name
        select(CreditAssessment.customer_id, id_col(CreditAssessment), CreditAssessment.qualitative)
        .where(
            among(s, col(CreditAssessment.customer_id), ids),
            CreditAssessment.status == AssessmentStatus.COMPLETE,
            CreditAssessment.as_of >= add_months(as_of, -qual.reuse_months),
            col(CreditAssessment.qualitative_score).is_not(None),
        )
        .order_by(col(CreditAssessment.as_of).desc(), col(CreditAssessment.id).desc())
    ):
        out.setdefault(row.customer_id, []).append(row)
    return out
