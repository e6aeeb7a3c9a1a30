"""Imports as a user runs them: real `credit` processes on a real SQLite file."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import SAMPLE


def _open_amount(shown: dict, number: str) -> Decimal | None:
    for items in shown["open_items"].values():
        for item in items:
            if item["number"] == number:
                return Decimal(item["open_amount"])
    return None


def test_a_credit_note_naming_its_invoice_imports_and_reduces_that_invoice(cli):
    cli("init")
    for kind in ("customers", "invoices"):
        cli("import", kind, str(SAMPLE / f"{kind}.csv"))
    before = cli.json("customers", "show", "C-1012")
    assert _open_amount(before, "INV-1012-OPEN1") == Decimal("56000")
    notes = cli.path / "credit_notes.csv"
    notes.write_text(
        "customer_code,number,issue_date,due_date,amount,currency,applies_to\n"
        "C-1012,CN-1012-001,2026-11-05,2026-11-05,-1000.00,EUR,INV-1012-OPEN1\n"
    )
    done = cli("import", "invoices", str(notes))
    assert "1 new" in done.stdout and "Traceback" not in done.stdout + done.stderr
    after = cli.json("customers", "show", "C-1012")
    assert _open_amount(after, "INV-1012-OPEN1") == Decimal("55000")
    assert _open_amount(after, "CN-1012-001") is None  # applied, not a credit on account
    assert Decimal(after["exposure"]["EUR"]) == Decimal(before["exposure"]["EUR"]) - 1000
