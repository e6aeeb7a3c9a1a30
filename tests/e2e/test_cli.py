"""The CLI as a user runs it: real `credit` processes, a real SQLite file, a real Prefect server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

CREDIT = str(Path(sys.executable).with_name("credit"))


@pytest.fixture
def cli(tmp_path, prefect_api_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'credit.db'}",
        CREDIT_OUTBOX_DIR=str(tmp_path / "outbox"),
        PREFECT_API_URL=prefect_api_url,
        PREFECT_LOGGING_LEVEL="WARNING",
        COLUMNS="200",
    )

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [CREDIT, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == expect, (
            f"credit {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        return proc

    def run_json(*args: str):
        return json.loads(run(*args, "--json").stdout)

    run.json = run_json  # type: ignore[attr-defined]
    run.path = tmp_path  # type: ignore[attr-defined]
    return run


def test_help_says_what_every_command_does(cli):
    top = cli("--help").stdout
    for command in (
        "init",
        "import",
        "review",
        "approvals",
        "approve",
        "reject",
        "reviews",
        "collections",
        "customers",
        "notices",
        "policy",
        "serve",
        "demo",
    ):
        assert command in top
    for args in (
        ["import", "customers"],
        ["review", "start"],
        ["approvals", "list"],
        ["approve"],
        ["reject"],
        ["reviews", "due"],
        ["collections", "run"],
        ["customers", "show"],
        ["notices", "list"],
        ["policy", "show"],
        ["policy", "propose"],
    ):
        out = cli(*args, "--help").stdout
        assert "Usage:" in out and len(out.splitlines()) > 5


def test_bad_csv_writes_nothing_and_exits_2_without_a_traceback(cli):
    cli("init")
    bad = cli.path / "customers.csv"
    bad.write_text(
        (SAMPLE / "customers.csv").read_text().replace("ap@nordwind.example", "nordwind-at-example")
    )
    proc = cli("import", "customers", str(bad), expect=2)
    assert (
        f"{bad}:2: column email: value 'nordwind-at-example': not an email address" in proc.stderr
    )
    assert "nothing was imported" in proc.stderr and "Traceback" not in proc.stderr
    assert cli.json("customers", "list") == []
    assert "not an ISO date" in cli("collections", "run", "--as-of", "31.10.2026", expect=2).stderr


def test_the_lifecycle_end_to_end_from_the_command_line(cli):
    assert "published policy version 1" in cli("init").stdout
    for kind in ("customers", "financials", "invoices", "payments"):
        assert (
            "would import" in cli("import", kind, str(SAMPLE / f"{kind}.csv"), "--dry-run").stdout
        )
        cli("import", kind, str(SAMPLE / f"{kind}.csv"))
    again = cli.json("import", "invoices", str(SAMPLE / "invoices.csv"))
    assert (again["created"], again["updated"]) == (0, 0)

    refused = cli(
        "review", "start", "C-1003", "--by", "ben.manager", "--requested-limit", "60000", expect=2
    )
    assert "give the reason with --reason" in refused.stderr
    started = cli.json(
        "review",
        "start",
        "c-1003 ",
        "--by",
        "ben.manager",
        "--requested-limit",
        "60000",
        "--reason",
        "seasonal peak orders",
        "--analyst",
        "junior.analyst",
        "--as-of",
        "2026-10-01",
    )
    assert started["status"] == "awaiting_qualitative"
    assert [w["customer"] for w in cli.json("research", "waiting")] == ["C-1003"]
    refused = cli(
        "assess",
        "C-1003",
        "--as",
        "carla.manager",
        "--factor",
        "market_position=60",
        "--comment",
        "x",
        expect=2,
    )
    assert "is assigned to junior.analyst, not carla.manager" in refused.stderr
    refused = cli(
        "assess",
        "C-1003",
        "--as",
        "junior.analyst",
        "--factor",
        "market_position=60",
        "--comment",
        "x",
        expect=2,
    )
    assert "missing management, industry_outlook, reputation" in refused.stderr
    review = cli.json(
        "assess",
        "C-1003",
        "--as",
        "junior.analyst",
        "--factor",
        "market_position=55",
        "--factor",
        "management=60",
        "--factor",
        "industry_outlook=45",
        "--factor",
        "reputation=60",
        "--comment",
        "Regional retailer under pressure from online competitors",
        "--as-of",
        "2026-10-01",
    )
    assert review["rating"] == "C" and Decimal(review["score"]) < Decimal(
        review["quantitative_score"]
    )
    rid = str(review["request_id"])
    assert review["waiting_for"] == "level 1 (credit_manager): carla.manager"
    assert [a["id"] for a in cli.json("approvals", "list", "--for", "carla.manager")] == [
        review["request_id"]
    ]

    refused = cli("approve", rid, "--as", "ben.manager", expect=2)
    assert "ben.manager requested this and may not approve their own request" in refused.stderr
    refused = cli("approve", rid, "--as", "junior.analyst", expect=2)
    assert (
        "junior.analyst rated this customer in the assessment and may not approve it"
        in refused.stderr
    )
    assert (
        "authority limit 10,000.00 is below the 50,000.00 this level answers for" in refused.stderr
    )

    first = cli.json("approve", rid, "--as", "carla.manager", "--as-of", "2026-10-01")
    assert first["status"] == "in_approval" and "fiona.director" in first["waiting_for"]
    refused = cli("approve", rid, "--as", "carla.manager", expect=2)
    assert "already decided another level" in refused.stderr
    second = cli.json("approve", rid, "--as", "fiona.director", "--as-of", "2026-10-01")
    assert second["status"] == "published" and second["published"]["limit"] == "60000.0000"

    for day, level in (("2026-10-01", 1), ("2026-10-15", 2), ("2026-11-02", 3), ("2026-11-16", 4)):
        run = cli.json("collections", "run", "--as-of", day)
        mine = [a for a in run["actions"] if a["customer"] == "C-1003"]
        assert [(a["level"], a["status"]) for a in mine] == [(level, "sent")]
    customer = cli.json("customers", "show", "C-1003", "--as-of", "2026-11-16")
    assert customer["credit_line"]["status"] == "on_hold"
    assert customer["dunning_level"] == {"EUR": 4}

    notices_before = cli.json("notices", "list")
    rerun = cli.json("collections", "run", "--as-of", "2026-11-16")
    assert rerun["counts"].get("sent", 0) == 0
    assert len(cli.json("notices", "list")) == len(notices_before)
    assert {n["status"] for n in notices_before} == {"sent"}
    assert len(list((cli.path / "outbox").glob("*.eml"))) == len(notices_before)
    kinds = {n["kind"] for n in cli.json("notices", "list", "--customer", "C-1003")}
    assert {"terms_letter", "dunning_reminder", "dunning_credit_hold", "credit_hold_sales"} <= kinds


def test_read_only_commands_do_not_import_prefect(tmp_path):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from credit.cli import app\n"
        "runner = CliRunner()\n"
        "for args in (['init'], ['customers', 'list', '--json'], ['approvals', 'list', '--json'],\n"
        "             ['notices', 'list', '--json'], ['policy', 'show', '--json'], ['reviews', 'due', '--json'],\n"
        "             ['audit', 'list', '--json']):\n"
        "    result = runner.invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows', 'tasks')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'credit.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
