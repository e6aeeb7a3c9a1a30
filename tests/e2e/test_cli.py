"""The CLI as a user runs it: real `credit` processes, a real SQLite file, a real Prefect server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import SAMPLE, TEST_COMPANY, sample_payments_until


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


@pytest.mark.slow  # about 30 `credit` processes, 10 of them running flows
def test_the_lifecycle_end_to_end_from_the_command_line(cli):
    assert "published policy version 1" in cli("init").stdout
    for kind in ("customers", "financials", "invoices", "payments"):
        assert (
            "would import" in cli("import", kind, str(SAMPLE / f"{kind}.csv"), "--dry-run").stdout
        )
        if kind != "payments":  # payments come in day by day, as the bank statements bring them
            cli("import", kind, str(SAMPLE / f"{kind}.csv"))
    cli("import", "payments", str(sample_payments_until(date(2026, 10, 1), cli.path)))
    again = cli.json("import", "invoices", str(SAMPLE / "invoices.csv"))
    assert (again["created"], again["updated"]) == (0, 0)

    refused = cli(
        "review", "start", "C-1003", "--by", "ben.manager", "--requested-limit", "60000", expect=2
    )
    assert "give the reason for it" in refused.stderr
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
        cli("import", "payments", str(sample_payments_until(date.fromisoformat(day), cli.path)))
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
    letters = [n for n in notices_before if n["channel"] == "letter"]
    assert [n["kind"] for n in letters] == ["dunning_final_demand"] * 4  # the policy's letter level
    assert len(list((cli.path / "outbox").glob("*.eml"))) == len(notices_before) - len(letters)
    printable = list((cli.path / "outbox" / "letters").glob("*.html"))
    assert len(printable) == 4 and "@page" in printable[0].read_text()
    kinds = {n["kind"] for n in cli.json("notices", "list", "--customer", "C-1003")}
    assert {"terms_letter", "dunning_reminder", "dunning_credit_hold", "credit_hold_sales"} <= kinds

    # Orders: one on the held line is refused, with the exposure against the limit.
    orders = cli.path / "orders.csv"
    orders.write_text(
        "customer_code,number,order_date,amount,currency,status\n"
        "C-1003,SO-1,2026-11-10,20000.00,EUR,open\n"
    )
    cli("import", "orders", str(orders))
    held = cli("orders", "check", "C-1003", "--amount", "25000", "--as-of", "2026-11-16", expect=1)
    assert "HOLD" in held.stdout and "credit line is on hold" in held.stdout
    check = json.loads(
        cli("orders", "check", "C-1003", "--amount", "25000", "--as-of", "2026-11-16", "--json",
            expect=1).stdout
    )  # fmt: skip
    # 14,800 + 6,200 overdue + the final demand's 40.00 fee and 107.05 interest, + orders. The
    # interest runs on the invoice that reached the final demand (INV-1003-OPEN1, 14,800 for 33
    # days at 8 %), not on INV-1003-OPEN2, which was at its own first level then.
    assert check["receivables"] == "21147.05" and check["exposure"] == "66147.05"
    assert any("exceeds the limit EUR 60,000.00 by EUR 6,147.05" in r for r in check["reasons"])

    # The customer pays on 20 November (principal and charges): the next run releases the hold and
    # tells the customer and the same internal people who were told of the hold.
    cli("import", "payments", str(sample_payments_until(date(2026, 11, 30), cli.path)))
    released = cli.json("collections", "run", "--as-of", "2026-11-30")
    mine = [a for a in released["actions"] if a["customer"] == "C-1003"]
    assert [(a["level_name"], a["status"]) for a in mine] == [("cleared", "cleared")]
    assert cli.json("customers", "show", "C-1003")["credit_line"]["status"] == "active"
    by_kind = {}
    for n in cli.json("notices", "list", "--customer", "C-1003"):
        by_kind.setdefault(n["kind"], []).append(sorted(n["recipients"]))
    assert sorted(by_kind["credit_hold_released"]) == sorted(
        [["compta@brightline.example"], by_kind["credit_hold_sales"][0]]
    )
    released_texts = {
        n["recipients"][0]: n["subject"]
        for n in cli.json(
            "notices", "list", "--customer", "C-1003", "--kind", "credit_hold_released"
        )
    }
    assert len(set(released_texts.values())) == 2  # the customer's letter and the internal note
    allowed = cli.json("orders", "check", "C-1003", "--amount", "25000", "--as-of", "2026-11-30")
    # The sample payments were sized for interest on both invoices (131.51): 24.46 stays on
    # account and lowers the exposure.
    assert allowed["decision"] == "allow" and allowed["exposure"] == "44975.54"
    assert allowed["headroom"] == "15024.46"


def test_read_only_commands_do_not_import_prefect(tmp_path):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from credit.cli import app\n"
        "runner = CliRunner()\n"
        "for args in (['init'], ['customers', 'list', '--json'], ['approvals', 'list', '--json'],\n"
        "             ['notices', 'list', '--json'], ['policy', 'show', '--json'], ['reviews', 'due', '--json'],\n"
        "             ['audit', 'list', '--json'], ['worklist', '--json'],\n"
        "             ['service', 'tasks', '--json'], ['policy', 'backtest', '1', '--json']):\n"
        "    result = runner.invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows', 'tasks')))\n"
        "print(sorted(m for m in sys.modules if m in ('jinja2', 'babel', 'urllib.request')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'credit.db'}"
    env.update(TEST_COMPANY)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-2:]
    assert last[0] == "[]"
    # Nor the notices' Jinja and Babel, or an HTTP client (credit.notices and credit status
    # load them on first use: about 0.1 s of every command).
    assert last[1] == "[]"
