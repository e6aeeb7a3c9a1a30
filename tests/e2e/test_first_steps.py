"""What a new user hit first (issue 15), each at the level they met it: real `credit` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from credit.app import App
from credit.db.models import CreditLine
from credit.settings import Settings
from tests.conftest import SAMPLE
from tests.e2e.conftest import CREDIT
from tests.integration.test_lifecycle_services import DAY, decide, review

SAMPLE_FILES = ("customers", "financials", "invoices", "payments")


def _app(cli) -> App:
    return App(Settings.load(env_file=None, environ=cli.env))


def test_init_twice_leaves_an_up_to_date_database_as_it_is(cli):
    first = cli("init")
    assert "schema upgraded to" in first.stdout and "published policy version 1" in first.stdout
    again = cli("init")  # waited 30 s on its own write lock, then "database is locked"
    assert "already up to date" in again.stdout and "published policy is version 1" in again.stdout
    assert "locked" not in again.stderr


def test_init_upgrades_a_database_of_an_older_version(cli):
    from credit.db import migrate

    cli("init")
    a = _app(cli)
    head = migrate.head_revision()
    migrate.downgrade(a.engine, "0006")
    a.engine.dispose()
    upgraded = cli("init")
    assert f"schema upgraded to {head}" in upgraded.stdout


def test_policy_show_prints_every_section_of_the_shipped_and_a_newer_version(cli):
    cli("init")
    shown = cli("policy", "show")  # KeyError: 'days_overdue' after two tables
    assert "Dunning schedule" in shown.stdout
    assert "1 day after the due date" in shown.stdout
    assert "14 days after the previous level" in shown.stdout
    assert "EUR 50,000.00" in shown.stdout  # the authority matrix, formatted
    assert "Risk effects on the rating" in shown.stdout and "guarantee" in shown.stdout
    from credit import services

    a = _app(cli)
    services.propose_policy(
        a,
        path=SAMPLE / "policy_v2.yaml",
        by="carla.manager",
        reason="test",
        as_of=date(2026, 12, 1),
    )
    assert "version 2 (in approval)" in cli("policy", "show", "--version", "2").stdout
    assert (
        "no policy version 7 (versions: 1, 2)"
        in cli("policy", "show", "--version", "7", expect=2).stderr
    )


def test_an_overdue_review_with_research_waiting_is_listed_as_in_progress(cli, sample_ledger):
    from credit import services

    sample_ledger(cli, SAMPLE_FILES)
    a = _app(cli)
    rid = review(a, "C-1003", "30000", by="fiona.director")  # as of 2026-10-01
    decide(a, rid, "carla.manager")
    services.publish_request(a, request_id=rid, as_of=DAY)
    with a.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
        line.next_review_on = date(2027, 12, 6)
        uow.session.add(line)
        uow.commit()
    # An earlier review was started and waits for the analyst's qualitative rating.
    started = services.collect_customer_data(
        a,
        customer_code="C-1003",
        as_of=date(2027, 11, 20),
        requested_by="ben.manager",
        review_key="manual:C-1003:again",
        analyst="junior.analyst",
    )
    services.score_assessment(a, assessment_id=started["assessment_id"])
    due = cli.json("reviews", "due", "--as-of", "2028-01-10")  # was []
    assert [d["customer"] for d in due] == ["C-1003"]
    assert due[0]["in_progress"] == {
        "what": f"assessment {started['assessment_id']}",
        "since": "2027-11-20",
        "waiting_for": "qualitative rating by junior.analyst",
    }
    table = cli("reviews", "due", "--as-of", "2028-01-10").stdout
    assert "in progress" in table and "junior.analyst" in table


def test_people_are_named_with_as_and_must_be_in_the_directory(cli, sample_ledger):
    sample_ledger(cli, SAMPLE_FILES)
    unknown = cli(
        "dispute", "open", "INV-1009-OPEN1", "--reason", "short", "--as", "nobody.at.all", expect=2
    )
    assert "'nobody.at.all' is not in the approver directory" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    # --by stays an alias of --as where commands had it.
    cli("dispute", "open", "INV-1009-OPEN1", "--reason", "short shipment", "--by", "cora.collector")
    # Resolving names who resolves, like every other command (it defaulted to the login).
    missing = cli("dispute", "resolve", "INV-1009-OPEN1", "--note", "credit note CN-12", expect=2)
    assert "Missing option '--as'" in missing.stderr
    cli("dispute", "resolve", "INV-1009-OPEN1", "--as", "cora.collector", "--note", "CN-12")
    refused = cli(
        "feedback", "C-1003", "--topic", "terms", "--text", "x", "--as", "mallory", expect=2
    )
    assert "'mallory' is not in the approver directory" in refused.stderr
    refused = cli("import", "fx-rates", str(SAMPLE / "fx_rates.csv"), "--as", "mallory", expect=2)
    assert "'mallory' is not in the approver directory" in refused.stderr


def test_a_promise_names_its_date_and_may_not_exceed_what_is_open(cli, sample_ledger):
    sample_ledger(cli, SAMPLE_FILES)
    owed = cli.json("customers", "show", "C-1007", "--as-of", "2026-12-01")["exposure"]["EUR"]
    too_much = cli(
        "promise", "C-1007", "--amount", "99999", "--date", "2026-12-10",
        "--as", "cora.collector", "--as-of", "2026-12-01", expect=2,
    )  # fmt: skip
    assert f"C-1007 owes EUR {Decimal(owed):,.2f} in all" in too_much.stderr
    assert "a promise of EUR 99,999.00 is more than that" in too_much.stderr
    old_flag = cli(
        "promise", "C-1007", "--amount", "100", "--by", "2026-12-10",
        "--as", "cora.collector", expect=2,
    )  # fmt: skip
    assert "No such option: --by" in old_flag.stderr
    done = cli.json(
        "promise", "C-1007", "--amount", owed, "--date", "2026-12-10",
        "--as", "cora.collector", "--as-of", "2026-12-01",
    )  # fmt: skip
    assert done["promised_for"] == "2026-12-10"


def test_an_unexpected_error_is_one_line_naming_the_log_with_the_traceback(cli):
    # The product's own error handling around a command that fails in a way nobody foresaw.
    code = (
        "import sys\n"
        "import credit.cli.customers as c\n"
        "import credit.console\n"
        "def broken():\n"
        "    raise KeyError('days_overdue')\n"
        "c.get_app = broken\n"
        "sys.argv = ['credit', 'customers', 'list']\n"
        "credit.console.main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cli.path, env=cli.env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    [line] = [x for x in proc.stderr.splitlines() if x.strip()]
    assert "unexpected error (KeyError: 'days_overdue')" in line
    log = cli.path / "var" / "log" / "credit-errors.log"
    assert str(log) in " ".join(proc.stderr.split())
    assert "Traceback" in log.read_text() and "credit customers list" in log.read_text()


def test_a_damaged_database_file_is_named_in_one_line(cli):
    (cli.path / "credit.db").write_bytes(b"this is not a database" * 10)
    proc = cli("customers", "list", expect=2)
    assert "database error: file is not a database" in proc.stderr
    assert "Traceback" not in proc.stderr


def _interrupt(cli, args: list[str], after: float) -> subprocess.CompletedProcess:
    """Ctrl-C as a terminal sends it: SIGINT to the command's whole process group."""
    proc = subprocess.Popen(
        [CREDIT, *args], cwd=cli.path, env=cli.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    out, errors = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, errors)


