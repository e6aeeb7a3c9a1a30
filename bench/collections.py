"""Collections against its bare lower bound, on copies of one generated portfolio.

    python -m bench.portfolio --customers 10000 --invoices 100000 --database-url sqlite:///var/b.db
    python -m bench.collections --database-url sqlite:///var/b.db [--as-of 2027-03-02]

(a) bare: in one process, one streamed SQL scan of the open items (allocated payments, applied
    credit notes and disputes taken into account, payments on account netted), the same Jinja
    template rendered for each notice, one bulk insert into the outbox; no Prefect, no ORM objects.
(b) flow: the real `collections` flow, with delivery to the file outbox.
Each side runs in its own process on its own fresh copy of the database (a file copy on SQLite,
CREATE DATABASE ... TEMPLATE on PostgreSQL). Prints both wall times, the ratio, the notices each
produced (they must be equal) and each side's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path


def _copy(url: str, workdir: Path) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from credit.db.engine import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = workdir / f"copy-{uuid.uuid4().hex[:6]}.db"
        shutil.copyfile(parsed.database, target)  # type: ignore[arg-type]
        return f"sqlite:///{target}"
    base = make_engine(url, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with base.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    base.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def bare(url: str, as_of: date) -> int:
    """The lower bound: one scan, one render per notice, one bulk insert."""
    from sqlalchemy import and_, func, insert, or_, select

    from credit.app import App
    from credit.db.models import Customer, Dispute, Invoice, Notice, Payment
    from credit.settings import Settings

    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url}))
    renderer = app.renderer
    with app.uow() as uow:
        _, policy = app.published_policy(uow.session)
    level = policy.dunning_level(1)
    tolerance = policy.dunning.tolerance
    paid = (
        select(Payment.invoice_id, func.sum(Payment.amount).label("paid"))
        .where(
            Payment.status == "received", Payment.paid_on <= as_of, Payment.invoice_id.is_not(None)
        )  # type: ignore[union-attr]
        .group_by(Payment.invoice_id)
        .subquery()
    )
    note = Invoice.__table__.alias("note")
    applied = (
        select(note.c.applies_to_id, func.sum(-note.c.amount).label("applied"))
        .where(note.c.amount < 0, note.c.applies_to_id.is_not(None), note.c.issue_date <= as_of)
        .group_by(note.c.applies_to_id)
        .subquery()
    )
    disputed = select(Dispute.invoice_id).where(
        Dispute.opened_on <= as_of,
        or_(Dispute.resolved_on.is_(None), Dispute.resolved_on > as_of),  # type: ignore[union-attr]
    )
    open_amount = (
        Invoice.amount - func.coalesce(paid.c.paid, 0) - func.coalesce(applied.c.applied, 0)
    )
    items = (
        select(Invoice.customer_id, Invoice.currency, Invoice.number, Invoice.due_date, open_amount.label("open"))
        .join(paid, paid.c.invoice_id == Invoice.id, isouter=True)
        .join(applied, applied.c.applies_to_id == Invoice.id, isouter=True)
        .where(and_(Invoice.amount > 0, Invoice.issue_date <= as_of, Invoice.due_date < as_of,
                    Invoice.id.not_in(disputed)))  # type: ignore[union-attr]
        .order_by(Invoice.customer_id, Invoice.currency, Invoice.due_date, Invoice.number)
    )  # fmt: skip
    credits_q = (
        select(Payment.customer_id, Payment.currency, func.sum(Payment.amount))
        .where(Payment.status == "received", Payment.paid_on <= as_of, Payment.invoice_id.is_(None))  # type: ignore[union-attr]
        .group_by(Payment.customer_id, Payment.currency)
    )
    scale = Decimal(1)  # Money columns (and sums of them) come back as exact Decimals
    rows = []
    with app.engine.connect() as conn:
        customers = {r.id: r for r in conn.execute(select(Customer))}
        credits = {
            (cid, cur): Decimal(total) * scale for cid, cur, total in conn.execute(credits_q)
        }
        current: tuple[int, str] | None = None
        listed: list[dict] = []

        def emit() -> None:
            if current is None:
                return
            cid, cur = current
            overdue = [i for i in listed if i["open_amount"] > 0]
            total = sum((i["open_amount"] for i in overdue), Decimal(0)) - credits.get(current, 0)
            if not overdue or total <= tolerance:
                return
            c = customers[cid]
            view = {"code": c.code, "name": c.name, "email": c.email, "country": c.country,
                    "currency": c.currency, "sales_owner_email": c.sales_owner_email,
                    "locale": c.locale, "postal_address": (c.postal_address or "").splitlines()}  # fmt: skip
            ctx = {"customer": view, "as_of": as_of, "currency": cur,
                   "level": {"number": 1, "name": level.name, "label": level.label, "channel": "email"},
                   "overdue_total": total, "invoices": overdue, "credits": [], "interest": None,
                   "fee": None, "line": None, "pay_by": as_of}  # fmt: skip
            r = renderer.render(level.template, c.locale, ctx)
            rows.append({"idempotency_key": f"dunning:{c.code}:{cur}:e1:l1", "kind": level.template,
                         "channel": "email", "locale": c.locale, "customer_id": cid,
                         "recipients": [c.email], "subject": r.subject, "text": r.text,
                         "html": r.html, "status": "pending", "attempts": 0})  # fmt: skip

        for r in conn.execution_options(stream_results=True, yield_per=10_000).execute(items):
            key = (r.customer_id, r.currency)
            if key != current:
                emit()
                current, listed = key, []
            amount = Decimal(r.open) * scale
            listed.append({"number": r.number, "kind": "invoice", "due_date": r.due_date,
                           "open_amount": amount, "days_overdue": (as_of - r.due_date).days})  # fmt: skip
        emit()
    with app.engine.begin() as conn:
        for i in range(0, len(rows), 5_000):
            conn.execute(insert(Notice), rows[i : i + 5_000])
    app.engine.dispose()
    return len(rows)


def flow(url: str, as_of: date, outbox: Path) -> int:
    os.environ["CREDIT_DATABASE_URL"] = url
    os.environ["CREDIT_OUTBOX_DIR"] = str(outbox)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    from flows.collections import collections

    result = collections(as_of=as_of)
    return result["counts"].get("sent", 0)


def _side(args: argparse.Namespace) -> None:
    started = time.monotonic()
    if args.side == "bare":
        notices = bare(args.database_url, args.as_of)
    else:
        notices = flow(args.database_url, args.as_of, Path(args.outbox))
    seconds = time.monotonic() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": args.side, "seconds": round(seconds, 2), "notices": notices,
                      "rss_mb": round(rss_mb)}))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2027, 3, 2))
    parser.add_argument("--side", choices=["bare", "flow"], help=argparse.SUPPRESS)
    parser.add_argument("--outbox", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        _side(args)
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in ("bare", "flow"):
            url = _copy(args.database_url, Path(tmp))
            proc = subprocess.run(
                [sys.executable, "-m", "bench.collections", "--database-url", url,
                 "--as-of", args.as_of.isoformat(), "--side", side,
                 "--outbox", str(Path(tmp) / f"outbox-{side}")],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
            results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    b, f = results["bare"], results["flow"]
    print(f"{'side':6} {'seconds':>9} {'notices':>8} {'peak RSS MB':>12}")
    for r in (b, f):
        print(f"{r['side']:6} {r['seconds']:9.2f} {r['notices']:8d} {r['rss_mb']:12d}")
    print(f"ratio flow / bare: {f['seconds'] / b['seconds']:.2f}x; notices equal: "
          f"{b['notices'] == f['notices']}")  # fmt: skip


if __name__ == "__main__":
    main()
