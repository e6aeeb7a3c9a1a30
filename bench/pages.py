"""How fast the workspace's pages answer on a large portfolio, against an honest bound.

    python -m bench.portfolio --customers 100000 --invoices 1000000 --seed 7 \\
        --database-url sqlite:///var/bench-pages.db
    python -m bench.pages --database-url sqlite:///var/bench-pages.db [--samples 40] [--cases 3000]

The generated portfolio has no collection cases: the first run opens ``--cases`` of them (for
customers with overdue invoices drawn at random, as handovers fall on big and small customers
alike; a third assigned to cora.collector) and
gives carla.manager and cora.collector accounts. Then the real web app (the workspace's ASGI app
under uvicorn on loopback, as `credit serve` serves it) is asked over HTTP, signed in, for: the
manager's home page, a customer search by name, by code and by tax id, a customer's file, the
collector's worklist and the portfolio dashboard; ``--samples`` times each, after a warm-up; then
the worklist and the dashboard on their first view after a change (a sign-in: an audit event),
when they answer with what they kept while the new figures are computed in the background.

The bound is a plain program doing the same reads with the database driver alone (sqlite3 or
psycopg, no ORM, no web): the rows a page shows (the first 50 matches of a search, a customer
with their open invoices, line and latest assessment, the first 50 open cases with their
invoices, the aging of all open invoices). It prints median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

PASSWORD = "bench password 2026"
SECRET = "bench-web-secret-not-for-production-0123456789"
AS_OF = date(2027, 3, 1)


def _prepare(url: str, cases: int) -> None:
    from sqlalchemy import func, select

    from credit.app import App
    from credit.db.models import CollectionCase, UserAccount
    from credit.services import accounts
    from credit.settings import Settings

    app = App(Settings.load(environ={"CREDIT_DATABASE_URL": url, "CREDIT_WEB_SECRET": SECRET}))
    with app.uow(read_only=True) as uow:
        known = set(uow.session.execute(select(UserAccount.username)).scalars())
        opened = uow.session.execute(select(func.count()).select_from(CollectionCase)).scalar()
    for user in ("carla.manager", "cora.collector"):
        if user not in known:
            accounts.add_user(app, username=user, password=PASSWORD, by="bench")
    if opened:
        return
    with app.engine.begin() as conn:
        _open_cases(conn, cases)
        if app.engine.dialect.name == "postgresql":  # statistics, as autovacuum would keep them
            conn.exec_driver_sql("ANALYZE")
    app.engine.dispose()


def _open_cases(conn: Any, cases: int) -> None:
    from sqlalchemy import func, insert, select

    from credit.db.models import CollectionCase, Invoice

    overdue = conn.execute(
        select(Invoice.customer_id, Invoice.currency, func.count())
        .where(Invoice.due_date < AS_OF)
        .group_by(Invoice.customer_id, Invoice.currency)
        .order_by(Invoice.customer_id, Invoice.currency)
    ).all()
    worst = random.Random(7).sample(overdue, min(cases, len(overdue)))
    rows = [
        {
            "customer_id": cid,
            "currency": cur,
            "episode": 1,
            "reason": "handover" if i % 2 else "call",
            "level": 4 if i % 2 else 2,
            "opened_on": AS_OF,
            "status": "open",
            "collector": "cora.collector" if i % 3 == 0 else None,
        }
        for i, (cid, cur, _n) in enumerate(worst)
    ]
    conn.execute(insert(CollectionCase), rows)


def _serve(url: str) -> tuple[str, Any]:
    import socket

    import uvicorn

    from credit.app import App
    from credit.settings import Settings
    from credit.web import create_app

    app = App(Settings.load(environ={"CREDIT_DATABASE_URL": url, "CREDIT_WEB_SECRET": SECRET}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(app, today=lambda: AS_OF), port=port, log_level="warning", log_config=None
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _signed_in(base: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    page = c.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    answer = c.post("/signin", data={"username": user, "password": PASSWORD, "csrf": token[1]})
    assert answer.status_code == 303, answer.text[:300]
    return c


def _time(call: Callable[[], Any], samples: int) -> list[float]:
    for _ in range(3):
        call()
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _get(client: httpx.Client, path: Callable[[], str]) -> Callable[[], None]:
    def call() -> None:
        answer = client.get(path())
        assert answer.status_code == 200, (answer.request.url, answer.status_code)

    return call


class Plain:
    """The same reads with the database driver alone."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite"):
            import sqlite3

            self.conn: Any = sqlite3.connect(url.split("///", 1)[1])
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
            self.mark = "%s"

    def rows(self, sql: str, *args: Any) -> list[Any]:
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.mark), args)
        return list(cur.fetchall())

    def search(self, q: str) -> None:
        self.rows(
            'SELECT c.code, c.name, c.country, c.currency, l.rating, l."limit" '
            "FROM customer c LEFT JOIN credit_line l ON l.customer_id = c.id AND "
            "l.status = 'active' WHERE c.code = ? OR c.tax_id = ? OR lower(c.name) LIKE ? "
            "ORDER BY c.code LIMIT 50",
            q,
            q,
            f"%{q.lower()}%",
        )

    def customer_file(self, code: str) -> None:
        [(cid,)] = self.rows("SELECT id FROM customer WHERE code = ?", code)
        self.rows("SELECT * FROM customer WHERE id = ?", cid)
        self.rows("SELECT * FROM invoice WHERE customer_id = ?", cid)
        self.rows("SELECT * FROM payment WHERE customer_id = ?", cid)
        self.rows("SELECT * FROM credit_line WHERE customer_id = ?", cid)
        self.rows(
            "SELECT * FROM credit_assessment WHERE customer_id = ? ORDER BY id DESC LIMIT 5", cid
        )

    def worklist(self) -> None:
        """Rank every open case by its overdue amount and age (invoices only: payments and
        credit notes left out, so less work than the page's), keep the first 50."""
        ranked = self.rows(
            "SELECT k.id, c.code, c.name, sum(i.amount), min(i.due_date) FROM collection_case k "
            "JOIN customer c ON c.id = k.customer_id JOIN invoice i ON i.customer_id = "
            "k.customer_id AND i.currency = k.currency AND i.due_date < ? "
            "WHERE k.status = 'open' GROUP BY k.id, c.code, c.name",
            AS_OF.isoformat(),
        )
        ranked.sort(key=lambda r: -float(r[3]) * (AS_OF - date.fromisoformat(str(r[4]))).days)
        del ranked[50:]

    def dashboard(self) -> None:
        self.rows(
            "SELECT currency, CASE WHEN due_date >= ? THEN 0 WHEN due_date >= ? THEN 1 ELSE 2 END, "
            "count(*), sum(amount) FROM invoice GROUP BY 1, 2",
            AS_OF.isoformat(),
            date(AS_OF.year, AS_OF.month - 1 or 1, 1).isoformat(),
        )
        self.rows(
            "SELECT customer_id, sum(amount) FROM invoice GROUP BY customer_id "
            "ORDER BY 2 DESC LIMIT 10"
        )


