"""Instalment plans and write-offs from the command line, as real processes: `credit promise
--instalment`, `credit writeoff propose|list|approve|reject`, the write-off in `credit approvals
list`, and the refusals (one line, exit code 2)."""

from __future__ import annotations

DAY = "2026-12-01"
CUSTOMERS = (
    "code,name,email,country,currency,locale,sales_owner_email,registered_on,tax_id,postal_address\n"
    "E-1,Ebbe Handel GmbH,ap@ebbe.example,DE,EUR,de,sales@example.com,2010-01-01,DE811907980,\n"
)
INVOICES = (
    "customer_code,number,issue_date,due_date,amount,currency,applies_to\n"
    "E-1,E1-1,2026-10-01,2026-11-01,2000.00,EUR,\n"
    "E-1,E1-2,2026-10-01,2026-11-01,6000.00,EUR,\n"
)


def test_a_plan_and_write_offs_from_the_command_line(cli):
    (cli.path / "customers.csv").write_text(CUSTOMERS)
    (cli.path / "invoices.csv").write_text(INVOICES)
    cli("init")
    cli("import", "customers", str(cli.path / "customers.csv"))
    cli("import", "invoices", str(cli.path / "invoices.csv"))

    out = cli("promise", "E-1", "--instalment", "2026-12-10=1000.00", "--instalment",
              "2026-12-24=1000.00", "--as", "cora.collector", "--as-of", DAY).stdout  # fmt: skip
    assert "E-1 agreed a plan of 2 instalments, EUR 2,000.00 in all" in out
    refused = cli("promise", "E-1", "--instalment", "2026-12-24=1000.00", "--instalment",
                  "2026-12-10=1000.00", "--as", "cora.collector", "--as-of", DAY, expect=2)  # fmt: skip
    assert "the instalment dates must ascend" in refused.stderr
    assert "Traceback" not in refused.stderr

    out = cli("writeoff", "propose", "E-1", "--currency", "EUR", "--invoice", "E1-2", "--reason",
              "insolvent", "--as", "cora.collector", "--as-of", DAY).stdout  # fmt: skip
    assert "Write-off 1 of EUR 6,000.00 for E-1 (E1-2) proposed, waiting for level 1" in out
    [pending] = [p for p in cli.json("approvals", "list") if p["subject"] == "write_off"]
    assert (pending["id"], pending["role"], pending["amount"]) == (1, "credit_manager", "6000.00")
    out = cli("writeoff", "approve", "1", "--as", "carla.manager", "--as-of", DAY).stdout
    assert "It is now in approval, waiting for level 2 (finance_director)" in out
    out = cli("writeoff", "approve", "1", "--as", "fiona.director", "--as-of", DAY).stdout
    assert "It is now approved: booked as credit notes." in out

    cli("writeoff", "propose", "E-1", "--currency", "EUR", "--reason", "small", "--as",
        "cora.collector", "--as-of", DAY)  # fmt: skip
    out = cli("writeoff", "reject", "2", "--as", "ben.manager", "--comment", "they pay",
              "--as-of", DAY).stdout  # fmt: skip
    assert "It is now rejected." in out
    rows = cli.json("writeoff", "list")
    assert [(r["id"], r["status"], r["booked"]) for r in rows] == [
        (2, "rejected", None), (1, "approved", "6000.00")]  # fmt: skip
    assert "E1-2" in cli("writeoff", "list").stdout

    refused = cli("writeoff", "propose", "E-1", "--currency", "EUR", "--reason", "x", "--as",
                  "sam.sales", expect=2)  # fmt: skip
    assert refused.stderr.count("\n") == 1 and "may not propose a write-off" in refused.stderr