def test_ctrl_c_ends_a_command_with_one_line_and_no_traceback(cli, sample_ledger):
    sample_ledger(cli, SAMPLE_FILES)
    # While the command is still loading (it printed a traceback of the imports) ...
    early = _interrupt(cli, ["customers", "list"], after=0.05)
    assert early.returncode == 130, early
    assert "Traceback" not in early.stderr + early.stdout
    assert "interrupted" in early.stderr
    # ... and in the middle of a collections run (held after it chose its customers).
    proc = subprocess.Popen(
        [CREDIT, "collections", "run", "--as-of", "2026-12-01"], cwd=cli.path,
        env={**cli.env, "CREDIT_STALL_AT": "collections.selected"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    while line and "stalled at collections.selected" not in line:
        line = proc.stderr.readline()
    assert line, "the run never reached its stall point"
    os.killpg(proc.pid, signal.SIGINT)
    out, errors = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, errors)
    assert "Traceback" not in out + errors and "interrupted" in errors
    assert cli.json("notices", "list") == []  # stopped before it wrote anything


@pytest.mark.slow  # starts a Prefect server of its own (about ten seconds)
def test_ctrl_c_stops_credit_serve_and_the_prefect_server_it_started(cli, tmp_path):
    """In local mode a terminal's Ctrl-C also stopped Prefect's temporary server: serve then spent
    a minute retrying it and printed tracebacks."""
    import threading
    import urllib.request

    cli("init")
    env = {k: v for k, v in cli.env.items() if k != "PREFECT_API_URL"}  # no server: local mode
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    proc = subprocess.Popen(
        [CREDIT, "serve"], cwd=cli.path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    seen: list[str] = []
    threading.Thread(target=lambda: seen.extend(proc.stdout or []), daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "deployments are being served" not in "".join(seen):
        assert proc.poll() is None, "".join(seen)
        time.sleep(0.5)
    [ui] = [line.split(" on ")[1].split(";")[0] for line in seen if "Prefect server" in line]
    os.killpg(proc.pid, signal.SIGINT)
    started = time.monotonic()
    proc.wait(timeout=60)
    stopped_in = time.monotonic() - started
    out = "".join(seen)
    assert proc.returncode == 0 and "Traceback" not in out, out
    assert "credit serve stopped" in out
    print(f"credit serve stopped {stopped_in:.1f} s after Ctrl-C")
    try:  # the server it started went with it
        urllib.request.urlopen(f"{ui}/api/health", timeout=2)
        raise AssertionError(f"the Prefect server at {ui} still answers")
    except OSError:
        pass


def test_a_live_run_or_a_dispute_dated_in_the_future_is_refused_and_a_dry_run_is_not(
    cli, sample_ledger
):
    """A mistyped year duns invoices not yet overdue and then refuses every run until that day."""
    sample_ledger(cli, SAMPLE_FILES)
    future = cli("collections", "run", "--as-of", "2099-01-01", expect=2)
    assert "a collections run as of 2099-01-01 is in the future" in future.stderr
    assert cli.json("notices", "list") == []
    refused = cli("dispute", "open", "INV-1009-OPEN1", "--reason", "x", "--as", "cora.collector",
                  "--as-of", "2099-01-01", expect=2)  # fmt: skip
    assert "a dispute dated 2099-01-01 is in the future" in refused.stderr
    looked = cli.json("collections", "run", "--as-of", "2099-01-01", "--dry-run")
    assert looked["actions"] and cli.json("notices", "list") == []
