"""A synthetic portfolio for benchmarks: many customers, a skewed number of open invoices each.

    python -m bench.portfolio --customers 100000 --invoices 1000000 --seed 7 \\
        --database-url sqlite:///var/bench.db [--as-of 2027-03-01] [--lines-share 0.9] \\
        [--due-share 0.1]

Writes, with bulk inserts in batches (no ORM objects): customers in several countries, currencies
and locales (each with a tax id in its country's format); open invoices whose count per customer is
skewed (a few customers hold many), with a spread of days overdue; partial payments, payments on
account, credit notes applied to invoices and disputes on a share of them; FX rates for the foreign
currencies (and two older rates, for the statements).

And the credit side, as the real research -> draft -> publish path leaves it: two yearly financial
statements per customer in its currency (a few stale, a few customers with none); for a share of
the customers (``--lines-share``) an earlier research (a complete assessment: snapshot, factors and
an analyst's qualitative rating, scored with the domain functions under the published policy), the
published credit request drafted from it and the active credit line, with its rating, limit, terms
and review date. A share of the lines (``--due-share``) is due for review exactly on ``--as-of``:
their earlier research is then exactly one review period old, so a scheduled re-review on that date
carries the analyst's qualitative rating over (the policy's ``reuse_months``) and needs no person.
The other lines fall due later, spread over their review period. No approval steps or audit events
are written for the earlier decisions (the audit chain stays intact). The database is migrated and
the shipped policy published first (it must be empty). Deterministic for a seed; the open-item
ledger (invoices, payments, credit notes, disputes) is the same for a seed whatever the shares.
A line costs about 0.75 ms to write (the domain scoring of its research is 0.3 ms of it).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from bench._db import BENCH_COMPANY

COUNTRIES = [  # country, currency, locale, share
    ("DE", "EUR", "de", 30),
    ("FR", "EUR", "en", 15),
    ("NL", "EUR", "en", 10),
    ("IT", "EUR", "en", 10),
    ("GB", "GBP", "en", 10),
    ("US", "USD", "en", 15),
    ("TW", "USD", "zh-Hant", 10),
]
RATES = {"GBP": Decimal("1.1700"), "USD": Decimal("0.9200")}
BATCH = 20_000
LINE_BATCH = 5_000  # customers per round of statement / assessment / request / line inserts
TAX_ID = {  # a well-formed tax id per country (the policy's risk.tax_id_patterns), from a number
    "DE": "DE{:09d}", "FR": "FR00{:09d}", "NL": "NL{:09d}B01", "IT": "IT{:011d}",
    "GB": "GB{:09d}", "US": "US{:09d}", "TW": "TW{:08d}",
}  # fmt: skip
REQUESTER = "carla.manager"  # the directory's review requester asked for the earlier research
ANALYST = "junior.analyst"  # ... and this analyst gave its qualitative rating
# The earlier research's rating: a target grade per customer, statements whose quality fits it,
# and the analyst's qualitative rating drawn to land the combined score in the grade's band.
# The shipped policy scores missing trade data as neutral (50 points), which leaves an A to the
# best financials with an excellent qualitative rating: most A targets end as B.
TARGETS = {  # grade: (weight, quality from, quality to)
    "A": (5, 0.8, 1.0), "B": (30, 0.55, 0.9), "C": (30, 0.3, 0.7), "D": (25, 0.1, 0.5),
    "E": (10, 0.0, 0.3),
}  # fmt: skip
STALE_SHARE = 0.04  # customers whose latest statement is a year older (stale by the policy)
NO_STATEMENT_SHARE = 0.02  # customers with no statement on file


def skewed_counts(customers: int, invoices: int, rng: random.Random) -> list[int]:
    """Invoices per customer: every customer at least one, the rest by a Zipf-like weight."""
    weights = [1 / (rank**0.9) for rank in range(1, customers + 1)]
    rng.shuffle(weights)
    total = sum(weights)
    extra = invoices - customers
    counts = [1 + int(extra * w / total) for w in weights]
    short = invoices - sum(counts)
    for i in rng.sample(range(customers), k=min(customers, max(0, short))):
        counts[i] += 1
    return counts


def _statement_rates(as_of: date) -> list[dict[str, Any]]:
    """Older rates for converting statements: before the ledger's own rate, so that every
    conversion on a date the ledger already covered stays the same."""
    return [
        {"currency": cur, "rate_date": as_of - timedelta(days=days),
         "rate_to_base": (rate * factor).quantize(Decimal("0.0001"))}
        for days, factor in ((1500, Decimal("0.96")), (900, Decimal("1.02")))
        for cur, rate in RATES.items()
    ]  # fmt: skip


def _cents(value: float) -> Decimal:
    return Decimal(round(value * 100)) / 100


def _statements(rng: random.Random, quality: float, latest: date) -> list[dict[str, Any]]:
    """Two yearly statements (latest first) whose ratios follow the customer's quality (0-1)."""
    revenue = rng.lognormvariate(15.1 + quality, 1.3)  # median about 6 million, 100k to 500m
    current_ratio = max(0.3, 0.5 + 2.0 * quality + rng.gauss(0, 0.3))
    debt_ratio = min(1.1, max(0.05, 0.95 - 0.7 * quality + rng.gauss(0, 0.1)))
    margin = -0.04 + 0.14 * quality + rng.gauss(0, 0.02)
    cash_ratio = -0.1 + 0.7 * quality + rng.gauss(0, 0.1)
    turnover, short_share = rng.uniform(0.5, 1.0), rng.uniform(0.4, 0.8)
    growth = rng.gauss(0.04, 0.08)
    rows = []
    for k in range(2):
        rev = revenue / (1 + growth) ** k
        assets = _cents(rev * turnover)
        short = _cents(rev * turnover * debt_ratio * short_share)
        rows.append(
            {
                "period_end": date(latest.year - k, latest.month, min(latest.day, 28)),
                "revenue": _cents(rev),
                "net_income": _cents(rev * margin),
                "total_assets": assets,
                "total_liabilities": max(short, _cents(rev * turnover * debt_ratio)),
                "current_assets": min(assets, _cents(float(short) * current_ratio)),
                "current_liabilities": short,
                "operating_cash_flow": _cents(float(short) * cash_ratio),
            }
        )
    return rows


