"""Bank statements and the payments queue as a user runs them: real `credit` processes on a real
SQLite file. A refusal is one line on stderr (per problem, for a file), exit code 2, no
traceback, and nothing changed."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import pytest

from credit.app import App
from credit.settings import Settings
from tests.conftest import SAMPLE

CAMT = SAMPLE / "statements" / "camt053_day1.xml"
DAY = "2026-12-02"


def _refused(proc: subprocess.CompletedProcess, says: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert says in proc.stderr, proc.stderr


def _ledger(cli) -> None:
    """The sample ledger, and the RF references of the letters Helios and Granite received."""
    from sqlmodel import select

    from credit.db.models import Customer, Invoice
    from credit.services.cash import references

    cli("init")
    for kind in ("customers", "invoices", "payments", "fx-rates"):
        cli("import", kind, str(SAMPLE / f"{kind.replace('-', '_')}.csv"))
    a = App(Settings.load(env_file=None, environ=cli.env))
    with a.uow() as uow:
        s = uow.session
        for number in ("INV-1005-OPEN1", "INV-1001-OPEN2", "INV-1012-OPEN1"):
            inv = s.exec(select(Invoice).where(Invoice.number == number)).one()
            references.issue(
                s, customer=s.get(Customer, inv.customer_id), currency="EUR",
                invoice_ids=[inv.id], amount=inv.amount, purpose="dunning",
                notice_key=None, as_of=date(2026, 12, 2),
            )  # fmt: skip
        uow.commit()
    a.engine.dispose()


def _waiting(cli) -> list[dict]:
    return cli.json("payments", "unmatched")


@pytest.mark.slow  # about twenty `credit` processes
def test_a_statement_is_imported_matched_queued_confirmed_and_undone(cli):
    _ledger(cli)
    dry = cli("import", "statement", str(CAMT), "--as-of", DAY, "--dry-run")
    assert "8 payments read, 8 new" in dry.stdout and "dry run: nothing written" in dry.stdout
    assert _waiting(cli) == []

    done = cli("import", "statement", str(CAMT), "--as-of", DAY, "--as", "carla.manager")
    assert "4 matched (3 by invoice number, 1 by RF reference), 2 unmatched" in done.stdout
    assert "1 return applied, 1 debit(s) ignored" in done.stdout
    again = cli("import", "statement", str(CAMT), "--as-of", DAY)
    assert "0 new, 8 skipped as already imported" in again.stdout
    assert "nothing new" in again.stdout

    waiting = _waiting(cli)
    assert [w["payer_name"] for w in waiting] == ["Granite Construction SE", "Max Schneider"]
    granite = waiting[0]
    assert granite["suggestions"][0]["customer"] == "C-1012"
    table = cli("payments", "unmatched").stdout
    assert "Granite Construction SE" in table and "C-1012 INV-1012-OPEN1" in table

    shown = cli("payments", "show", str(granite["id"])).stdout
    assert "check digits are wrong" in shown
    assert "1. C-1012 INV-1012-OPEN1" in shown

    matched = cli(
        "payments", "match", str(granite["id"]), "--suggestion", "1", "--as", "cora.collector"
    )
    assert f"Entry {granite['id']} matched to C-1012: INV-1012-OPEN1 EUR 56,000.00." in (
        matched.stdout
    )
    assert [w["id"] for w in _waiting(cli)] == [waiting[1]["id"]]
    detail = cli.json("payments", "show", str(granite["id"]))
    assert detail["rule"] == "manual" and detail["matched_by"] == "cora.collector"

    undone = cli(
        "payments", "unmatch", str(granite["id"]), "--as", "carla.manager",
        "--reason", "the customer says it pays another invoice",
    )  # fmt: skip
    assert "match undone" in undone.stdout
    assert len(_waiting(cli)) == 2
    again = cli(
        "payments", "match", str(granite["id"]), "--invoice", "INV-1012-OPEN1",
        "--as", "cora.collector", "--reason", "confirmed by phone",
    )  # fmt: skip
    assert "matched to C-1012" in again.stdout
    payments = cli.json("payments", "show", str(granite["id"]))["payments"]
    assert [(p["reference"], p["status"]) for p in payments] == [
        (f"BE{granite['id']}-1", "reversed"),
        (f"BE{granite['id']}-2", "received"),
    ]
    events = cli.json("audit", "list", "--limit", "50")
    actions = [(e["action"], e["actor"]) for e in events]
    assert ("bank_entry.unmatch", "carla.manager") in actions
    assert actions.count(("bank_entry.match", "cora.collector")) == 2
    assert ("bank_statement.import", "carla.manager") in actions


@pytest.mark.slow  # about a dozen `credit` processes
def test_refusals_are_one_line_exit_2_and_change_nothing(cli):
    _ledger(cli)
    cli("import", "statement", str(CAMT), "--as-of", DAY)
    waiting = _waiting(cli)
    granite, schneider = str(waiting[0]["id"]), str(waiting[1]["id"])
    matched = str(next(r for r in range(1, 9) if str(r) not in (granite, schneider)))
    before = cli("payments", "unmatched", "--json").stdout

    cases = [
        (["payments", "show", "999"], "no bank statement entry 999"),
        (["payments", "match", "999", "--invoice", "INV-1012-OPEN1", "--as", "cora.collector"],
         "no bank statement entry 999"),
        (["payments", "match", granite, "--invoice", "INV-1001-OPEN1", "--customer", "C-1012",
          "--as", "cora.collector"], "INV-1001-OPEN1 belongs to C-1001, not C-1012"),
        (["payments", "match", granite, "--invoice", "INV-1001-001", "--as", "cora.collector"],
         "INV-1001-001 is paid already"),
        (["payments", "match", matched, "--customer", "C-1001", "--as", "cora.collector"],
         "is matched already"),
        (["payments", "match", granite, "--invoice", "INV-1012-OPEN1", "--as", "sam.sales"],
         "sam.sales may not match"),
        (["payments", "match", schneider, "--suggestion", "1", "--as", "cora.collector"],
         "has 0 suggestions"),
        (["payments", "unmatch", schneider, "--as", "carla.manager", "--reason", "x"],
         "is unmatched, not matched"),
        (["payments", "unmatch", matched, "--as", "carla.manager", "--reason", " "],
         "the reason for undoing the match is required"),
    ]  # fmt: skip
    for args, says in cases:
        _refused(cli(*args, expect=None), says)
    assert cli("payments", "unmatched", "--json").stdout == before

    hostile = cli.path / "hostile.xml"
    hostile.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&lol2;</Document>\n'
    )
    other = cli.path / "other_account.xml"
    other.write_text(CAMT.read_text().replace("DE89370400440532013000", "DE02120300000000202051"))
    for path, says in ((hostile, "nothing was imported"), (other, "nothing was imported")):
        proc = cli("import", "statement", str(path), "--as-of", DAY, expect=None)
        _refused(proc, says)
        assert str(path) in proc.stderr
    proc = cli("import", "statement", str(other), "--as-of", DAY, expect=None)
    assert "is not one of the company's accounts" in proc.stderr
    assert json.loads(cli("payments", "unmatched", "--json").stdout) == json.loads(before)
