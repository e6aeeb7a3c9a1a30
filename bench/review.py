"""Periodic review's research step against its plain bound (the same job) and its bare one.

    python -m bench.portfolio --customers 100000 --invoices 1000000 --lines-share 1 \\
        --due-share 1 --database-url sqlite:///var/r.db
    python -m bench.review --database-url sqlite:///var/r.db [--as-of 2027-03-01] \\
        [--real flow|services] [--bound plain|bare|both]

The research step, as measured here, is what `periodic_review` does for every line due on
``--as-of`` before any person is involved: the due list (``services.due_reviews``), then per
customer ``collect_customer_data`` (load, clean and snapshot the ledger and statements, exposure
and limit in the base currency) and ``score_assessment`` with the scheduled review's
``reuse_qualitative`` (scorecard, risk signals, the analyst's qualitative rating carried over,
combined score, rating and recommendation: a complete assessment). It stops where
``services.review_customers`` goes on to ``draft_request`` and ``advance_request`` (the request
and the approval routing that waits for people), and it leaves out the risk scan of the whole
portfolio and the "reviews started" notice. Output: one complete assessment per due customer.

No human step: the shipped policy weighs an analyst's qualitative rating (25%) and lets a
scheduled re-review reuse one made within ``reuse_months`` (12). `bench.portfolio` writes, for
every line, the research that opened it (with an analyst's rating) on the day the line was
activated, one review period before its review date; so a line due on ``--as-of`` finds a rating
at most 12 months old and completes without an analyst. (A run on a later day than the
portfolio's ``--as-of`` finds the yearly lines' ratings too old and leaves those assessments
waiting: the awaiting count below says so.)

(a) plain (the bound): one process, streamed SQL scans (ordered by customer) of the due lines,
    statements, invoices and credit notes, payments and the earlier qualitative ratings, merged
    per customer; the same domain functions (cleaning, snapshot, scorecard, signals, qualitative,
    combine, rate, recommend); then what the real step writes besides the assessment, written
    plainly: the audit trail's events (two per review, one per new signal; hash-chained in
    memory, ids counted on), the new risk-signal rows and, for a new high signal, the credit
    team's risk alert (rendered with f-strings) in the outbox; bulk inserts of it all in one
    transaction. No Prefect, no ORM objects, no Jinja. The outcome checks it is the same job:
    the same audit events by action, the same signals and alerts, both chains intact.
(a') bare (``--bound bare``, and with ``both``, the default): the plain side without the audit
    trail, the signals and the alerts: the assessments only. The earlier, stricter comparison.
(b) real: ``--real flow`` (default) a Prefect flow shaped like `periodic_review` (the real
    ``count-due-reviews`` task, then one task per page of ``flows.periodic_review.BATCH``
    (2,000) customers: ``services.due_reviews_page``, then the services above, a transaction
    per ``BATCH`` (200) inside, each task returning only a count per status); ``--real services`` the same calls without Prefect.
Each side runs in its own process on its own fresh copy of the database (a file copy on SQLite,
CREATE DATABASE ... TEMPLATE on PostgreSQL, dropped afterwards). Prints each side's wall time
(imports included) and the time of the step itself (without interpreter and Prefect start-up),
the ratio to each bound, the complete assessments each produced (they must be equal), whether
their ratings, scores and limits agree customer by customer, the audit events, signals and
alerts each wrote, and each side's peak RSS and CPU seconds (its own process and the children
it waited for: on a shared machine a steadier figure than the wall time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from bench._db import BENCH_COMPANY, run_sides

WRITE_BATCH = 1_000
BATCH = 200  # customers per research transaction: credit.services.research_batch.BATCH
PAGE = 2_000  # customers per page of due lines (a task of the flow): flows.periodic_review.BATCH


def _app(url: str) -> Any:
    from credit.app import App
    from credit.settings import Settings

    return App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}))


# --- (b) the real research step -------------------------------------------------------------


def research_batch(
    app: Any, *, due: list[dict[str, Any]], as_of: date, requested_by: str
) -> list[dict[str, Any]]:
    """``services.review_customers`` up to the draft: ``services.research_customers`` (collect,
    then score, carrying a recent qualitative rating over into a scheduled review; one
    transaction per batch), without the per-customer "assessment ready" notice, as the periodic
    review does; idempotent per review key."""
    from credit import services

    return services.research_customers(
        app, due=due, as_of=as_of, requested_by=requested_by, notify_ready=False, batch_size=BATCH
    )


def research_page(
    app: Any, *, as_of: date, after: int, size: int, requested_by: str
) -> dict[str, Any]:
    """A page of due lines (``services.due_reviews_page``) researched: a count per status, and
    where the next page starts."""
    from credit import services

    page = services.due_reviews_page(app, as_of=as_of, after=after, size=size)
    counts: dict[str, int] = defaultdict(int)
    for r in research_batch(app, due=page["due"], as_of=as_of, requested_by=requested_by):
        counts[str(r["status"])] += 1
    return {"counts": dict(counts), "after": page["after"]}


def real_services(url: str, as_of: date) -> dict[str, float]:
    """The research step through the services, a page at a time as the flow does, no Prefect."""
    from credit import services
    from credit.db.engine import refresh_statistics

    app = _app(url)
    started = time.monotonic()
    refresh_statistics(app.engine)
    services.count_due_lines(app, as_of=as_of)
    requester = app.directory.teams.review_requester
    after: int | None = 0
    while after is not None:
        after = research_page(app, as_of=as_of, after=after, size=PAGE, requested_by=requester)[
            "after"
        ]
    step = time.monotonic() - started
    app.engine.dispose()
    return {"step": step}


def real_flow(url: str, as_of: date) -> dict[str, float]:
    """The research step as a Prefect flow shaped like `periodic_review`."""
    os.environ["CREDIT_DATABASE_URL"] = url
    os.environ.update(BENCH_COMPANY)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    # Prefect as the product's commands start it: its local server loads while this process
    # imports the flow (`credit reviews due --run` does the same).
    from credit.cli.running import prefect_defaults
    from flows.local_server import local_api, start_early

    prefect_defaults()
    server = start_early()
    from prefect import flow, task

    from flows import periodic_review
    from tasks.research import count_due_reviews
    from tasks.runtime import app

    inside = {"batches": 0.0, "body": 0.0}

    @task(name="research-page")
    def research(as_of: date, after: int, size: int, requested_by: str) -> dict[str, Any]:
        """A page of the due lines (``periodic_review.BATCH`` customers), researched in
        transactions of ``BATCH``; its result is a count per status and where the next page
        starts (small: the flow's memory stays flat)."""
        started = time.monotonic()
        try:
            return research_page(
                app(), as_of=as_of, after=after, size=size, requested_by=requested_by
            )
        finally:
            inside["batches"] += time.monotonic() - started

    @flow(name="periodic-review-research", flow_run_name="periodic-review-research-{as_of}")
    def periodic_review_research(as_of: date) -> int:
        """`periodic_review` up to the draft: the count of due lines, then research a page at a
        time."""
        started = time.monotonic()
        count_due_reviews(as_of)
        requester = app().directory.teams.review_requester
        done = 0
        after: int | None = 0
        while after is not None:
            page = research(as_of, after, periodic_review.BATCH, requester)
            done += sum(page["counts"].values())
            after = page["after"]
        inside["body"] = time.monotonic() - started
        return done

    started = time.monotonic()
    with local_api(server):
        periodic_review_research(as_of)
    return {"step": time.monotonic() - started, "in_body": inside["body"],
            "in_batches": inside["batches"]}  # fmt: skip


# --- (a) the bare lower bound ---------------------------------------------------------------


def _groups(rows: Any) -> Iterator[tuple[int, list[Any]]]:
    """Consecutive rows with the same first column (the customer id), as (id, rows)."""
    current, bunch = None, []
    for r in rows:
        if r[0] != current:
            if bunch:
                yield current, bunch  # type: ignore[misc]
            current, bunch = r[0], []
        bunch.append(r)
    if bunch:
        yield current, bunch  # type: ignore[misc]


class _Merge:
    """The rows of one customer from a stream of groups ordered by customer id."""

    def __init__(self, groups: Iterator[tuple[int, list[Any]]]) -> None:
        self._groups = groups
        self._next = next(groups, None)

    def take(self, customer_id: int) -> list[Any]:
        while self._next is not None and self._next[0] < customer_id:
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == customer_id:
            rows = self._next[1]
            self._next = next(self._groups, None)
            return rows
        return []


def _settle(invoices: list[Any], payments: list[Any], tolerance: Decimal) -> tuple[dict, dict]:
    """What each document still has open and the day each invoice was settled: the allocation
    of ``credit.services.ledger.research_ledger_many`` (payments for it and credit notes applied to
    it, in date order; payments before credit notes on the same day)."""
    by_id = {i.id: i for i in invoices}
    settlements = sorted(
        [(p.paid_on, 0, p.invoice_id, p.amount) for p in payments
         if p.invoice_id in by_id and p.status == "received"]
        + [(i.issue_date, 1, i.applies_to_id, -i.amount) for i in invoices
           if i.amount < 0 and i.applies_to_id in by_id],
        key=lambda t: (t[0], t[1]),
    )  # fmt: skip
    allocated: dict[int, Decimal] = defaultdict(Decimal)
    paid_on: dict[int, date] = {}
    for day, _, invoice_id, amount in settlements:
        allocated[invoice_id] += amount
        if (
            invoice_id not in paid_on
            and allocated[invoice_id] >= by_id[invoice_id].amount - tolerance
        ):
            paid_on[invoice_id] = day
    still_open = {
        i.id: i.amount - allocated.get(i.id, Decimal(0))
        if i.amount > 0
        else (Decimal(0) if i.applies_to_id in by_id else i.amount)
        for i in invoices
    }
    return still_open, paid_on


def _plain(obj: Any) -> Any:
    """A dataclass (or value) as JSON-ready values, as ``audit.jsonable(asdict(obj))`` gives."""
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _plain(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def bare(url: str, as_of: date, *, full: bool = False) -> dict[str, Any]:
    """The lower bound: streamed scans merged per customer, the domain functions, bulk inserts.

    ``full`` (the ``plain`` side): the same job as the real step, not only its assessments: the
    audit trail's events (hash-chained, the head moved), the new risk signals and the credit
    team's risk alerts, written the plain way (:class:`_Effects`)."""
    from dataclasses import asdict

    from sqlalchemy import insert, or_, select

    from credit.db.models import (
        AssessmentStatus,
        CreditAssessment,
        CreditLine,
        CreditPolicy,
        CreditRequest,
        Customer,
        FinancialStatement,
        FxRate,
        Invoice,
        LineStatus,
        Payment,
        PolicyStatus,
        RequestStatus,
        RiskSignal,
        utcnow,
    )
    from credit.domain import cleaning, scoring, signals
    from credit.domain.policy import PolicyBody
    from credit.domain.snapshot import make_snapshot
    from credit.services.common import add_months
    from credit.services.research import COLLECTED, recommend_with_signals, risk_effects_view

    app = _app(url)
    requester = app.directory.teams.review_requester
    started = time.monotonic()
    cent = Decimal("0.01")
    from credit.db.engine import READ_ONLY

    reader = app.engine.execution_options(**{READ_ONLY: True}).connect()  # no write lock
    writer = app.engine.connect()
    wtx = writer.begin()
    stream = reader.execution_options(stream_results=True, yield_per=10_000)
    version, body = reader.execute(
        select(CreditPolicy.version, CreditPolicy.body).where(
            CreditPolicy.status == PolicyStatus.PUBLISHED
        )
    ).one()
    policy = PolicyBody.model_validate(body)
    base, tolerance = policy.base_currency, policy.dunning.tolerance
    table: dict[str, list[tuple[date, Decimal]]] = {}
    for cur, day, rate in reader.execute(
        select(FxRate.currency, FxRate.rate_date, FxRate.rate_to_base)
    ):
        table.setdefault(cur, []).append((day, rate))
    rates = cleaning.RateTable(base, table)
    qual = policy.scorecard.qualitative
    names = {f.name for f in qual.factors}

    # The due lines, as services.due_reviews finds them (keys included), in customer order.
    due_where = (
        or_(CreditLine.next_review_on <= as_of, Customer.review_flagged_on.is_not(None)),  # type: ignore[union-attr]
        CreditLine.status.in_([LineStatus.ACTIVE, LineStatus.ON_HOLD]),  # type: ignore[attr-defined]
    )
    due_ids = (
        select(CreditLine.customer_id)
        .join(Customer, Customer.id == CreditLine.customer_id)
        .where(*due_where)
    )
    busy = (
        select(CreditRequest.customer_id)
        .where(
            CreditRequest.status.in_([RequestStatus.IN_APPROVAL, RequestStatus.APPROVED])  # type: ignore[attr-defined]
        )
        .union(
            select(CreditAssessment.customer_id).where(
                CreditAssessment.status.in_([COLLECTED, AssessmentStatus.AWAITING_QUALITATIVE])  # type: ignore[attr-defined]
            )
        )
    )
    lines = reader.execute(
        select(Customer.id, Customer.code, Customer.currency, Customer.email, Customer.country,
               Customer.tax_id, Customer.registered_on, Customer.sales_owner_email,
               Customer.review_flagged_on, Customer.review_flag_reason, CreditLine.limit,
               CreditLine.currency.label("line_currency"), CreditLine.request_id,
               CreditLine.next_review_on, Customer.name, CreditLine.status.label("line_status"))
        .join(CreditLine, CreditLine.customer_id == Customer.id)
        .where(*due_where, Customer.id.not_in(busy))  # type: ignore[union-attr]
        .order_by(Customer.id)
    ).all()  # fmt: skip
    open_signals: dict[int, int] = {}
    for cid, sid in reader.execute(
        select(RiskSignal.customer_id, RiskSignal.id).where(RiskSignal.reviewed_in.is_(None))  # type: ignore[union-attr]
    ):
        open_signals[cid] = max(sid, open_signals.get(cid, 0))

    def key_of(c: Any) -> str:
        if c.next_review_on > as_of and c.review_flagged_on is not None:
            if open_signals.get(c.id):
                return f"periodic:{c.code}:signal:{open_signals[c.id]}"
            why = hashlib.sha256((c.review_flag_reason or "").encode()).hexdigest()[:8]
            return f"periodic:{c.code}:flag:{c.review_flagged_on.isoformat()}:{why}"
        return f"periodic:{c.code}:{c.next_review_on.isoformat()}"

    done = set(
        reader.execute(
            select(CreditAssessment.review_key).where(
                CreditAssessment.review_key.like("periodic:%")
            )  # type: ignore[attr-defined]
        ).scalars()
    )

    statements = _Merge(_groups(stream.execute(
        select(FinancialStatement.customer_id, FinancialStatement.period_end,
               FinancialStatement.currency, FinancialStatement.revenue, FinancialStatement.net_income,
               FinancialStatement.total_assets, FinancialStatement.total_liabilities,
               FinancialStatement.current_assets, FinancialStatement.current_liabilities,
               FinancialStatement.operating_cash_flow)
        .where(FinancialStatement.customer_id.in_(due_ids)).order_by(FinancialStatement.customer_id)  # type: ignore[attr-defined]
    )))  # fmt: skip
    documents = _Merge(_groups(stream.execute(
        select(Invoice.customer_id, Invoice.id, Invoice.number, Invoice.issue_date,
               Invoice.due_date, Invoice.amount, Invoice.currency, Invoice.kind,
               Invoice.applies_to_id)
        .where(Invoice.customer_id.in_(due_ids)).order_by(Invoice.customer_id, Invoice.id)  # type: ignore[attr-defined]
    )))  # fmt: skip
    payments = _Merge(_groups(stream.execute(
        select(Payment.customer_id, Payment.id, Payment.reference, Payment.paid_on,
               Payment.amount, Payment.currency, Payment.method, Payment.status,
               Payment.invoice_id)
        .where(Payment.customer_id.in_(due_ids), Payment.paid_on <= as_of)  # type: ignore[attr-defined]
        .order_by(Payment.customer_id, Payment.paid_on, Payment.id)
    )))  # fmt: skip
    earlier = _Merge(_groups(stream.execute(
        select(CreditAssessment.customer_id, CreditAssessment.id, CreditAssessment.qualitative)
        .where(CreditAssessment.customer_id.in_(due_ids),  # type: ignore[attr-defined]
               CreditAssessment.status == AssessmentStatus.COMPLETE,
               CreditAssessment.as_of >= add_months(as_of, -qual.reuse_months),
               CreditAssessment.qualitative_score.is_not(None))  # type: ignore[union-attr]
        .order_by(CreditAssessment.customer_id, CreditAssessment.as_of.desc(),  # type: ignore[attr-defined]
                  CreditAssessment.id.desc())  # type: ignore[union-attr]
    )))  # fmt: skip

    rows: list[dict[str, Any]] = []
    counts = {"complete": 0, "awaiting": 0}
    effects = _Effects(reader, writer, as_of, version, app.directory.teams.credit) if full else None
    for c in lines:
        key = key_of(c)
        if key in done:
            continue  # a review already made for this due date is not started again
        scheduled = not (c.review_flagged_on is not None and c.next_review_on > as_of)
        own_statements = statements.take(c.id)
        own_documents = documents.take(c.id)
        own_payments = payments.take(c.id)
        ratings = earlier.take(c.id)
        # collect_customer_data: the ledger as the scorecard and the signals see it
        numbers = {d.id: d.number for d in own_documents}
        known = [d for d in own_documents if d.issue_date <= as_of]
        trade = [d for d in known if d.kind == "invoice"]
        open_trade, paid_on = _settle(trade, own_payments, tolerance)
        raw_documents = [
            cleaning.RawDocument(d.number, d.issue_date, d.due_date, d.amount, d.currency,
                                 paid_on.get(d.id), open_trade[d.id])
            for d in trade
        ]  # fmt: skip
        raw_payments = [
            cleaning.RawPayment(p.reference, p.paid_on, p.amount, p.currency, p.method, p.status,
                                numbers.get(p.invoice_id) if p.invoice_id else None)
            for p in own_payments
        ]  # fmt: skip
        facts, report = cleaning.clean(
            registered_on=c.registered_on,
            statements=[cleaning.RawStatement(s.period_end, s.currency, *s[3:]) for s in own_statements],
            documents=raw_documents,
            payments=raw_payments,
            rates=rates,
            as_of=as_of,
            max_statement_age_months=policy.max_statement_age_months,
        )  # fmt: skip
        # base_view: exposure (charges included) and limit in the base currency
        open_all, _ = _settle(known, own_payments, Decimal(0))
        exposure: dict[str, Decimal] = defaultdict(Decimal)
        for p in raw_payments:
            if p.invoice_number is None and p.status == "received":
                exposure[p.currency] -= p.amount
        for d in known:
            if open_all[d.id] != 0:
                exposure[d.currency] += open_all[d.id]
        exposure_base = Decimal(0)
        for currency, amount in exposure.items():
            found = rates.lookup(currency, as_of)
            if found is None:
                report.rejected.append(cleaning.Entry(
                    f"exposure in {currency}", "currency", currency,
                    f"no {currency} rate to {base}; left out of the exposure"))  # fmt: skip
                continue
            exposure_base += amount * found[0]
        line_rate = rates.lookup(c.line_currency, as_of)
        customer_rate = rates.lookup(c.currency, as_of)
        limit_base = c.limit * line_rate[0] if line_rate else None
        snapshot = make_snapshot(facts, raw_payments, {
            "as_of": as_of, "base_currency": base,
            "profile": {"email": c.email, "country": c.country, "tax_id": c.tax_id,
                        "registered_on": c.registered_on.isoformat() if c.registered_on else None,
                        "sales_owner_email": c.sales_owner_email},
            "exposure": exposure_base.quantize(cent),
            "limit": limit_base.quantize(cent) if limit_base is not None else None,
            "customer_currency": c.currency,
            "customer_rate": customer_rate[0] if customer_rate else None,
            "customer_rate_date": customer_rate[1].isoformat() if customer_rate else None,
        })  # fmt: skip
        # score_assessment: scorecard, signals, the qualitative rating, combine, rate, recommend
        result = scoring.score_customer(facts, as_of, policy)
        cleaning_report = report.to_dict()
        stale = next((f for f in cleaning_report["flags"] if "stale" in f["reason"]), None)
        found_signals = signals.scan(
            profile=signals.Profile(c.email, c.country, c.tax_id, c.registered_on, c.sales_owner_email),
            documents=[cleaning.RawDocument(d.number, d.issue_date, d.due_date, d.amount, base,
                                            d.paid_on, d.open_amount) for d in facts.documents],
            payments=raw_payments,
            exposure=Decimal(snapshot["exposure"]),
            limit=Decimal(snapshot["limit"]) if snapshot.get("limit") else None,
            stale_statement=stale["reason"] if stale else None,
            rules=policy.risk, as_of=as_of, stale_key=stale["item"] if stale else "",
            line_ref=f"request-{c.request_id}",
        )  # fmt: skip
        snapshot["signals"] = [asdict(x) for x in found_signals]
        carried = None
        if scheduled and qual.reuse_months > 0:
            carried = next(
                (r for r in ratings
                 if (r.qualitative or {}).get("carried_over_from") is None
                 and {f["name"] for f in (r.qualitative or {}).get("factors", [])} == names),
                None,
            )  # fmt: skip
        qualitative: dict[str, Any] = {}
        qual_total = None
        if qual.weight > 0:
            if carried is None:
                counts["awaiting"] += 1  # an analyst would be asked: not the bench's portfolio
                continue
            q = carried.qualitative
            scores = {f["name"]: Decimal(f["score"]) for f in q["factors"]}
            qual_total, qual_rows = scoring.score_qualitative(scores, policy)
            qualitative = {"factors": [_plain(r) for r in qual_rows],
                           "comment": q.get("comment", ""), "by": q.get("by", ""),
                           "carried_over_from": carried.id}  # fmt: skip
        total = scoring.combined_score(result.total, qual_total, policy)
        grade = scoring.rate_combined(result, total, policy)
        # the policy's risk effects of the signals found (the bare side reads no stored ones)
        rec, risk = recommend_with_signals(grade, snapshot, as_of=as_of, facts=facts, policy=policy)
        snapshot["risk_effects"] = risk_effects_view(risk)
        grade = rec.rating
        now = utcnow()
        assessment_id = effects.assessment(
            c, key, requester, facts, report, found_signals,
            {"quantitative": result.total, "qualitative": qual_total, "score": total,
             "rating": grade, "recommended_limit": rec.limit,
             "risk_effects": snapshot["risk_effects"].get("summary", ""),
             "answered_signals": []},
            qualitative.get("comment") or ("qualitative carried over" if carried else ""),
            carried=carried is not None,
        ) if effects else None  # fmt: skip
        rows.append({
            **({"id": assessment_id} if effects else {}),
            "review_key": key, "customer_id": c.id, "as_of": as_of, "policy_version": version,
            "requested_by": requester, "status": AssessmentStatus.COMPLETE.value,
            "analyst": requester, "requested_limit": None, "override_reason": None,
            "inputs": snapshot, "cleaning_report": cleaning_report,
            "metrics": _plain(result.metrics), "factors": [_plain(f) for f in result.factors],
            "quantitative_score": result.total, "qualitative": qualitative,
            "qualitative_score": qual_total, "total_score": total, "rating": grade,
            "recommended_limit": rec.limit, "terms_days": rec.terms_days,
            "conditions": list(rec.conditions), "review_months": rec.review_months,
            "limit_basis": rec.basis, "created_at": now, "completed_at": now,
        })  # fmt: skip
        counts["complete"] += 1
        if len(rows) >= WRITE_BATCH:
            writer.execute(insert(CreditAssessment), rows)
            rows = []
            if effects:
                effects.write()
    if rows:
        writer.execute(insert(CreditAssessment), rows)
    if effects:
        effects.write()
        effects.finish()
    wtx.commit()
    writer.close()
    reader.close()
    step = time.monotonic() - started
    app.engine.dispose()
    return {"step": step, **counts}


class _Effects:
    """What the real step writes besides an assessment, the plain way: ids counted on from the
    tables' ends (the sequences set after, on PostgreSQL), the audit chain extended in memory
    (SHA-256 over the canonical JSON the trail verifies, the head moved once), the signals not
    seen before (by fingerprint, a kind still open not raised again) and, for a new high one,
    the credit team's risk alert rendered with f-strings; all written with the assessments'
    batches. (The bench's portfolio has no open signal or review flag to answer or close.)"""

    def __init__(self, reader: Any, writer: Any, as_of: date, version: int, team: str) -> None:
        from sqlalchemy import func, select

        from credit.db.models import AuditHead, CreditAssessment, RiskSignal

        self.writer, self.as_of, self.version, self.team = writer, as_of, version, team
        self.assessment_id = reader.execute(select(func.max(CreditAssessment.id))).scalar() or 0
        self.signal_id = reader.execute(select(func.max(RiskSignal.id))).scalar() or 0
        head = reader.execute(
            select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
        ).first()
        self.event_id, self.last_hash = head if head else (0, None)
        self.head = head is not None
        self.fingerprints = set(reader.execute(select(RiskSignal.fingerprint)).scalars())
        self.open_kinds = set(
            reader.execute(
                select(RiskSignal.customer_id, RiskSignal.kind).where(
                    RiskSignal.reviewed_in.is_(None)  # type: ignore[union-attr]
                )
            ).all()
        )
        self.events: list[dict[str, Any]] = []
        self.signals: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []

    def _event(self, actor: str, action: str, code: str, after: dict[str, Any], reason: str
               ) -> None:  # fmt: skip
        from datetime import UTC, datetime

        import orjson

        self.event_id += 1
        at = datetime.now(UTC)
        content = {"id": self.event_id, "actor": actor, "action": action,
                   "entity_type": "customer", "entity_id": code, "before": None, "after": after,
                   "reason": reason, "policy_version": self.version, "prev_hash": self.last_hash,
                   "at": at.isoformat(timespec="microseconds")}  # fmt: skip
        # the trail's canonical JSON (sorted keys, no spaces, UTF-8): orjson writes the same bytes
        # as json.dumps does for these values (the outcome's chain check would say otherwise)
        digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.events.append({**content, "at": at, "via": None, "hash": digest})
        self.last_hash = digest

    def assessment(self, c: Any, key: str, requester: str, facts: Any, report: Any,
                   found: list[Any], outcome: dict[str, Any], reason: str, *, carried: bool
                   ) -> int:  # fmt: skip
        """The assessment's id; its audit events, new signals and alert queued for writing."""
        from datetime import UTC, datetime

        self.assessment_id += 1
        aid = self.assessment_id
        self._event(requester, "assessment.collect", c.code,
                    {"assessment_id": aid, "statements": len(facts.statements),
                     "documents": len(facts.documents), "fixes": len(report.fixes),
                     "rejected": len(report.rejected), "flags": len(report.flags)}, key)  # fmt: skip
        new = []
        for sig in found:
            fingerprint = f"{c.code}:{sig.key}"
            if fingerprint in self.fingerprints or (c.id, sig.kind) in self.open_kinds:
                continue
            self.fingerprints.add(fingerprint)
            self.signal_id += 1
            new.append({"id": self.signal_id, "fingerprint": fingerprint, "customer_id": c.id,
                        "kind": sig.kind, "severity": str(sig.severity), "detail": sig.detail,
                        "detected_on": self.as_of, "detected_at": datetime.now(UTC),
                        "reviewed_in": aid})  # fmt: skip
            self._event("risk", "risk.signal", c.code,
                        {"kind": sig.kind, "severity": str(sig.severity), "detail": sig.detail},
                        sig.key)  # fmt: skip
        self.signals += new
        high = [r for r in new if r["severity"] == "high"]
        if high:
            self.notices.append(self._alert(c, new, high))
        after = {k: str(v) if isinstance(v, Decimal) else v for k, v in outcome.items()}
        self._event("system" if carried else requester, "assessment.complete", c.code,
                    {"assessment_id": aid, **after}, reason)  # fmt: skip
        return aid

    def _alert(self, c: Any, new: list[dict[str, Any]], high: list[dict[str, Any]]
               ) -> dict[str, Any]:  # fmt: skip
        from datetime import UTC, datetime
        from html import escape

        from babel.numbers import format_currency

        line = f"{format_currency(c.limit, c.line_currency, locale='en')}, status " + str(
            c.line_status
        ).replace("_", " ")
        count = f"{len(new)} new risk signal" + ("s" if len(new) != 1 else "")
        subject = (f"Risk alert: {c.name} ({c.code}), {len(new)} new signal"
                   f"{'s' if len(new) != 1 else ''}, {len(high)} high")  # fmt: skip
        items = "".join(f"- {r['kind']} ({r['severity']}): {r['detail']}\n" for r in new)
        text = (f"Hello credit team,\n\nthe risk scan of {c.name} ({c.code}, {c.country}) as of "
                f"{self.as_of.isoformat()} found {count}, {len(high)} of them of high severity:\n\n"
                f"{items}\nOnly signals not seen before are listed; `credit risk signals "
                f"--customer {c.code}` shows all of them.\n\nCredit line: {line}\n\nSales owner: "
                f"{c.sales_owner_email}\n\n{c.code} is not flagged for re-review.\n")  # fmt: skip
        rows = "".join(f"<tr><td>{escape(r['kind'])}</td><td>{r['severity']}</td>"
                       f"<td>{escape(r['detail'])}</td></tr>" for r in new)  # fmt: skip
        html = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(subject)}"
                f"</title></head><body><h1>Risk alert: {escape(c.name)} ({c.code})</h1><p>Hello "
                f"credit team, the risk scan of {escape(c.name)} ({c.code}, {c.country}) as of "
                f"{self.as_of.isoformat()} found <strong>{count}</strong>, {len(high)} of them "
                f"of high severity:</p><table>{rows}</table><p>Only signals not seen before are "
                f"listed; <code>credit risk signals --customer {c.code}</code> shows all of "
                f"them.</p><table><tr><th>Credit line</th><td>{escape(line)}</td></tr><tr>"
                f"<th>Sales owner</th><td>{escape(c.sales_owner_email or '')}</td></tr></table>"
                f"<p>{c.code} is not flagged for re-review.</p></body></html>")  # fmt: skip
        return {"idempotency_key": f"risk-alert:{c.code}:{min(r['id'] for r in high)}",
                "kind": "risk_alert", "channel": "email", "locale": "en", "customer_id": c.id,
                "recipients": [self.team], "subject": subject, "text": text, "html": html,
                "document": None, "status": "pending", "attempts": 0,
                "created_at": datetime.now(UTC)}  # fmt: skip

    def write(self) -> None:
        """The rows queued so far (after their batch's assessments: signals name them)."""
        from sqlalchemy import insert

        from credit.db.models import AuditEvent, Notice, RiskSignal

        for table, rows in ((RiskSignal, self.signals), (AuditEvent, self.events),
                            (Notice, self.notices)):  # fmt: skip
            if rows:
                self.writer.execute(insert(table), rows)
        self.signals, self.events, self.notices = [], [], []

    def finish(self) -> None:
        """The audit head moved to the chain's new end; on PostgreSQL the id sequences past the
        ids given here."""
        from sqlalchemy import text, update

        from credit.db.models import AuditHead

        if self.head:
            self.writer.execute(
                update(AuditHead)
                .where(AuditHead.id == 1)  # type: ignore[arg-type]
                .values(last_id=self.event_id, last_hash=self.last_hash)
            )
        if self.writer.dialect.name == "postgresql":
            for table, last in (("credit_assessment", self.assessment_id),
                                ("risk_signal", self.signal_id), ("audit_event", self.event_id)):  # fmt: skip
                if last:
                    self.writer.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})")
                    )