def _earlier_research(
    customer: dict[str, Any],
    statements: list[dict[str, Any]],
    *,
    day: date,
    target: str,
    policy: Any,
    rates: Any,
    rng: random.Random,
) -> dict[str, Any]:
    """What research (collect, clean, score, the analyst's qualitative rating, combine, rate,
    recommend) concluded about a customer on ``day``, with the domain functions the services use;
    the analyst's rating is drawn to land the combined score in ``target``'s band if it can."""
    from credit.domain import cleaning, scoring
    from credit.services.research import in_customer_currency

    facts, report = cleaning.clean(
        registered_on=customer["registered_on"],
        statements=[
            cleaning.RawStatement(currency=customer["currency"], **st)
            for st in statements
            if st["period_end"] <= day
        ],
        documents=[],
        payments=[],
        rates=rates,
        as_of=day,
        max_statement_age_months=policy.max_statement_age_months,
    )
    result = scoring.score_customer(facts, day, policy)
    card = policy.scorecard
    qualitative: tuple[Decimal | None, list[Any]] = (None, [])
    if card.qualitative.weight > 0:
        floors = [r.min_score for r in policy.ratings]
        band = [r.grade for r in policy.ratings].index(target)
        ceiling = floors[band - 1] if band else Decimal(100)
        want = Decimal(rng.uniform(float(floors[band]), float(ceiling)))
        mean = float((want - result.total * card.quantitative_weight) / card.qualitative.weight)
        scores = {
            f.name: Decimal(min(100, max(0, round(mean + rng.gauss(0, 4)))))
            for f in card.qualitative.factors
        }
        qualitative = scoring.score_qualitative(scores, policy)
    total = scoring.combined_score(result.total, qualitative[0], policy)
    grade = scoring.rate_combined(result, total, policy)
    rate = rates.lookup(customer["currency"], day)
    currency = {  # what base_view adds to the snapshot (no exposure and no line back then)
        "customer_currency": customer["currency"],
        "customer_rate": str(rate[0]) if rate else None,
        "customer_rate_date": rate[1].isoformat() if rate else None,
    }
    rec = scoring.recommend(grade, facts, day, policy)
    rec = in_customer_currency(rec, currency, policy.base_currency)
    return {
        "day": day,
        "grade": grade,
        "rec": rec,
        "rate": rate[0] if rate else None,
        "facts": facts,
        "report": report,
        "result": result,
        "currency": currency,
        "qualitative": qualitative,
        "total": total,
    }


