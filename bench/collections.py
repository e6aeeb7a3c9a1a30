"""Collections against two bounds, on copies of one generated portfolio.

    python -m bench.portfolio --customers 10000 --invoices 100000 --seed 1 --as-of 2026-12-01 \
        --database-url sqlite:////var/b.db
    python -m bench.collections --database-url sqlite:////var/b.db [--as-of 2026-12-01]
        [--sides plain,bare,flow]

(a) plain: ``bench.collections_plain``, an independent program doing the same job for speed (no
    ``credit`` import: the DB driver, Babel, fpdf2, segno, MIME bytes by hand): the open items in
    one streamed scan, who gets level 1, a text and an HTML part, an A4 PDF letter (and the EPC QR
    code in euros), the ``.eml`` file and the outbox row for each notice.
(b) bare: in one process, one streamed SQL scan of the open items, the product's own context
    builder and templates rendered for each notice, one bulk insert into the outbox; no Prefect,
    no ORM objects, no delivery.
(c) flow: end to end through ``credit collections run --as-of D --json`` (a subprocess, with the
    bench company and delivery to a file outbox).
Each side runs in its own process on its own fresh copy of the database (a file copy on SQLite,
CREATE DATABASE ... TEMPLATE on PostgreSQL). Prints each side's wall time, notices, .eml files and
peak RSS, the ratios flow / plain and flow / bare, and two checks: plain and flow told each
customer the same (customer, currency, items, overdue total: a digest over sorted lines), and bare
and flow wrote the same notices (key, subject, text, HTML).

--as-of defaults to 2026-12-01, the date of the generated portfolios (/var/bench/p10k.db): the CLI
refuses a date in the future, so the portfolio must be generated as of that day or earlier.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
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
    from credit.domain import dunning, rf
    from credit.domain.dunning_items import ItemBook, plan_items
    from credit.domain.dunning_profiles import dunning_schedule, has_profiles
    from credit.services.cash.references import _keyed
    from credit.services.collections import notice_context
    from credit.services.ledger import _allocations
    from credit.services.letters import QR_CONTENT_ID
    from credit.settings import Settings

    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}))
    renderer = app.renderer
    with app.uow() as uow:
        _, policy = app.published_policy(uow.session)
    # A fresh portfolio: every customer follows the policy's default profile (none assigned).
    profile = policy.dunning_profiles.default if has_profiles(policy) else None
    schedule = dunning_schedule(policy, profile)
    policy = schedule.policy
    named = {"profile": profile} if profile is not None else {}
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
            if position.overdue_total <= tolerance or not schedule.dun:
                return
            # Each overdue item climbs its own levels; the notice goes at the highest one.
            plan = plan_items(position, ItemBook(), policy.dunning.levels, as_of=as_of,
                              min_gap=policy.dunning.min_days_between_levels)  # fmt: skip
            if plan is None:
                return
            step = policy.dunning_level(plan.notice_level)
            minimum = step.min_amount.get(cur)
            if minimum is not None and position.overdue_total < minimum:
                return
            c = customers[cid]
            ctx = notice_context(customer=c, currency=cur, step=step,  # type: ignore[arg-type]
                                 listed=position.overdue_items, credits=position.credits,
                                 as_of=as_of, line=lines.get(cid), details=dict(named))  # fmt: skip
            for row in ctx["invoices"]:
                row["level"] = plan.levels.get(row["number"], 0)
            ctx.update(named)
            key = f"dunning:{c.code}:{cur}:e1:l{step.level}"
            # What letters.remittance gives (the RF from the notice key, as references.issue
            # derives it), without writing the payment reference.
            ref = _keyed(re.sub(r"[^A-Z0-9]", "", c.code.upper())[:10], key)
            account = app.bank_accounts.for_currency(cur)
            amount = ctx["overdue_total"]
            qr = cur == "EUR" and account is not None and amount >= Decimal("0.01")
            ctx["remittance"] = {
                "currency": cur, "amount": amount, "rf": ref, "rf_grouped": rf.grouped(ref),
                "account": account.view() if account is not None else None, "asks": True,
                "qr": qr, "inline_qr": qr and step.channel.value == "email",
                "qr_cid": QR_CONTENT_ID,
            }  # fmt: skip
            r = renderer.render(step.template, c.locale, ctx)
            digest.update(f"{key}\n{r.subject}\n{r.text}\n{r.html}\n".encode())
            rows.append({"idempotency_key": key, "kind": step.template,
                         "channel": step.channel.value,
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


def _flow_lines(url: str, as_of: date) -> list[str]:
    """What the flow told each customer on ``as_of``, read from its dunning actions:
    ``code|currency|sorted item numbers|overdue total`` (as the plain side writes its lines)."""
    from sqlalchemy import select

    from credit.db.engine import make_engine
    from credit.db.models import Customer, DunningAction

    engine = make_engine(url)
    with engine.connect() as conn:
        query = (
            select(Customer.code, DunningAction.currency, DunningAction.invoice_numbers,
                   DunningAction.overdue_total)
            .join(Customer, Customer.id == DunningAction.customer_id)  # type: ignore[arg-type]
            .where(DunningAction.as_of == as_of)
        )  # fmt: skip
        lines = [f"{code}|{cur}|{','.join(sorted(numbers))}|{Decimal(total):.2f}"
                 for code, cur, numbers, total in conn.execute(query)]  # fmt: skip
    engine.dispose()
    return lines


def flow(url: str, as_of: date, outbox: Path) -> int:
    """End to end through ``credit collections run`` (a subprocess of this side's process)."""
    env = {**os.environ, **BENCH_COMPANY, "CREDIT_DATABASE_URL": url,
           "CREDIT_OUTBOX_DIR": str(outbox)}  # fmt: skip
    env.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    command = shutil.which("credit", path=str(Path(sys.executable).parent)) or "credit"
    proc = subprocess.run([command, "collections", "run", "--as-of", as_of.isoformat(), "--json"],
                          capture_output=True, text=True, check=False, env=env)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"credit collections run failed:\n{proc.stderr[-3000:]}")
    return int(json.loads(proc.stdout)["counts"].get("sent", 0))


