"""Collections from the command line: two runs for the same date at the same time, the desk."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import SAMPLE, TEST_COMPANY, scratch_postgres
from tests.e2e.conftest import CREDIT


def _setup(cli) -> None:
    cli("init")
    for kind in ("customers", "invoices", "payments"):
        cli("import", kind, str(SAMPLE / f"{kind}.csv"))


def _race(cli, database_url: str) -> None:
    """Three `credit collections run` for the same date, started together, on one database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(
        CREDIT_DATABASE_URL=database_url,
        CREDIT_OUTBOX_DIR=str(cli.path / "outbox"),
        PREFECT_API_URL=cli.env["PREFECT_API_URL"],
        PREFECT_LOGGING_LEVEL="WARNING",
        **TEST_COMPANY,
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
    for kind in ("customers", "invoices", "payments"):
        done(credit("import", kind, str(SAMPLE / f"{kind}.csv")))
    # what two scheduled runs and a credit manager's manual run for the same day do, together
    runs = [credit("collections", "run", "--as-of", "2026-10-15", "--json") for _ in range(3)]
    results = [json.loads(done(proc)) for proc in runs]
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


@pytest.mark.slow  # some 15 `credit` processes, several running flows
def test_disputes_promises_and_the_worklist_from_the_command_line(cli):
    _setup(cli)
    for day in ("2026-10-01", "2026-10-15", "2026-11-02", "2026-11-16", "2026-11-30"):
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
    promised = cli.json("promise", "C-1007", "--amount", c7["amount"], "--by", "2026-12-10",
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
