"""Collections from the command line: two runs for the same date at the same time, the desk."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date

import pytest

from tests.conftest import SAMPLE, TEST_COMPANY, sample_payments_until, scratch_postgres
from tests.e2e.conftest import CREDIT


def _setup(cli, sample_ledger) -> None:
    sample_ledger(cli, ("customers", "invoices"))
    _payments(cli, "2026-10-01")


def _payments(cli, day: str) -> None:
    """The payments made by ``day`` come in (a live run refuses a ledger with later payments)."""
    cli("import", "payments", str(sample_payments_until(date.fromisoformat(day), cli.path)))


def _race(cli, database_url: str, processes: int = 1) -> None:
    """Three `credit collections run` for the same date, started together, on one database
    (with ``processes`` > 1 each run uses that many processes of the machine, as a large run
    does by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(
        CREDIT_DATABASE_URL=database_url,
        CREDIT_OUTBOX_DIR=str(cli.path / "outbox"),
        PREFECT_API_URL=cli.env["PREFECT_API_URL"],
        PREFECT_LOGGING_LEVEL="WARNING",
        **TEST_COMPANY,
    )
    if processes > 1:
        env.update(
            CREDIT_COLLECTIONS_PROCESSES=str(processes), CREDIT_COLLECTIONS_PARALLEL_FROM="1"
        )

    def credit(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [CREDIT, *args], cwd=cli.path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def done(proc: subprocess.Popen) -> str:
        out, errors = proc.communicate(timeout=300)
        assert proc.returncode == 0, errors
        return out

    done(credit("init"))
    for kind in ("customers", "invoices"):
        done(credit("import", kind, str(SAMPLE / f"{kind}.csv")))
    done(credit("import", "payments", str(sample_payments_until(date(2026, 10, 15), cli.path))))
    # what two scheduled runs and a credit manager's manual run for the same day do, together
    runs = [credit("collections", "run", "--as-of", "2026-10-15", "--json") for _ in range(3)]
    results = [json.loads(done(proc)) for proc in runs]
    if processes > 1:  # each run's partitions were worked (by its processes or another run's)
        for result in results:
            assert len({p["worker"] for p in result["partitions"]}) >= 1, result
        # Which process claims which partition is the race's: with six customers the first
        # process may take them all before a helper has started (two processes are made to
        # work in tests/faults/test_crash_parallel.py).
    statuses: dict[tuple[str, str], list[str]] = {}
    reasons = []
    for result in results:
        for a in result["actions"]:
            statuses.setdefault((a["customer"], a["currency"]), []).append(a["status"])
            if a["status"] == "already_done":
                reasons.append(a["reason"])
    sent = [k for k, v in statuses.items() if "sent" in v]
    print(
        f"{database_url.split(':')[0]}: 3 runs at once, {len(sent)} customer(s) dunned once, "
        f"{len(reasons)} 'already done' with the reason; {statuses}"
    )
    assert len(sent) >= 5
    for key in sent:  # one run sent it, the others saw it done and say so
        assert sorted(statuses[key]) == ["already_done", "already_done", "sent"], (
            key,
            statuses[key],
        )
    assert all("already taken on 2026-10-15" in r or "taken by another run" in r for r in reasons)
    notices = json.loads(done(credit("notices", "list", "--json")))
    keys = [n["key"] for n in notices if n["kind"].startswith("dunning_")]
    assert len(keys) == len(set(keys)) == len(sent)
    assert len(list((cli.path / "outbox").glob("*.eml"))) == len(notices)  # all e-mail on day 15
    assert {n["status"] for n in notices} == {"sent"}


@pytest.mark.slow
def test_three_runs_for_the_same_date_started_together_send_one_set_of_notices(cli):
    _race(cli, f"sqlite:///{cli.path / 'credit.db'}")


@pytest.mark.slow
def test_three_runs_started_together_on_postgresql_send_one_set_of_notices(cli):
    with scratch_postgres() as url:
        _race(cli, url)


@pytest.mark.slow
def test_three_parallel_runs_started_together_send_one_set_of_notices(cli):
    _race(cli, f"sqlite:///{cli.path / 'credit.db'}", processes=2)


@pytest.mark.slow
def test_three_parallel_runs_started_together_on_postgresql_send_one_set_of_notices(cli):
    with scratch_postgres() as url:
        _race(cli, url, processes=2)


@pytest.mark.slow  # some 15 `credit` processes, several running flows
def test_disputes_promises_and_the_worklist_from_the_command_line(cli, sample_ledger):
    _setup(cli, sample_ledger)
    for day in ("2026-10-01", "2026-10-15", "2026-11-02", "2026-11-16", "2026-11-30"):
        _payments(cli, day)
        cli("collections", "run", "--as-of", day)
    work = cli.json("worklist", "--as-of", "2026-11-30")
    handed = {w["customer"]: w for w in work if w["task"] == "handover"}
    assert set(handed) == {"C-1005", "C-1007", "C-1009"}
    c7 = handed["C-1007"]
    assert c7["last_action"].startswith("handover on 2026-11-30")
    assert c7["promised_date"] is None and c7["oldest_overdue_days"] > 60
    assert c7["next_step"].startswith("contact the customer")

    cli("worklist", "log", "C-1007", "--kind", "call", "--note", "CFO promises payment",
        "--as", "cora.collector", "--as-of", "2026-12-01")  # fmt: skip
    promised = cli.json("promise", "C-1007", "--amount", c7["amount"], "--date", "2026-12-10",
                        "--as", "cora.collector", "--as-of", "2026-12-01")  # fmt: skip
    assert promised["promised_for"] == "2026-12-10"
    [row] = [w for w in cli.json("worklist", "--as-of", "2026-12-01") if w["customer"] == "C-1007"]
    assert row["promised_date"] == "2026-12-10" and row["last_action"].startswith("call by cora")
    assert row["next_step"].startswith("wait for")

    bad = cli("dispute", "open", "NO-SUCH", "--reason", "x", "--by", "cora.collector", expect=2)
    assert "no invoice with number 'NO-SUCH'" in bad.stderr and "Traceback" not in bad.stderr
    [inv] = [i for i in c7_invoices(cli) if i]
    cli("dispute", "open", inv, "--reason", "goods returned", "--by", "cora.collector",
        "--as-of", "2026-12-01")  # fmt: skip
    again = cli("dispute", "open", inv, "--reason", "again", "--by", "cora.collector", expect=2)
    assert "already disputed since 2026-12-01" in again.stderr
    cli("dispute", "resolve", inv, "--by", "cora.collector", "--note", "credit note CN-7",
        "--as-of", "2026-12-02")  # fmt: skip
    events = {e["action"] for e in cli.json("audit", "list", "--entity", inv)}
    assert {"dispute.opened", "dispute.resolved"} <= events


def c7_invoices(cli) -> list[str]:
    run = cli.json("collections", "run", "--as-of", "2026-12-01", "--dry-run")
    return [n for a in run["actions"] if a["customer"] == "C-1007" for n in a["invoices"][:1]]


def _app(cli):
    from credit.app import App
    from credit.settings import Settings

    return App(Settings.load(env_file=None, environ=cli.env))


def _absurd_invoices(cli, customer: str) -> None:
    """Two USD invoices of 60 trillion each, written past the importer and the column type (as
    data older than today's import limits would be): each fits, their sum does not."""
    import sqlite3

    db = sqlite3.connect(cli.path / "credit.db")
    with db:
        [(cid,)] = db.execute("SELECT id FROM customer WHERE code = ?", (customer,))
        for n in (1, 2):
            db.execute(
                "INSERT INTO invoice (customer_id, number, issue_date, due_date, amount, currency,"
                " kind, created_at) VALUES (?, ?, '2026-08-01', '2026-08-31', ?, 'USD', "
                "'invoice', '2026-08-01 00:00:00')",
                (cid, f"INV-ABSURD-{n}", 60_000_000_000_000 * 10_000),  # ten-thousandths
            )
    db.close()


def test_a_customer_that_fails_is_listed_with_its_reason_and_the_others_are_dunned(
    cli, sample_ledger
):
    sample_ledger(cli, ("customers", "invoices"))
    _payments(cli, "2026-11-30")
    _absurd_invoices(cli, "C-1002")

    run = cli("collections", "run", "--as-of", "2026-11-30", expect=1)
    for out in (run.stdout, run.stderr):
        assert "Traceback" not in out and "[SQL" not in out and "parameters" not in out
    # The table: the failing customer with its reason, the others dunned; amounts formatted.
    [failed] = [line for line in run.stdout.splitlines() if "C-1002" in line]
    assert "error: its USD overdue items add up to" in failed
    assert "EUR 9,800.00" in run.stdout and "USD 12,500.00" in run.stdout
    assert "5 customers checked: EUR 2 sent, 1 nothing due; USD 1 sent, 1 failed" in run.stdout
    log = cli.path / "var" / "log" / "credit-errors.log"
    assert " ".join(run.stderr.split()) == (
        "error: 1 customer failed and was left as it was (the result column says why); the full "
        f"error is in {log}"
    )
    logged = log.read_text()
    assert "Traceback" in logged and "C-1002" in logged
    dunned = {n["key"].split(":")[1] for n in cli.json("notices", "list")
              if n["kind"] == "dunning_reminder"}  # fmt: skip
    assert dunned and "C-1002" not in dunned

    again = cli("collections", "run", "--as-of", "2026-11-30", "--json", expect=1)
    result = json.loads(again.stdout)
    assert result["failed"] == 1 and [e["customer"] for e in result["errors"]] == ["C-1002"]
    assert result["errors"][0]["reason"].startswith("its USD overdue items add up to 120,000,")
    assert {a["status"] for a in result["actions"]} == {"already_done", "error"}
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1


def test_the_worklist_shows_amounts_with_separators_and_the_currency(cli, sample_ledger):
    from sqlmodel import select

    from credit.db.models import CollectionCase, Customer

    sample_ledger(cli, ("customers", "invoices"))
    _payments(cli, "2026-11-30")
    app = _app(cli)
    with app.uow() as uow:  # what a handover leaves (the CLI tests above make real ones, slowly)
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1007")).one()
        uow.session.add(CollectionCase(customer_id=c.id, currency="EUR", episode=1,
                                       reason="handover", level=5, opened_on=date(2026, 11, 30)))  # fmt: skip
        uow.commit()
    app.engine.dispose()
    [row] = [line for line in cli("worklist", "--as-of", "2026-11-30").stdout.splitlines()
             if "C-1007" in line]  # fmt: skip
    assert "EUR 9,800.00" in row and "9800.00 EUR" not in row


def test_a_back_dated_live_run_is_refused_with_the_reason_and_a_dry_run_is_not(cli, sample_ledger):
    """The issue's case: a run as of 12 November, after C-1003 paid on 20 November, would send a
    reminder for invoices already paid."""
    sample_ledger(cli, ("customers", "invoices"))
    cli("import", "payments", str(SAMPLE / "payments.csv"))  # up to 2026-11-20 (one bounced)
    refused = cli("collections", "run", "--as-of", "2026-11-12", expect=2)
    assert refused.stderr.strip() == (
        "error: payments up to 2026-11-20 are recorded; a run as of 2026-11-12 would ignore "
        "them: run as of 2026-11-20 or later, or inspect that date with a dry run"
    )
    assert refused.stdout == "" and cli.json("notices", "list") == []

    looked = cli.json("collections", "run", "--as-of", "2026-11-12", "--dry-run")
    assert {a["status"] for a in looked["actions"]} >= {"would_send"}
    assert cli.json("notices", "list") == []

    cli("collections", "run", "--as-of", "2026-11-30")
    earlier = cli("collections", "run", "--as-of", "2026-11-20", expect=2)
    assert "a collections run as of 2026-11-30 is already recorded" in earlier.stderr
    rerun = cli.json("collections", "run", "--as-of", "2026-11-30")  # its own date: allowed
    assert {a["status"] for a in rerun["actions"]} == {"already_done"}


@pytest.mark.slow  # starts Prefect's local server (several seconds)
def test_a_run_in_local_mode_shows_real_counts_on_a_terminal_and_is_recorded(
    cli, sample_ledger, tmp_path
):
    """Issue 17: without a Prefect server the command starts Prefect's local server itself, early;
    on a terminal it counts customers, batches and notices; the run is in PREFECT_HOME's database."""
    import pty
    import sqlite3

    sample_ledger(cli, ("customers", "financials", "invoices", "payments"))
    env = {k: v for k, v in cli.env.items() if k != "PREFECT_API_URL"}  # no server: local mode
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), TERM="xterm")
    terminal, side = pty.openpty()
    proc = subprocess.Popen(
        [CREDIT, "collections", "run", "--as-of", "2026-12-06"],
        cwd=cli.path, env=env, stdout=subprocess.PIPE, stderr=side,
    )  # fmt: skip
    os.close(side)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out = proc.communicate(timeout=300)[0].decode()
    os.close(terminal)
    screen = shown.decode(errors="replace")
    assert proc.returncode == 0, out + screen
    assert "6 customers checked" in out
    for counted in ("customers", "batches", "notices"):
        assert counted in screen, screen
    # A credit team's terminal does not get Prefect's usage-data notice (nor send its events).
    assert "anonymous usage data" not in screen, screen
    assert "6/6" in screen and "1/1" in screen  # customers and the one batch, counted as done
    db = sqlite3.connect(tmp_path / "prefect-home" / "prefect.db")
    [(run_id, state)] = db.execute("SELECT id, state_type FROM flow_run").fetchall()
    tasks = db.execute("SELECT name FROM task_run WHERE flow_run_id = ?", (run_id,)).fetchall()
    db.close()
    assert state == "COMPLETED"
    assert {name.rsplit("-", 1)[0] for (name,) in tasks} >= {
        "find-collection-candidates", "dun-customers", "deliver-notices"
    }  # fmt: skip