# --- running and comparing ------------------------------------------------------------------


def outcome(url: str) -> dict[str, Any]:
    """What a side left in its copy: periodic assessments by status, ratings, and a digest of
    each customer's rating, scores, limit and terms (equal digests: equal decisions); the audit
    events, risk signals and risk alerts written (with a digest of which), and whether the whole
    audit chain still verifies."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    from credit import audit
    from credit.db.models import AuditEvent, CreditAssessment, Notice, RiskSignal

    app = _app(url)
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(CreditAssessment.customer_id, CreditAssessment.status, CreditAssessment.rating,
                   CreditAssessment.quantitative_score, CreditAssessment.total_score,
                   CreditAssessment.recommended_limit, CreditAssessment.terms_days,
                   CreditAssessment.review_months)
            .where(CreditAssessment.review_key.like("periodic:%"))  # type: ignore[attr-defined]
            .order_by(CreditAssessment.customer_id)
        ).all()  # fmt: skip
        events = conn.execute(
            select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
        ).all()
        signals = conn.execute(
            select(RiskSignal.fingerprint, RiskSignal.severity, RiskSignal.detail).order_by(
                RiskSignal.fingerprint
            )
        ).all()
        alerts = conn.execute(
            select(Notice.idempotency_key)
            .where(Notice.kind == "risk_alert")
            .order_by(Notice.idempotency_key)
        ).scalars().all()  # fmt: skip
    with Session(app.engine) as session:
        chain = audit.verify(session)
    app.engine.dispose()
    complete = [r for r in rows if r.status == "complete"]
    ratings: dict[str, int] = defaultdict(int)
    for r in complete:
        ratings[r.rating] += 1
    digest = hashlib.sha256("\n".join("|".join(map(str, r)) for r in complete).encode())
    written = hashlib.sha256(
        "\n".join(["|".join(map(str, r)) for r in signals] + list(alerts)).encode()
    )
    return {
        "complete": len(complete),
        "awaiting": len(rows) - len(complete),
        "ratings": dict(sorted(ratings.items())),
        "digest": digest.hexdigest()[:16],
        "events": dict(sorted((action, n) for action, n in events)),
        "signals": len(signals),
        "alerts": len(alerts),
        "written": written.hexdigest()[:16],
        "chain": chain.ok,
    }


def _side(args: argparse.Namespace) -> None:
    started = time.monotonic()
    if args.side in ("bare", "plain"):
        timing = bare(args.database_url, args.as_of, full=args.side == "plain")
    elif args.side == "services":
        timing = real_services(args.database_url, args.as_of)
    else:
        timing = real_flow(args.database_url, args.as_of)
    seconds = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_mb = own.ru_maxrss / 1024
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    result = outcome(args.database_url)
    if "awaiting" in timing:  # the bare side writes no assessment that would wait for an analyst
        result["awaiting"] = timing["awaiting"]
    print(json.dumps({"side": args.side, "seconds": round(seconds, 2),
                      "step": round(timing["step"], 2),
                      "in_body": round(timing.get("in_body", timing["step"]), 2),
                      "in_batches": round(timing.get("in_batches", timing["step"]), 2),
                      "rss_mb": round(rss_mb), "cpu": round(cpu, 2), **result}))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2027, 3, 1))
    parser.add_argument("--real", choices=["flow", "services"], default="flow")
    parser.add_argument(
        "--bound",
        choices=["plain", "bare", "both"],
        default="both",
        help="plain: the same job written plainly (audit trail, signals, alerts too); bare: "
        "the assessments only (the earlier, stricter comparison); both (default)",
    )
    parser.add_argument(
        "--side", choices=["bare", "plain", "flow", "services"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.side:
        _side(args)
        return
    bounds = ["plain", "bare"] if args.bound == "both" else [args.bound]
    results = run_sides(
        "bench.review",
        args.database_url,
        [*bounds, args.real],
        lambda side, tmp: ["--as-of", args.as_of.isoformat()],
    )
    r = results[args.real]
    print(
        f"{'side':9} {'seconds':>8} {'step':>8} {'complete':>9} {'awaiting':>9} {'peak RSS MB':>12}"
        f" {'CPU s':>8} {'events':>8} {'signals':>8} {'alerts':>7} {'chain':>6}"
    )
    for x in [results[b] for b in bounds] + [r]:
        print(f"{x['side']:9} {x['seconds']:8.2f} {x['step']:8.2f} {x['complete']:9d} "
              f"{x['awaiting']:9d} {x['rss_mb']:12d} {x['cpu']:8.2f} "
              f"{sum(x['events'].values()):8d} {x['signals']:8d} {x['alerts']:7d} "
              f"{'intact' if x['chain'] else 'BROKEN':>6}")  # fmt: skip
    if args.real == "flow":
        print(f"flow: {r['in_body']:.2f} s in the flow's body (the rest of the step is Prefect "
              f"starting and ending the run), {r['in_batches']:.2f} s of it inside the "
              "research-page tasks (each reads its page of due lines)")  # fmt: skip
    print("ratings: " + "; ".join(f"{x['side']} {x['ratings']}" for x in results.values()))
    for b in bounds:
        x = results[b]
        same = (x["complete"] == r["complete"], x["digest"] == r["digest"])
        print(f"ratio {args.real} / {b}: {r['seconds'] / x['seconds']:.2f}x (step only "
              f"{r['step'] / x['step']:.2f}x, CPU {r['cpu'] / x['cpu']:.2f}x); per customer: {b} "
              f"{1000 * x['step'] / max(1, x['complete']):.2f} ms, {args.real} "
              f"{1000 * r['step'] / max(1, r['complete']):.2f} ms; complete equal: {same[0]}; "
              f"same ratings, scores and limits: {same[1]}")  # fmt: skip
    if "plain" in results:
        x = results["plain"]
        print(f"same job as plain: audit events by action {x['events'] == r['events']}, the same "
              f"signals and alerts {x['written'] == r['written']}, both chains intact "
              f"{x['chain'] and r['chain']}")  # fmt: skip


if __name__ == "__main__":
    main()
