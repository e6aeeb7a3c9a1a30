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
import hashlib
import json
import os
import resource
import time
from datetime import date
from pathlib import Path

from bench._db import BENCH_COMPANY, run_sides


def bare(url: str, as_of: date) -> tuple[int, str]:
    """The lower bound: one streamed scan, one render per notice, bulk inserts as it goes.

    It renders exactly what the product renders (the same context builder and templates), so
    the two sides' notices can be compared byte for byte; it skips everything else the product
    does (locks, dunning history, audit trail, delivery)."""
    from sqlalchemy import and_, insert, literal, or_, select, union_all

    from credit.app import App
    from credit.db.models import CreditLine, Customer, Dispute, Invoice, Notice, Payment
    from credit.domain import dunning
    from credit.services.collections import notice_context
    from credit.services.ledger import _allocations
    from credit.settings import Settings

    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}))
    renderer = app.renderer
    with app.uow() as uow:
        _, policy = app.published_policy(uow.session)
    tolerance = policy.dunning.tolerance
    inv, pay, disp = Invoice.__table__, Payment.__table__, Dispute.__table__
    target = inv.alias("target")
    paid, applied = _allocations(as_of)
    disputed = (
        select(disp.c.invoice_id)
        .where(disp.c.opened_on <= as_of,
               or_(disp.c.resolved_on.is_(None), disp.c.resolved_on > as_of))
        .distinct()
        .subquery()
    )  # fmt: skip
    invoices = (
        select(inv.c.customer_id, inv.c.currency, inv.c.number, inv.c.due_date, inv.c.amount,
               paid.c.paid, applied.c.applied, inv.c.kind, target.c.id.label("target"),
               disputed.c.invoice_id.label("disputed"))
        .select_from(
            inv.outerjoin(paid, and_(paid.c.invoice_id == inv.c.id,
                                     paid.c.customer_id == inv.c.customer_id))
            .outerjoin(applied, and_(applied.c.applies_to_id == inv.c.id,
                                     applied.c.customer_id == inv.c.customer_id))
            .outerjoin(target, and_(target.c.id == inv.c.applies_to_id,
                                    target.c.customer_id == inv.c.customer_id,
                                    target.c.issue_date <= as_of))
            .outerjoin(disputed, disputed.c.invoice_id == inv.c.id))
        .where(inv.c.issue_date <= as_of)
    )  # fmt: skip
    on_account = select(
        pay.c.customer_id, pay.c.currency, pay.c.reference, pay.c.paid_on, -pay.c.amount,
        literal(None), literal(None), literal("payment"), literal(None), literal(None),
    ).where(pay.c.invoice_id.is_(None), pay.c.status == "received", pay.c.paid_on <= as_of)  # fmt: skip
    scan = union_all(invoices, on_account).subquery()
    items = select(scan).order_by(scan.c.customer_id, scan.c.currency)
    total_notices = 0
    digest = hashlib.sha256()
    from credit.db.engine import READ_ONLY

    # the reading connection takes no write lock (SQLite), so the writing one can
    with app.engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        customers = {r.id: r for r in conn.execute(select(Customer))}
        lines = {r.customer_id: r for r in conn.execute(select(CreditLine))}
        rows: list[dict] = []
        current: tuple[int, str] | None = None
        listed: list[dunning.OpenItem] = []

        def emit() -> None:
            nonlocal total_notices
            if current is None:
                return
            cid, cur = current
            position = dunning.dunning_position(listed, as_of, tolerance)
            if position.overdue_total <= tolerance:
                return
            step = dunning.next_dunning_level(
                current_level=0, position=position, policy=policy, as_of=as_of,
                previous_sent_on=None,
            )  # fmt: skip
            if step is None:
                return
            c = customers[cid]
            ctx = notice_context(customer=c, currency=cur, step=step,  # type: ignore[arg-type]
                                 listed=position.overdue_items, credits=position.credits,
                                 as_of=as_of, line=lines.get(cid), details={})  # fmt: skip
            r = renderer.render(step.template, c.locale, ctx)
            key = f"dunning:{c.code}:{cur}:e1:l{step.level}"
            digest.update(f"{key}\n{r.subject}\n{r.text}\n{r.html}\n".encode())
            rows.append({"idempotency_key": key, "kind": step.template, "channel": "email",
                         "locale": c.locale, "customer_id": cid, "recipients": [c.email],
                         "subject": r.subject, "text": r.text, "html": r.html,
                         "status": "pending", "attempts": 0})  # fmt: skip
            total_notices += 1

        with app.engine.begin() as out:
            for r in conn.execution_options(stream_results=True, yield_per=10_000).execute(items):
                key = (r.customer_id, r.currency)
                if key != current:
                    emit()
                    current, listed = key, []
                    if len(rows) >= 2_000:
                        out.execute(insert(Notice), rows)
                        rows.clear()
                amount = r.amount
                if r.kind == "payment":
                    listed.append(dunning.OpenItem(r.number, r.due_date, amount, dunning.PAYMENT))
                elif amount > 0:
                    still_open = amount - (r.paid or 0) + (r.applied or 0)
                    if still_open:
                        kind = r.kind if r.kind != "invoice" else dunning.INVOICE
                        listed.append(dunning.OpenItem(r.number, r.due_date, still_open, kind,
                                                       disputed=r.disputed is not None))  # fmt: skip
                elif r.target is None:
                    kind = r.kind if r.kind != "invoice" else dunning.CREDIT_NOTE
                    listed.append(dunning.OpenItem(r.number, r.due_date, amount, kind))
            emit()
            if rows:
                out.execute(insert(Notice), rows)
    app.engine.dispose()
    return total_notices, digest.hexdigest()


