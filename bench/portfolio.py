"""A synthetic portfolio for benchmarks: many customers, a skewed number of open invoices each.

    python -m bench.portfolio --customers 100000 --invoices 1000000 --seed 7 \\
        --database-url sqlite:///var/bench.db [--as-of 2027-03-01]

Writes, with bulk inserts in batches (no ORM objects): customers in several countries, currencies
and locales; open invoices whose count per customer is skewed (a few customers hold many), with a
spread of days overdue; partial payments, payments on account, credit notes applied to invoices
and disputes on a share of them; FX rates for the foreign currencies. The database is migrated and
the shipped policy published first (it must be empty). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

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


def generate(
    database_url: str,
    *,
    customers: int,
    invoices: int,
    seed: int,
    as_of: date,
    progress: Any = None,
) -> dict[str, int]:
    """Fill an empty database; returns the number of rows written per table."""
    from credit import services
    from credit.app import App
    from credit.db.models import Customer, Dispute, FxRate, Invoice, Payment
    from credit.settings import Settings

    if invoices < customers:
        raise SystemExit("--invoices must be at least --customers (every customer has one)")
    settings = Settings.load(environ={"CREDIT_DATABASE_URL": database_url}, env_file=None)
    app = App(settings)
    services.init_database(app, actor="bench")
    rng = random.Random(seed)
    counts = skewed_counts(customers, invoices, rng)
    written = {"customer": 0, "invoice": 0, "payment": 0, "dispute": 0, "fx_rate": 0}
    countries = [c for c in COUNTRIES for _ in range(c[3])]
    started = time.monotonic()
    with app.engine.begin() as conn:
        if conn.execute(select(Customer.id).limit(1)).first() is not None:
            raise SystemExit(f"{database_url} already holds customers: use an empty database")
        conn.execute(
            insert(FxRate),
            [
                {"currency": cur, "rate_date": as_of - timedelta(days=400), "rate_to_base": rate}
                for cur, rate in RATES.items()
            ],
        )
        written["fx_rate"] = len(RATES)
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
                }
            )
        for chunk in range(0, len(rows), BATCH):
            conn.execute(insert(Customer), rows[chunk : chunk + BATCH])
        written["customer"] = len(rows)
        ids = dict(conn.execute(select(Customer.code, Customer.id)).all())
        currency_of = {r["code"]: r["currency"] for r in rows}
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
                    pending.append(("credit_note", {
                        "customer_id": cid, "number": f"BC-{number:08d}",
                        "issue_date": due - timedelta(days=10), "due_date": due - timedelta(days=10),
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
            progress=lambda done, total: bar.update(task, completed=done),
        )
    print(" ".join(f"{k}={v}" for k, v in result.items()), file=sys.stdout)


if __name__ == "__main__":
    main()