def _line(label: str, values: list[float], bound: list[float] | None) -> str:
    values = sorted(values)
    p95 = values[max(0, round(0.95 * len(values)) - 1)]
    text = f"  {label:<34} {statistics.median(values):8.1f} {p95:8.1f}"
    if bound:
        bound = sorted(bound)
        text += f"   bound {statistics.median(bound):7.1f} {bound[max(0, round(0.95 * len(bound)) - 1)]:7.1f}"
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    _prepare(args.database_url, args.cases)
    base, server = _serve(args.database_url)
    plain = Plain(args.database_url)
    customers = int(plain.rows("SELECT count(*) FROM customer")[0][0])
    codes = [r[0] for r in plain.rows("SELECT code FROM customer")]
    taxes = [r[0] for r in plain.rows("SELECT tax_id FROM customer WHERE tax_id IS NOT NULL")]
    invoices = int(plain.rows("SELECT count(*) FROM invoice")[0][0])
    carla, cora = _signed_in(base, "carla.manager"), _signed_in(base, "cora.collector")
    n = args.samples

    def name() -> str:
        return f"Customer {rng.randrange(1, customers)}"

    pages: list[tuple[str, Callable[[], None], Callable[[], None] | None]] = [
        ("home (manager)", _get(carla, lambda: "/"), None),
        ("search by name", _get(carla, lambda: f"/customers?q={name()}"),
         lambda: plain.search(name())),
        ("search by code", _get(carla, lambda: f"/customers?q={rng.choice(codes)}"),
         lambda: plain.search(rng.choice(codes))),
        ("search by tax id", _get(carla, lambda: f"/customers?q={rng.choice(taxes)}"),
         lambda: plain.search(rng.choice(taxes))),
        ("customer list, page 1", _get(carla, lambda: "/customers"), lambda: plain.search("")),
        ("customer file", _get(carla, lambda: f"/customers/{rng.choice(codes)}"),
         lambda: plain.customer_file(rng.choice(codes))),
        ("worklist (collector)", _get(cora, lambda: "/worklist"), plain.worklist),
        ("dashboard", _get(carla, lambda: "/dashboard"), plain.dashboard),
    ]  # fmt: skip
    backend = args.database_url.split(":", 1)[0]
    print(
        f"Workspace pages on {backend}: {customers:,} customers, {invoices:,} invoices; "
        f"{n} requests each (ms: median, 95th percentile)"
    )
    for label, call, bound in pages:
        values = _time(call, n)
        print(_line(label, values, _time(bound, n) if bound else None), flush=True)
    for label, user, path in (
        ("worklist, first view after a change", "cora.collector", "/worklist"),
        ("dashboard, first view after a change", "carla.manager", "/dashboard"),
    ):
        cold = []
        for _ in range(max(3, n // 4)):  # a sign-in is an audit event: what was kept is stale
            fresh = _signed_in(base, user)
            started = time.perf_counter()
            _get(fresh, lambda path=path: path)()
            cold.append((time.perf_counter() - started) * 1000)
            fresh.close()
            time.sleep(4)  # the background refresh finishes before the next change
        print(_line(label, cold, None), flush=True)
    server.should_exit = True


if __name__ == "__main__":
    main()