def _digest(url: str) -> str:
    """The same digest over the dunning notices a side wrote, in key order."""
    from sqlalchemy import select

    from credit.db.engine import make_engine
    from credit.db.models import Notice

    digest = hashlib.sha256()
    engine = make_engine(url)
    with engine.connect() as conn:
        query = (
            select(Notice.idempotency_key, Notice.subject, Notice.text, Notice.html)
            .where(Notice.idempotency_key.startswith("dunning:"))  # type: ignore[attr-defined]
            .order_by(Notice.idempotency_key)
        )
        for key, subject, text, html in conn.execution_options(yield_per=5_000).execute(query):
            digest.update(f"{key}\n{subject}\n{text}\n{html}\n".encode())
    engine.dispose()
    return digest.hexdigest()


def flow(url: str, as_of: date, outbox: Path) -> int:
    os.environ["CREDIT_DATABASE_URL"] = url
    os.environ["CREDIT_OUTBOX_DIR"] = str(outbox)
    os.environ.update(BENCH_COMPANY)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    from flows.collections import collections

    result = collections(as_of=as_of)
    return result["counts"].get("sent", 0)


def _side(args: argparse.Namespace) -> None:
    started = time.monotonic()
    if args.side == "bare":
        notices, _ = bare(args.database_url, args.as_of)
    else:
        notices = flow(args.database_url, args.as_of, Path(args.outbox))
    seconds = time.monotonic() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    files = len(list(Path(args.outbox).glob("*.eml"))) if args.side == "flow" else None
    # Not timed: a digest of every dunning notice's key, subject, text and HTML.
    print(json.dumps({"side": args.side, "seconds": round(seconds, 2), "notices": notices,
                      "rss_mb": round(rss_mb), "files": files,
                      "digest": _digest(args.database_url)}))  # fmt: skip


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
    results = run_sides(
        "bench.collections",
        args.database_url,
        ["bare", "flow"],
        lambda side, tmp: [
            "--as-of",
            args.as_of.isoformat(),
            "--outbox",
            str(tmp / f"outbox-{side}"),
        ],
    )
    b, f = results["bare"], results["flow"]
    print(f"{'side':6} {'seconds':>9} {'notices':>8} {'peak RSS MB':>12}")
    for r in (b, f):
        print(f"{r['side']:6} {r['seconds']:9.2f} {r['notices']:8d} {r['rss_mb']:12d}")
    print(f"ratio flow / bare: {f['seconds'] / b['seconds']:.2f}x; notices equal: "
          f"{b['notices'] == f['notices']}; same text, subject and HTML: "
          f"{b['digest'] == f['digest']}; .eml files delivered by the flow: {f['files']}")  # fmt: skip


if __name__ == "__main__":
    main()