def _side(args: argparse.Namespace) -> None:
    outbox = Path(args.outbox)
    started = time.monotonic()
    lines: list[str] | None = None
    if args.side == "bare":
        notices, _ = bare(args.database_url, args.as_of)
    elif args.side == "plain":
        from bench import collections_plain

        done = collections_plain.run(args.database_url, args.as_of, outbox, BENCH_COMPANY)
        notices, lines = done["notices"], done["lines"]
    else:
        notices = flow(args.database_url, args.as_of, outbox)
    seconds = time.monotonic() - started
    # The peak of this process and of the CLI it ran (the flow side).
    rss_mb = max(resource.getrusage(who).ru_maxrss
                 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024  # fmt: skip
    files = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
    # Not timed: a digest of every dunning notice's key, subject, text and HTML; and what each
    # customer was told (the flow's from its dunning actions).
    if lines is None and args.side == "flow":
        lines = _flow_lines(args.database_url, args.as_of)
    from bench.collections_plain import digest

    print(json.dumps({"side": args.side, "seconds": round(seconds, 2), "notices": notices,
                      "rss_mb": round(rss_mb), "files": files,
                      "digest": _digest(args.database_url),
                      "told": digest(lines) if lines is not None else None,
                      "lines": sorted(lines) if lines is not None else None}))  # fmt: skip


def _differences(plain: list[str], flow: list[str], shown: int = 5) -> list[str]:
    """The first lines one side has and the other has not, by customer and currency."""
    a = {line.rsplit("|", 2)[0]: line for line in plain}
    b = {line.rsplit("|", 2)[0]: line for line in flow}
    out = []
    for who in sorted(set(a) | set(b)):
        if a.get(who) != b.get(who):
            out.append(
                f"  plain: {a.get(who, '(no notice)')}\n  flow:  {b.get(who, '(no notice)')}"
            )
            if len(out) >= shown:
                break
    return out


SIDES = ("plain", "bare", "flow")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 12, 1))
    parser.add_argument("--sides", default=",".join(SIDES),
                        help="the sides to run, comma separated (plain,bare,flow)")  # fmt: skip
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--outbox", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        _side(args)
        return
    sides = [s for s in SIDES if s in args.sides.split(",")]
    results = run_sides(
        "bench.collections",
        args.database_url,
        sides,
        lambda side, tmp: [
            "--as-of",
            args.as_of.isoformat(),
            "--outbox",
            str(tmp / f"outbox-{side}"),
        ],
    )
    print(
        f"{'side':6} {'seconds':>9} {'notices':>8} {'.eml':>7} {'peak RSS MB':>12} {'ms/notice':>10}"
    )
    for r in results.values():
        per = 1000 * r["seconds"] / r["notices"] if r["notices"] else 0.0
        print(f"{r['side']:6} {r['seconds']:9.2f} {r['notices']:8d} {r['files']:7d} "
              f"{r['rss_mb']:12d} {per:10.2f}")  # fmt: skip
    f = results.get("flow")
    if f is None:
        return
    for other in ("plain", "bare"):
        if other in results:
            print(f"ratio flow / {other}: {f['seconds'] / results[other]['seconds']:.2f}x")
    if "plain" in results:
        p = results["plain"]
        same = p["told"] == f["told"]
        print(f"plain and flow told each customer the same (customer, currency, items, total): "
              f"{same} ({len(p['lines'])} and {len(f['lines'])} notices)")  # fmt: skip
        if not same:
            print("first differences:")
            print("\n".join(_differences(p["lines"], f["lines"])))
    if "bare" in results:
        print(f"bare and flow wrote the same notices (key, subject, text, HTML): "
              f"{results['bare']['digest'] == f['digest']}")  # fmt: skip


if __name__ == "__main__":
    main()