def _assessment_row(customer: dict[str, Any], found: dict[str, Any], base: str) -> dict[str, Any]:
    """The stored assessment, its JSON written as make_snapshot and audit.jsonable write it."""

    def plain(value: Any) -> str | None:
        return None if value is None else str(value)

    facts, result, rec = found["facts"], found["result"], found["rec"]
    qual_total, qual_rows = found["qualitative"]
    snapshot = {
        "registered_on": facts.registered_on.isoformat() if facts.registered_on else None,
        "statements": [
            {"period_end": s.period_end.isoformat(), "revenue": str(s.revenue),
             "net_income": str(s.net_income), "total_assets": str(s.total_assets),
             "total_liabilities": str(s.total_liabilities),
             "current_assets": str(s.current_assets),
             "current_liabilities": str(s.current_liabilities),
             "operating_cash_flow": str(s.operating_cash_flow)}
            for s in facts.statements
        ],
        "documents": [], "payments": [],  # the ledger of that day is not generated
        "as_of": found["day"].isoformat(), "base_currency": base,
        "profile": {
            "email": customer["email"], "country": customer["country"],
            "tax_id": customer["tax_id"], "registered_on": customer["registered_on"].isoformat(),
            "sales_owner_email": customer["sales_owner_email"],
        },
        "exposure": "0.00", "limit": None, **found["currency"], "signals": [],
    }  # fmt: skip
    factors = [
        {"name": f.name, "label": f.label, "metric": f.metric, "value": plain(f.value),
         "band": f.band, "points": str(f.points), "weight": str(f.weight),
         "weighted": str(f.weighted)}
        for f in result.factors
    ]  # fmt: skip
    qualitative = {
        "factors": [
            {"name": q.name, "label": q.label, "score": str(q.score), "weight": str(q.weight),
             "weighted": str(q.weighted)}
            for q in qual_rows
        ],
        "comment": "bench portfolio: the analyst's rating at the first research",
        "by": ANALYST,
        "carried_over_from": None,
    }  # fmt: skip
    return {
        "inputs": snapshot,
        "cleaning_report": found["report"].to_dict(),
        "metrics": {k: plain(v) for k, v in result.metrics.items()},
        "factors": factors,
        "quantitative_score": result.total,
        "qualitative": qualitative if qual_rows else {},
        "qualitative_score": qual_total,
        "total_score": found["total"],
        "rating": found["grade"],
        "recommended_limit": rec.limit,
        "terms_days": rec.terms_days,
        "conditions": list(rec.conditions),
        "review_months": rec.review_months,
        "limit_basis": rec.basis,
    }


