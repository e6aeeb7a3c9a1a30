"""Every `credit` command as a user meets it: its --help, its simplest valid call and its error
paths, as real processes. A new command without an entry here fails the coverage checks, and no
error path may print a Python traceback."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
import typer

from credit.app import App
from credit.settings import Settings
from tests.conftest import SAMPLE, copy_database
from tests.e2e.conftest import CREDIT, credit_in
from tests.e2e.readme import NEVER, commands_under
from tests.e2e.test_readme import README

DAY = "2026-12-01"
QUALITATIVE = [
    "--factor", "market_position=60", "--factor", "management=60",
    "--factor", "industry_outlook=50", "--factor", "reputation=60",
]  # fmt: skip


def all_commands() -> set[str]:
    """Every command path of the CLI ('collections run', 'worklist' for a group that runs)."""
    from credit.cli import app

    found: set[str] = set()

    def walk(cmd, path: list[str]) -> None:
        if hasattr(cmd, "commands"):
            if path and getattr(cmd, "invoke_without_command", False):
                found.add(" ".join(path))
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def _path_of(words: list[str], commands: set[str]) -> str | None:
    """The command a `credit ...` call invokes (its longest matching path)."""
    for n in (2, 1):
        if " ".join(words[1 : 1 + n]) in commands:
            return " ".join(words[1 : 1 + n])
    return None


# The README's "Using it" section runs these in order (tests/e2e/test_readme.py).
def readme_commands() -> set[str]:
    commands = all_commands()
    found = set()
    for c in commands_under(README, "## Using it"):
        if c.words[0] == "credit":
            path = _path_of(c.words, commands)
            assert path, f"README line {c.line}: {c.text!r} is not a credit command"
            found.add(path)
    return found


# Commands the README does not run: their simplest valid call here, in this order, on the sample
# ledger with a review waiting (exit codes other than 0 where the command answers with them).
VALID: list[tuple[str, list[str], set[int]]] = [
    ("customers list", ["customers", "list"], {0}),
    ("research cancel", ["research", "cancel", "C-1006", "--as", "ben.manager", "--reason", "t"], {0}),
    ("reject", ["reject", "{request}", "--as", "carla.manager", "--comment", "prepayment only"], {0}),
    ("notices deliver", ["notices", "deliver"], {0}),
    ("notices retry", ["notices", "retry", "{failed}", "--as", "carla.manager", "--reason", "t"], {0}),
    ("service done", ["service", "done", "{task}", "--note", "called", "--as", "sam.sales"], {0}),
    ("policy reject", ["policy", "reject", "2", "--as", "victor.cfo", "--comment", "not now"], {0}),
    ("reviews due", ["reviews", "due", "--as-of", DAY], {0}),
    ("approvals resume", ["approvals", "resume", "{request}"], {0}),
    ("status", ["status"], {0}),
]  # fmt: skip
# Covered by their own tests: the whole demo (tests/e2e/test_demo.py).
ELSEWHERE = {
    "demo": "tests/e2e/test_demo.py",
    "users add": "tests/e2e/test_users_cli.py",
    "users disable": "tests/e2e/test_users_cli.py",
    "users reset-password": "tests/e2e/test_users_cli.py",
    "users list": "tests/e2e/test_users_cli.py",
    "import statement": "tests/e2e/test_payments_cli.py",
    "payments unmatched": "tests/e2e/test_payments_cli.py",
    "payments show": "tests/e2e/test_payments_cli.py",
    "payments match": "tests/e2e/test_payments_cli.py",
    "payments unmatch": "tests/e2e/test_payments_cli.py",
    "customers statement": "tests/integration/test_letters_pdf.py",
    "orders release": "tests/e2e/test_order_control_cli.py",
    "orders exempt": "tests/e2e/test_order_control_cli.py",
    "worklist assign": "tests/e2e/test_team_cli.py",
    "dispute list": "tests/e2e/test_team_cli.py",
    "writeoff propose": "tests/e2e/test_plans_cli.py",
    "writeoff list": "tests/e2e/test_plans_cli.py",
    "writeoff approve": "tests/e2e/test_plans_cli.py",
    "writeoff reject": "tests/e2e/test_plans_cli.py",
    "groups create": "tests/e2e/test_groups_cli.py",
    "groups add": "tests/e2e/test_groups_cli.py",
    "groups remove": "tests/e2e/test_groups_cli.py",
    "groups limit": "tests/e2e/test_groups_cli.py",
    "groups show": "tests/e2e/test_groups_cli.py",
    "groups list": "tests/e2e/test_groups_cli.py",
    "customers profile": "tests/e2e/test_dunning_profiles_cli.py",
    "customers contacts": "tests/e2e/test_contacts_cli.py",
    "import contacts": "tests/e2e/test_contacts_cli.py",
}

# Calls that must be refused: exit code 2, one clear line, no traceback, nothing changed.
BAD: dict[str, list[list[str]]] = {
    "init": [["init", "--as", "nobody.at.all"]],
    "assess": [["assess", "NOPE", "--as", "mia.analyst", *QUALITATIVE, "--comment", "x"],
               ["assess", "C-1001", "--as", "mia.analyst", "--factor", "oops", "--comment", "x"]],
    "approve": [["approve", "999", "--as", "carla.manager"], ["approve", "x", "--as", "carla.manager"]],
    "reject": [["reject", "999", "--as", "carla.manager", "--comment", "no"]],
    "promise": [["promise", "C-1007", "--amount", "ten", "--date", DAY, "--as", "cora.collector"],
                ["promise", "C-1007", "--amount", "10", "--date", "10.12.2026", "--as", "cora.collector"],
                ["promise", "C-1007", "--instalment", "2026-12-10:100", "--as", "cora.collector"]],
    "feedback": [["feedback", "C-1003", "--topic", "price", "--text", "x", "--as", "sam.sales"]],
    "serve": [["serve", "--timezone", "Mars/Olympus"]],
    "web": [["web", "--port", "not-a-port"]],
    "status": [["status", "--bogus"]],
    "demo": [["demo", "--bogus"]],
    "reviews start": [["reviews", "start", "NOPE", "--as", "ben.manager"],
                      ["reviews", "start", "C-1001", "--as", "ben.manager", "--requested-limit", "-5"],
                      ["reviews", "start", "C-1001", "--as", "ben.manager", "--requested-limit", "900000",
                       "--reason", "x", "--until", "2026-11-01", "--as-of", DAY]],
    "reviews due": [["reviews", "due", "--as-of", "tomorrow"]],
    "groups create": [["groups", "create", "G1", "--name", "G", "--currency", "EUR", "--limit", "10",
                       "--as", "mia.analyst", "--reason", "x"],
                      ["groups", "create", "G1", "--name", "G", "--currency", "EURO",
                       "--limit", "10", "--as", "carla.manager", "--reason", "x"]],
    "groups add": [["groups", "add", "NOPE", "C-1001", "--as", "carla.manager", "--reason", "x"]],
    "groups remove": [["groups", "remove", "NOPE", "C-1001", "--as", "carla.manager",
                       "--reason", "x"]],
    "groups limit": [["groups", "limit", "NOPE", "--limit", "-1", "--as", "carla.manager",
                      "--reason", "x"]],
    "groups show": [["groups", "show", "NOPE"]],
    "groups list": [["groups", "list", "--as-of", "someday"]],
    "approvals list": [["approvals", "list", "--for", "nobody.at.all"]],
    "approvals sweep": [["approvals", "sweep", "--as-of", "2026-02-30"]],
    "approvals resume": [["approvals", "resume", "999"]],
    "collections run": [["collections", "run", "--as-of", "2026-13-45"],
                        ["collections", "run", "--partitions", "-1"]],
    "customers show": [["customers", "show", "NOPE"]],
    "customers list": [["customers", "list", "--bogus"]],
    "customers statement": [["customers", "statement", "NOPE"],
                            ["customers", "statement", "C-1001", "--as-of", "1.10.2026"]],
    "customers profile": [["customers", "profile", "C-1001", "vip", "--as", "carla.manager",
                           "--reason", "x"]],
    "customers contacts": [["customers", "contacts", "NOPE"]],
    "notices list": [["notices", "list", "--status", "bogus"]],
    "notices deliver": [["notices", "deliver", "--bogus"]],
    "notices retry": [["notices", "retry", "999999", "--as", "carla.manager", "--reason", "fixed"]],
    "policy show": [["policy", "show", "--version", "99"]],
    "policy diff": [["policy", "diff", "--to", "99"]],
    "policy research": [["policy", "research", "--months", "0"]],
    "policy backtest": [["policy", "backtest", "99"]],
    "policy propose": [["policy", "propose", "no-such.yaml", "--as", "carla.manager"]],
    "policy approve": [["policy", "approve", "99", "--as", "fiona.director"]],
    "policy reject": [["policy", "reject", "99", "--as", "fiona.director", "--comment", "no"]],
    "audit list": [["audit", "list", "--limit", "many"]],
    "audit verify": [["audit", "verify", "--bogus"]],
    "audit limits": [["audit", "limits", "--from", "2026-12-31", "--to", "2026-01-01x"]],
    "research waiting": [["research", "waiting", "--bogus"]],
    "research reassign": [["research", "reassign", "C-1001", "--to", "nobody.at.all",
                           "--as", "ben.manager", "--reason", "x"]],
    "research cancel": [["research", "cancel", "C-1002", "--as", "ben.manager", "--reason", "x"]],
    "research remind": [["research", "remind", "--bogus"]],
    "risk scan": [["risk", "scan", "--as-of", "yesterday"]],
    "risk signals": [["risk", "signals", "--bogus"]],
    "import customers": [["import", "customers", "/no/such/file.csv"]],
    "import financials": [["import", "financials", "{bad_csv}"]],
    "import invoices": [["import", "invoices", "{bad_csv}"]],
    "import payments": [["import", "payments", "{bad_csv}"]],
    "import fx-rates": [["import", "fx-rates", "{bad_csv}"]],
    "import orders": [["import", "orders", "{bad_csv}"]],
    "import statement": [["import", "statement", "{bad_csv}"]],
    "import contacts": [["import", "contacts", "{bad_csv}"]],
    "payments unmatched": [["payments", "unmatched", "--bogus"]],
    "payments show": [["payments", "show", "999"]],
    "payments match": [["payments", "match", "999", "--invoice", "INV-1001-001",
                        "--as", "cora.collector"]],
    "payments unmatch": [["payments", "unmatch", "999", "--as", "carla.manager",
                          "--reason", "x"]],
    "dispute open": [["dispute", "open", "NO-SUCH", "--reason", "x", "--as", "cora.collector"]],
    "dispute resolve": [["dispute", "resolve", "INV-1001-001", "--as", "cora.collector", "--note", "x"]],
    "dispute list": [["dispute", "list", "--owner", "nobody.at.all"]],
    "orders check": [["orders", "check", "NOPE", "--amount", "100"],
                     ["orders", "check", "C-1003", "--amount", "1e5"]],
    "orders release": [["orders", "release", "NOPE", "--order", "SO-1", "--amount", "100",
                        "--reason", "x", "--as", "sam.sales"]],
    "orders exempt": [["orders", "exempt", "C-1003", "--until", "2026-12-31", "--basis", "cash",
                       "--reason", "x", "--as", "carla.manager"]],
    "worklist": [["worklist", "--as-of", "soon"]],
    "worklist log": [["worklist", "log", "C-1007", "--note", "x", "--as", "cora.collector",
                      "--kind", "fax"]],
    "worklist assign": [["worklist", "assign", "C-1007", "--to", "sam.sales", "--as", "carla.manager",
                         "--reason", "x"]],
    "service tasks": [["service", "tasks", "--status", "maybe"]],
    "service done": [["service", "done", "999", "--note", "x", "--as", "sam.sales"]],
    "users add": [["users", "add", "nobody.at.all", "--as", "olga.operator"],
                  ["users", "add", "mia.analyst", "--as", "cora.collector"]],
    "users disable": [["users", "disable", "mia.analyst", "--as", "olga.operator", "--reason", "x"]],
    "users reset-password": [["users", "reset-password", "mia.analyst", "--as", "olga.operator"]],
    "users list": [["users", "list", "--bogus"]],
    "writeoff propose": [["writeoff", "propose", "C-1007", "--currency", "EUR", "--reason", "x",
                          "--as", "sam.sales"]],
    "writeoff list": [["writeoff", "list", "--status", "bogus"]],
    "writeoff approve": [["writeoff", "approve", "999", "--as", "carla.manager"]],
    "writeoff reject": [["writeoff", "reject", "999", "--as", "carla.manager", "--comment", "no"]],
}  # fmt: skip


def test_every_command_is_covered_by_a_valid_call_and_an_error_path():
    commands = all_commands()
    covered = readme_commands() | {name for name, _, _ in VALID} | set(ELSEWHERE)
    assert commands - covered == set(), "commands without a valid call in a test"
    assert covered - commands == set(), "tests name commands that do not exist"
    assert set(BAD) == commands, "every command needs an error path in BAD"
    for name, where in ELSEWHERE.items():
        assert (Path(__file__).resolve().parents[2] / where).is_file(), (name, where)


def test_every_command_answers_help(tmp_path):
    def helps(path: str) -> tuple[str, subprocess.CompletedProcess]:
        return path, subprocess.run(
            [CREDIT, *path.split(), "--help"], cwd=tmp_path, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=3) as pool:
        for path, proc in pool.map(helps, sorted(all_commands())):
            assert proc.returncode == 0, (path, proc.stderr)
            assert "Usage:" in proc.stdout and len(proc.stdout.splitlines()) > 4, path


def _prepare(cli) -> dict[str, str]:
    """The sample ledger, a review waiting for its qualitative rating (C-1006), a request waiting
    for level 1 (C-1003), a draft policy in approval, a failed notice and a service task."""
    from sqlmodel import select

    from credit import services
    from credit.db.models import Notice, ServiceTask

    cli("init")
    for kind in ("customers", "financials", "invoices", "payments", "fx-rates", "orders"):
        cli("import", kind, str(SAMPLE / f"{kind.replace('-', '_')}.csv"))
    a = App(Settings.load(env_file=None, environ=cli.env))
    day = date.fromisoformat(DAY)
    for code in ("C-1003", "C-1006"):
        started = services.collect_customer_data(
            a, customer_code=code, as_of=day, requested_by="ben.manager",
            review_key=f"t:{code}", analyst="mia.analyst",
        )  # fmt: skip
        services.score_assessment(a, assessment_id=started["assessment_id"])
    scores = {
        f.split("=")[0]: __import__("decimal").Decimal(f.split("=")[1]) for f in QUALITATIVE[1::2]
    }
    services.record_qualitative(
        a, customer_code="C-1003", username="mia.analyst", scores=scores, comment="t"
    )
    [waiting] = services.waiting_assessments(a)
    assert waiting["customer"] == "C-1006"
    with a.uow() as uow:
        from credit.db.models import CreditAssessment, Customer

        c3 = uow.session.exec(select(Customer).where(Customer.code == "C-1003")).one()
        done = uow.session.exec(
            select(CreditAssessment).where(CreditAssessment.customer_id == c3.id)
        ).one()
    request = services.draft_request(a, assessment_id=done.id)
    services.advance_request(a, request_id=request, as_of=day)
    services.propose_policy(
        a, path=SAMPLE / "policy_v2.yaml", by="carla.manager", reason="t", as_of=day
    )
    services.advance_policy(a, version=2)
    with a.uow() as uow:
        notice = uow.session.exec(select(Notice).order_by(Notice.id)).first()
        notice.status, notice.last_error = "failed", "550 mailbox unavailable"
        uow.session.add(notice)
        task = ServiceTask(
            key="test:limit-cut", customer_id=c3.id, reason="limit cut", opened_on=day
        )
        uow.session.add(task)
        uow.commit()
    a.engine.dispose()
    return {"request": str(request), "failed": str(notice.id), "task": str(task.id)}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, prefect_api_url) -> tuple[Path, dict[str, str]]:
    """The ledger of ``_prepare``, made once for the module by real `credit` processes: each test
    works on its own copy of it."""
    where = tmp_path_factory.mktemp("prepared")
    ids = _prepare(credit_in(where, prefect_api_url))
    return where / "credit.db", ids


def _prepared(cli, prepared: tuple[Path, dict[str, str]]) -> dict[str, str]:
    database, ids = prepared
    copy_database(database, cli.path / "credit.db")
    return ids


@pytest.mark.slow  # a dozen `credit` processes, three of them running flows
def test_the_commands_the_readme_does_not_run_work_in_their_simplest_form(cli, prepared):
    ids = _prepared(cli, prepared)
    for name, args, expect in VALID:
        proc = cli(*[a.format(**ids) for a in args], expect=None)
        out = proc.stdout + proc.stderr
        assert proc.returncode in expect, (name, proc.returncode, out[-2000:])
        assert not [bad for bad in NEVER if bad in out], (name, out[-2000:])


@pytest.mark.slow  # about seventy `credit` processes, none running a flow
def test_no_error_path_of_any_command_prints_a_traceback(cli, prepared):
    _prepared(cli, prepared)
    bad_csv = cli.path / "bad.csv"
    bad_csv.write_text("what,ever\n1,2\n")

    def refuse(args: list[str]) -> tuple[list[str], subprocess.CompletedProcess]:
        argv = [a.format(bad_csv=bad_csv) for a in args]
        return argv, cli(*argv, expect=None)

    calls = [args for cases in BAD.values() for args in cases]
    wrong = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        for argv, proc in pool.map(refuse, calls):
            out = proc.stdout + proc.stderr
            if proc.returncode != 2 or "Traceback" in out or not proc.stderr.strip():
                wrong.append(f"credit {' '.join(argv)} -> {proc.returncode}\n{out[-1500:]}")
    assert not wrong, "\n\n".join(wrong)
