"""How long a person waits for a decision command, and how soon the next person's notice is in
the outbox: with `credit serve` running, without it, and the bare database transaction.

    python -m bench.latency [--customers 50] [--inline 3] [--postgres URL]

For each database (SQLite; PostgreSQL with ``--postgres`` or ``CREDIT_TEST_POSTGRES_URL``) it
generates customers with statements and no credit line (``bench.portfolio``), starts
``credit serve --no-web``, and takes each customer through the real commands, one after the
other, as a credit team would: ``credit reviews start`` -> the analyst's notice ->
``credit assess`` -> the first approver's notice -> ``credit approve`` -> (the next approver's
notice -> ``credit approve`` or ``credit reject``, alternately) -> the terms letter or the
rejection. It times every command process (wall clock, from start to exit) and, from the
database's own timestamps, the time from the decision's commit (its follow-up row) to the next
notice in the outbox and to that notice sent (written to the outbox folder: no SMTP here).
Then the service is stopped and ``--inline`` customers go the same way with each command doing
the whole job itself (Prefect's local mode), and the bare decision transaction is timed in
process (``services.record_decision`` with nothing after it), which is the bound: a command can
not answer faster than its transaction plus starting Python.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bench._db import BENCH_COMPANY

AS_OF = date(2026, 12, 1)
REQUESTER, ANALYST = "ben.manager", "mia.analyst"
SETTLE = 15  # seconds between the service coming up and the first command
FACTORS = ["market_position=70", "management=70", "industry_outlook=60", "reputation=70"]


class Journey:
    """One database: the commands a credit team types, timed, with what each one leads to."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        from sqlalchemy import create_engine

        self.url, self.env = url, env
        self.credit = str(Path(sys.executable).with_name("credit"))
        self.db = create_engine(url)
        self.times: dict[str, list[float]] = {}
        self.to_outbox: dict[str, list[float]] = {}
        self.to_sent: dict[str, list[float]] = {}

    def _q(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        with self.db.connect() as conn:
            return list(conn.execute(text(sql), params))

    def _cmd(self, name: str, *args: str) -> None:
        t0 = time.perf_counter()
        done = subprocess.run([self.credit, *args], env=self.env, capture_output=True, text=True)
        self.times.setdefault(name, []).append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"credit {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def _mark(self) -> tuple[int, int]:
        notice = self._q("SELECT coalesce(max(id), 0) FROM notice")[0][0]
        follow = self._q("SELECT coalesce(max(id), 0) FROM follow_up")[0][0]
        return int(notice), int(follow)

    def _wait(self, name: str, mark: tuple[int, int], kinds: tuple[str, ...]) -> None:
        """The first notice of ``kinds`` after ``mark``: its delay after the decision's commit
        (the follow-up row the command committed with it), in the outbox and sent."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = self._q(
                "SELECT n.created_at, n.sent_at, f.created_at FROM notice n, follow_up f "
                "WHERE n.id > :n AND f.id = (SELECT min(id) FROM follow_up WHERE id > :f) "
                "AND n.kind IN (" + ",".join(f"'{k}'" for k in kinds) + ") ORDER BY n.id",
                n=mark[0],
                f=mark[1],
            )
            if rows and rows[0][1] is not None:
                made, sent, decided = (_at(v) for v in rows[0])
                self.to_outbox.setdefault(name, []).append(
                    max(0.0, (made - decided).total_seconds())
                )
                self.to_sent.setdefault(name, []).append(max(0.0, (sent - decided).total_seconds()))
                return
            time.sleep(0.02)
        raise SystemExit(f"{name}: no {'/'.join(kinds)} notice sent within 60 s")

    def breakdown(self) -> dict[str, list[float]]:
        """Per kind of follow-up: from its commit to the service's claim, and its flow run."""
        out: dict[str, list[float]] = {}
        for kind, created, started, finished in self._q(
            "SELECT kind, created_at, started_at, finished_at FROM follow_up "
            "WHERE status = 'done' AND claimed_by LIKE 'service:%' ORDER BY id"
        ):
            begun, made = _at(started), _at(created)
            out.setdefault(f"{kind}: claimed", []).append((begun - made).total_seconds())
            out.setdefault(f"{kind}: flow run", []).append((_at(finished) - begun).total_seconds())
        return dict(sorted(out.items()))

    def _pending_step(self, request_id: int) -> tuple[int, str] | None:
        rows = self._q(
            "SELECT level, approver FROM approval_step WHERE subject = 'credit_request' AND "
            "subject_id = :r AND decision = 'pending' ORDER BY level",
            r=request_id,
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def requested(self, code: str) -> None:
        """Review asked for and rated: its first approval step waits."""
        self.customer(code, reject=False, decide=False)

    def customer(self, code: str, *, reject: bool, decide: bool = True) -> None:
        mark = self._mark()
        self._cmd("reviews start", "reviews", "start", code, "--as", REQUESTER, "--analyst",
                  ANALYST, "--as-of", AS_OF.isoformat())  # fmt: skip
        self._wait("reviews start", mark, ("qualitative_needed",))
        mark = self._mark()
        factors = [arg for f in FACTORS for arg in ("--factor", f)]
        self._cmd("assess", "assess", code, "--as", ANALYST, *factors, "--comment", "bench",
                  "--as-of", AS_OF.isoformat())  # fmt: skip
        self._wait("assess", mark, ("approval_needed",))
        if not decide:
            return
        request_id = int(
            self._q(
                "SELECT r.id FROM credit_request r JOIN customer c ON c.id = r.customer_id "
                "WHERE c.code = :c ORDER BY r.id DESC",
                c=code,
            )[0][0]
        )
        while (step := self._pending_step(request_id)) is not None:
            level, approver = step
            last = self._q(
                "SELECT max(level) FROM approval_step WHERE subject = 'credit_request' AND "
                "subject_id = :r",
                r=request_id,
            )[0][0]
            mark = self._mark()
            if reject and level == last:
                self._cmd("reject", "reject", str(request_id), "--as", approver, "--comment",
                          "bench: prepayment only", "--as-of", AS_OF.isoformat())  # fmt: skip
                self._wait("reject", mark, ("request_rejected",))
                return
            self._cmd("approve", "approve", str(request_id), "--as", approver, "--as-of",
                      AS_OF.isoformat())  # fmt: skip
            kinds = ("terms_letter",) if level == last else ("approval_needed",)
            self._wait("approve (last level)" if level == last else "approve", mark, kinds)


def _at(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=None)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _line(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:34} {'-':>4}"
    return (
        f"  {label:34} {len(values):4d} {statistics.median(values):8.2f} {_p95(values):8.2f} "
        f"{max(values):8.2f}"
    )


def _serve(env: dict[str, str], journey: Journey) -> subprocess.Popen[bytes]:
    log = open(Path(env["CREDIT_LOG_DIR"]) / "serve.out", "wb")  # noqa: SIM115  (the service's whole life)
    service = subprocess.Popen(
        [journey.credit, "serve", "--no-web"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise SystemExit(f"credit serve stopped; see {log.name}")
        alive = journey._q("SELECT count(*) FROM service_instance WHERE stopped_at IS NULL")[0][0]
        if alive:
            # Steady state: serve() registers the deployments and the Prefect server plans their
            # scheduled runs in the first seconds; a team's day starts after that.
            time.sleep(SETTLE)
            return service
        time.sleep(0.5)
    raise SystemExit("credit serve did not come up within 180 s")


def bare_transactions(url: str, env: dict[str, str], codes: list[str]) -> list[float]:
    """The decision alone: ``services.record_decision`` in this process on requests waiting for
    their first approver (their follow-ups are left for nobody)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("CREDIT_")})
    from credit import services
    from credit.app import App
    from credit.settings import Settings

    app = App(Settings.load())
    journey = Journey(url, env)
    times = []
    for code in codes:
        rows = journey._q(
            "SELECT s.subject_id, s.approver FROM approval_step s JOIN credit_request r ON "
            "r.id = s.subject_id JOIN customer c ON c.id = r.customer_id WHERE c.code = :c AND "
            "s.decision = 'pending' ORDER BY s.level",
            c=code,
        )
        if not rows:
            continue
        t0 = time.perf_counter()
        services.record_decision(
            app, subject=services.SUBJECT_REQUEST, subject_id=int(rows[0][0]),
            username=str(rows[0][1]), approve=True, comment=None, as_of=AS_OF,
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
    return times


def collections_inline(url: str, env: dict[str, str], tmp: str) -> dict[str, list[float]]:
    """`credit collections run` with no service: with nothing due (a fresh database with the
    customers and no invoices), and a dry run over the generated ledger (the flow runs)."""
    journey = Journey(url, env)
    empty = {**env, "CREDIT_DATABASE_URL": f"sqlite:///{tmp}/empty.db"}
    sample = Path(__file__).resolve().parent.parent / "sample_data" / "customers.csv"
    for args in (["init"], ["import", "customers", str(sample)]):
        subprocess.run([journey.credit, *args], env=empty, check=True, capture_output=True)
    times: dict[str, list[float]] = {}
    for name, run_env, extra in (
        ("collections run, nothing due", empty, []),
        ("collections run --dry-run, ledger", env, ["--dry-run"]),
    ):
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(
                [journey.credit, "collections", "run", "--as-of", AS_OF.isoformat(), *extra],
                env=run_env, check=True, capture_output=True,
            )  # fmt: skip
            times.setdefault(name, []).append(time.perf_counter() - t0)
    return times


def run(label: str, url: str, args: argparse.Namespace) -> None:
    from bench.portfolio import generate

    total = args.customers + args.inline + args.bare
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        env = {
            **{k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
            **BENCH_COMPANY,
            "CREDIT_DATABASE_URL": url,
            "CREDIT_OUTBOX_DIR": f"{tmp}/outbox",
            "CREDIT_LOG_DIR": f"{tmp}/log",
            "CREDIT_SMTP_HOST": "",
            "PREFECT_HOME": f"{tmp}/prefect",
            "CREDIT_WEB_SECRET": "bench-secret-not-for-production-0123456789",
        }
        Path(env["CREDIT_LOG_DIR"]).mkdir(parents=True)
        os.environ["CREDIT_DATABASE_URL"] = url
        generate(url, customers=total, invoices=total * 3, seed=11, as_of=AS_OF, lines_share=0)
        codes = [f"B-{i + 1:06d}" for i in range(total)]
        served, inline = Journey(url, env), Journey(url, env)
        service = _serve(env, served)
        try:
            for n, code in enumerate(codes[: args.customers]):
                served.customer(code, reject=n % 2 == 1)
                print(f"\r  {label}: served {n + 1}/{args.customers}", end="", file=sys.stderr)
            for code in codes[args.customers + args.inline :]:
                Journey(url, env).requested(code)  # waiting for the bare decisions below
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=120)
        print(file=sys.stderr)
        for n, code in enumerate(codes[args.customers : args.customers + args.inline]):
            inline.customer(code, reject=n % 2 == 1)
            print(f"\r  {label}: inline {n + 1}/{args.inline}", end="", file=sys.stderr)
        print(file=sys.stderr)
        bare = bare_transactions(url, env, codes[args.customers + args.inline :])
        handoff = served.breakdown()
        runs = collections_inline(url, env, tmp)
    print(f"\n{label}: {'':27} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}  (seconds)")
    for title, journey in (("with credit serve", served), ("inline (no service)", inline)):
        print(f" {title}: command wall time")
        for name, values in journey.times.items():
            print(_line(name, values))
        print(f" {title}: decision committed -> next notice in the outbox / sent")
        for name, values in journey.to_outbox.items():
            print(_line(f"{name}: in outbox", values))
            print(_line(f"{name}: sent", journey.to_sent[name]))
    print(" with credit serve: a follow-up recorded -> claimed by the service / its flow run done")
    for name, values in handoff.items():
        print(_line(name, values))
    print(" bound: the decision's transaction alone, in process")
    print(_line("services.record_decision", bare))
    print(" inline (no service): collections runs")
    for name, values in runs.items():
        print(_line(name, values))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50, help="taken through with a service")
    parser.add_argument("--inline", type=int, default=3, help="taken through without one")
    parser.add_argument("--bare", type=int, default=10, help="decisions timed in process")
    parser.add_argument("--postgres", default=os.environ.get("CREDIT_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--keep", help="keep the SQLite run's files (database, logs) in this folder"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{args.keep or tmp}/latency.db", args)
    if args.postgres:
        from bench._db import scratch_postgres

        with scratch_postgres(args.postgres) as url:
            run("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