def _insert_returning_ids(conn: Any, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many rows (one executemany); their ids in the order of ``rows``, read back by the
    unique ``review_key`` among the ids above the largest one before (one writer: this one)."""
    before = conn.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one()
    conn.execute(insert(model), rows)
    ids = dict(conn.execute(select(model.review_key, model.id).where(model.id > before)).all())
    return [ids[r["review_key"]] for r in rows]


def _credit_history(
    conn: Any,
    *,
    customers: list[dict[str, Any]],
    rng: random.Random,
    as_of: date,
    lines_share: float,
    due_share: float,
) -> dict[str, int]:
    """Statements for every customer; for a share of them the earlier research, the published
    request drafted from it and the active credit line (see the module docstring)."""
    from credit.db.models import (
        CreditAssessment,
        CreditLine,
        CreditPolicy,
        CreditRequest,
        FinancialStatement,
        FxRate,
        PolicyStatus,
    )
    from credit.domain.cleaning import RateTable
    from credit.domain.policy import PolicyBody
    from credit.services.common import add_months

    version, body = conn.execute(
        select(CreditPolicy.version, CreditPolicy.body).where(
            CreditPolicy.status == PolicyStatus.PUBLISHED
        )
    ).one()
    policy = PolicyBody.model_validate(body)
    table: dict[str, list[tuple[date, Decimal]]] = {}
    for cur, day, rate in conn.execute(
        select(FxRate.currency, FxRate.rate_date, FxRate.rate_to_base)
    ):
        table.setdefault(cur, []).append((day, rate))
    rates = RateTable(policy.base_currency, table)
    written = dict.fromkeys(
        ("financial_statement", "credit_assessment", "credit_request", "credit_line"), 0
    )
    grades: dict[str, int] = {}
    targets, weights = list(TARGETS), [t[0] for t in TARGETS.values()]

    def months_of(grade: str) -> int:
        return policy.rating(grade).review.months

    for start in range(0, len(customers), LINE_BATCH):
        statements: list[dict[str, Any]] = []
        earlier: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for c in customers[start : start + LINE_BATCH]:
            target = rng.choices(targets, weights=weights)[0]
            quality = rng.uniform(*TARGETS[target][1:])
            # Fiscal years end on various days; the latest is 12-16 months old on as_of, so
            # every research in the last year knew the same two statements.
            latest = add_months(as_of, -12) - timedelta(days=rng.randrange(0, 120))
            roll = rng.random()
            own: list[dict[str, Any]] = []
            if roll >= NO_STATEMENT_SHARE:
                if roll < NO_STATEMENT_SHARE + STALE_SHARE:
                    latest = add_months(latest, -12)  # stale by as_of (over 18 months old)
                own = _statements(rng, quality, latest)
            statements += [{"customer_id": c["id"], "currency": c["currency"], **st} for st in own]
            if rng.random() >= lines_share:
                continue
            due = rng.random() < due_share
            offset = 0.0 if due else rng.random()  # how far into its review period the line is
            # Researched on the day the line was activated, one review period (that of the
            # rating given) before the review date; a research whose grade missed its target
            # is made again on the day its own period implies.
            grade, found = target, {}
            for _ in range(2):
                months = months_of(grade)
                span = (add_months(as_of, months) - as_of).days
                review_on = as_of + timedelta(days=0 if due else max(1, round(offset * span)))
                day = max(c["registered_on"], min(as_of, add_months(review_on, -months)))
                found = _earlier_research(
                    c, own, day=day, target=target, policy=policy, rates=rates, rng=rng
                )
                found["review_on"] = review_on
                if months_of(found["grade"]) == months:
                    break
                grade = found["grade"]
            earlier.append((c, found))
            grades[found["grade"]] = grades.get(found["grade"], 0) + 1
        if statements:
            conn.execute(insert(FinancialStatement), statements)
            written["financial_statement"] += len(statements)
        if not earlier:
            continue
        rows = []
        for c, found in earlier:
            day = found["day"]
            at = datetime.combine(day, datetime.min.time(), UTC).replace(hour=10)
            rows.append(
                {
                    **_assessment_row(c, found, policy.base_currency),
                    "review_key": f"manual:{c['code']}:{day.isoformat()}",
                    "customer_id": c["id"], "as_of": day, "policy_version": version,
                    "requested_by": REQUESTER, "status": "complete", "analyst": ANALYST,
                    "created_at": at, "completed_at": at,
                }
            )  # fmt: skip
        assessment_ids = _insert_returning_ids(conn, CreditAssessment, rows)
        requests = []
        for (c, found), r, assessment_id in zip(earlier, rows, assessment_ids, strict=True):
            rec, rate = found["rec"], found["rate"]
            base_amount = rec.limit
            if c["currency"] != policy.base_currency:
                base_amount = (rec.limit * rate).quantize(Decimal("0.01")) if rate else None
            requests.append(
                {
                    "review_key": r["review_key"], "customer_id": c["id"],
                    "assessment_id": assessment_id, "kind": "new",
                    "requested_by": REQUESTER, "requested_limit": None,
                    "recommended_limit": rec.limit, "proposed_limit": rec.limit,
                    "base_amount": base_amount, "current_limit": None, "currency": c["currency"],
                    "terms_days": rec.terms_days, "conditions": list(rec.conditions),
                    "rating": found["grade"], "review_months": rec.review_months,
                    "policy_version": version, "status": "published",
                    "created_at": r["created_at"], "decided_at": r["created_at"],
                }
            )  # fmt: skip
        request_ids = _insert_returning_ids(conn, CreditRequest, requests)
        lines = [
            {
                "customer_id": c["id"], "limit": r["proposed_limit"], "currency": c["currency"],
                "terms_days": r["terms_days"], "conditions": r["conditions"],
                "rating": r["rating"], "status": "active",
                "request_id": request_id, "policy_version": version,
                "activated_on": found["day"], "next_review_on": found["review_on"],
                "updated_at": r["created_at"],
            }
            for (c, found), r, request_id in zip(earlier, requests, request_ids, strict=True)
        ]  # fmt: skip
        conn.execute(insert(CreditLine), lines)
        written["credit_assessment"] += len(rows)
        written["credit_request"] += len(requests)
        written["credit_line"] += len(lines)
    written["due_on_as_of"] = conn.execute(
        select(func.count()).select_from(CreditLine).where(CreditLine.next_review_on <= as_of)
    ).scalar_one()
    return {**written, **{f"rating_{g}": n for g, n in sorted(grades.items())}}


def generate(
    database_url: str,
    *,
    customers: int,
    invoices: int,
    seed: int,
    as_of: date,
    lines_share: float = 0.9,
    due_share: float = 0.1,
    progress: Any = None,
) -> dict[str, int]:
    """Fill an empty database; returns the number of rows written per table."""
    from credit import services
    from credit.app import App
    from credit.db.models import Customer, Dispute, FxRate, Invoice, Payment
    from credit.settings import Settings

    if invoices < customers:
        raise SystemExit("--invoices must be at least --customers (every customer has one)")
    if not (0 <= lines_share <= 1 and 0 <= due_share <= 1):
        raise SystemExit("--lines-share and --due-share are shares between 0 and 1")
    settings = Settings.load(
        environ={"CREDIT_DATABASE_URL": database_url, **BENCH_COMPANY}, env_file=None
    )
    app = App(settings)
    services.init_database(app, actor="bench")
    rng = random.Random(seed)
    counts = skewed_counts(customers, invoices, rng)
    written = {"customer": 0, "invoice": 0, "payment": 0, "dispute": 0, "fx_rate": 0}
    fx_rows = [
        {"currency": cur, "rate_date": as_of - timedelta(days=400), "rate_to_base": rate}
        for cur, rate in RATES.items()
    ] + _statement_rates(as_of)
    countries = [c for c in COUNTRIES for _ in range(c[3])]
    started = time.monotonic()
    with app.engine.begin() as conn:
        if conn.execute(select(Customer.id).limit(1)).first() is not None:
            raise SystemExit(f"{database_url} already holds customers: use an empty database")
        conn.execute(insert(FxRate), fx_rows)
        written["fx_rate"] = len(fx_rows)
        rows = []
        for i in range(customers):
            country, currency, locale, _ = countries[rng.randrange(len(countries))]
            rows.append(
                {
                    "code": f"B-{i + 1:06d}",
                    "name": f"Bench Customer {i + 1}",
                    "email": f"ap{i + 1}@bench.example",
                    "country": country,
                    "currency": currency,
                    "locale": locale,
                    "sales_owner_email": f"sales{i % 20}@example.com",
                    "registered_on": as_of - timedelta(days=rng.randrange(300, 9000)),
                    "postal_address": f"Bench Customer {i + 1}\nStreet {i + 1}\n{country}",
                    "tax_id": TAX_ID[country].format(i + 1),  # no draw: the ledger stays the same
                }
            )
        for chunk in range(0, len(rows), BATCH):
            conn.execute(insert(Customer), rows[chunk : chunk + BATCH])
        written["customer"] = len(rows)
        ids = dict(conn.execute(select(Customer.code, Customer.id)).all())
        currency_of = {r["code"]: r["currency"] for r in rows}
        profiles = {r["code"]: r for r in rows}
        del rows

        invoice_rows: list[dict[str, Any]] = []
        pending: list[tuple[str, dict[str, Any]]] = []  # (kind, row) waiting for invoice ids
        number = 0

        def flush() -> None:
            nonlocal invoice_rows, pending
            if not invoice_rows:
                return
            conn.execute(insert(Invoice), invoice_rows)
            numbers = [r["number"] for r in invoice_rows]
            by_number = dict(
                conn.execute(
                    select(Invoice.number, Invoice.id).where(Invoice.number.in_(numbers))  # type: ignore[attr-defined]
                ).all()
            )
            payments, disputes, notes = [], [], []
            for kind, row in pending:
                target = by_number[row.pop("_target")]
                if kind == "payment":
                    payments.append({**row, "invoice_id": target})
                elif kind == "dispute":
                    disputes.append({**row, "invoice_id": target})
                else:
                    notes.append({**row, "applies_to_id": target})
            if payments:
                conn.execute(insert(Payment), payments)
            if disputes:
                conn.execute(insert(Dispute), disputes)
            if notes:
                conn.execute(insert(Invoice), notes)
            written["invoice"] += len(invoice_rows) + len(notes)
            written["payment"] += len(payments)
            written["dispute"] += len(disputes)
            invoice_rows, pending = [], []
            if progress:
                progress(written["invoice"], invoices)

        for code, n in zip(sorted(ids), counts, strict=True):
            cid, currency = ids[code], currency_of[code]
            for _ in range(n):
                number += 1
                overdue = int(rng.triangular(-40, 150, 5))  # days past due, most a little late
                due = as_of - timedelta(days=overdue)
                amount = Decimal(int(rng.lognormvariate(7.2, 1.0) * 100) + 100) / 100
                inv_number = f"BI-{number:08d}"
                invoice_rows.append(
                    {
                        "customer_id": cid, "number": inv_number,
                        "issue_date": due - timedelta(days=30), "due_date": due,
                        "amount": amount, "currency": currency, "kind": "invoice",
                    }
                )  # fmt: skip
                roll = rng.random()
                if roll < 0.10:  # a partial payment: still open
                    pending.append(("payment", {
                        "customer_id": cid, "reference": f"BP-{number:08d}",
                        "paid_on": min(as_of, due + timedelta(days=rng.randrange(0, 20))),
                        "amount": (amount * Decimal(rng.randrange(10, 90)) / 100).quantize(Decimal("0.01")),
                        "currency": currency, "method": "bank_transfer", "status": "received",
                        "_target": inv_number,
                    }))  # fmt: skip
                elif roll < 0.12:  # a credit note applied to it
                    if due - timedelta(days=10) <= as_of:  # issued by as_of: the ledger then
                        pending.append(("credit_note", {
                            "customer_id": cid, "number": f"BC-{number:08d}",
                            "issue_date": due - timedelta(days=10),
                            "due_date": due - timedelta(days=10),
                            "amount": -(amount / 4).quantize(Decimal("0.01")), "currency": currency,
                            "kind": "invoice", "_target": inv_number,
                        }))  # fmt: skip
                elif roll < 0.13:  # disputed
                    pending.append(("dispute", {
                        "customer_id": cid, "reason": "goods damaged", "opened_by": "bench",
                        "opened_on": min(as_of, due + timedelta(days=3)), "_target": inv_number,
                    }))  # fmt: skip
            if rng.random() < 0.05:  # a payment on account
                conn.execute(
                    insert(Payment),
                    [{"customer_id": cid, "reference": f"BA-{cid:08d}",
                      "paid_on": as_of - timedelta(days=rng.randrange(1, 60)),
                      "amount": Decimal(rng.randrange(100, 500_00)) / 100, "currency": currency,
                      "method": "bank_transfer", "status": "received", "invoice_id": None}],
                )  # fmt: skip
                written["payment"] += 1
            if len(invoice_rows) >= BATCH:
                flush()
        flush()
        credit = _credit_history(
            conn,
            customers=[{**profiles[code], "id": ids[code]} for code in sorted(ids)],
            rng=random.Random(f"{seed}:credit"),  # its own stream: the ledger above is unchanged
            as_of=as_of,
            lines_share=lines_share,
            due_share=due_share,
        )
        written.update(credit)
    app.engine.dispose()
    written["seconds"] = round(time.monotonic() - started)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--invoices", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2027, 3, 1))
    parser.add_argument(
        "--lines-share", type=float, default=0.9, help="customers with a credit line (0-1)"
    )
    parser.add_argument(
        "--due-share", type=float, default=0.1, help="lines due for review on --as-of (0-1)"
    )
    args = parser.parse_args(argv)
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("Writing invoices", total=args.invoices)
        result = generate(
            args.database_url,
            customers=args.customers,
            invoices=args.invoices,
            seed=args.seed,
            as_of=args.as_of,
            lines_share=args.lines_share,
            due_share=args.due_share,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    print(" ".join(f"{k}={v}" for k, v in result.items()), file=sys.stdout)


if __name__ == "__main__":
    main()
