"""`credit orders release|exempt` and `credit approve|reject --subject order_release` as real
processes: a held order released once by an approver with the authority for it (refused for one
without), a customer exempted from the check until a date and the exemption revoked, and refusals
as one line with exit code 2."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE

DAY = "2026-12-01"


@pytest.mark.slow  # a score of `credit` processes
def test_an_order_is_released_once_and_a_customer_exempted_until_a_date(cli):
    cli("init")
    for kind in ("customers", "invoices"):
        cli("import", kind, str(SAMPLE / f"{kind}.csv"))
    check = ("orders", "check", "C-1003", "--amount", "20000", "--order", "SO-1", "--as-of", DAY)
    held = cli(*check, expect=1)
    assert "HOLD" in held.stdout and "no credit line" in held.stdout

    asked = cli("orders", "release", "C-1003", "--order", "SO-1", "--amount", "20000",
                "--reason", "the customer paid a deposit", "--as", "sam.sales", "--as-of", DAY)  # fmt: skip
    assert (
        "Release 1 of order SO-1 (C-1003, EUR 20,000.00) is in approval, waiting for level 1 "
        "(credit_manager): carla.manager." in asked.stdout.replace("\n", " ")
    ), asked.stdout
    listed = cli.json("approvals", "list")
    assert [(r["subject"], r["id"], r["kind"], r["approver"]) for r in listed] == [
        ("order_release", 1, "order SO-1", "carla.manager")
    ]
    # junior.analyst is a credit manager, with an authority of 10,000 only
    refused = cli("approve", "1", "--subject", "order_release", "--as", "junior.analyst",
                  "--as-of", DAY, expect=2)  # fmt: skip
    assert "authority limit 10,000.00 is below the 20,000.00" in refused.stderr
    assert "Traceback" not in refused.stderr
    approved = cli("approve", "1", "--subject", "order_release", "--as", "carla.manager",
                   "--as-of", DAY)  # fmt: skip
    assert "Order release 1 level 1 (credit_manager): approved by carla.manager." in approved.stdout
    assert "Order release 1 is now approved." in approved.stdout

    allowed = cli(*check)
    assert "ALLOW" in allowed.stdout
    assert f"released by carla.manager on {DAY} (approval 1)" in allowed.stdout
    assert "it would have held for:" in allowed.stdout and "no credit line" in allowed.stdout
    again = cli(*check, expect=1)
    assert f"note: release 1 of order SO-1 was used on {DAY}" in again.stdout

    exempt = ("orders", "exempt", "C-1003", "--reason", "prepaid in full", "--as", "carla.manager",
              "--as-of", DAY)  # fmt: skip
    refused = cli(*exempt, "--until", "2026-12-31", "--basis", "cash", expect=2)
    assert "the basis 'cash' is not one of prepaid, guarantee, letter_of_credit" in refused.stderr
    granted = cli(*exempt, "--until", "2026-12-31", "--basis", "prepaid")
    assert "C-1003 is exempt from the order check until 2026-12-31 (prepaid, by carla.manager)" in (
        granted.stdout
    )
    exempted = cli.json("orders", "check", "C-1003", "--amount", "20000", "--as-of", DAY)
    assert exempted["decision"] == "allow"
    assert exempted["allowed_by"] == "exempt until 2026-12-31 (prepaid, by carla.manager)"
    assert "no credit line: prepayment or cash in advance only" in exempted["reasons"]
    cli(*exempt, "--revoke")
    revoked = cli("orders", "check", "C-1003", "--amount", "20000", "--as-of", DAY, expect=1)
    assert f"exemption (prepaid, by carla.manager) revoked on {DAY} by carla.manager" in (
        revoked.stdout
    )

    for args, says in (
        (("reject", "999", "--subject", "order_release", "--as", "carla.manager", "--comment",
          "no"), "no order release 999"),
        (("approve", "1", "--subject", "bogus", "--as", "carla.manager"), "--subject: 'bogus'"),
        (("orders", "exempt", "C-1003", "--revoke", "--until", "2026-12-31", "--reason", "x",
          "--as", "carla.manager"), "--revoke takes no --until"),
        (("orders", "release", "C-1003", "--order", " ", "--amount", "10", "--reason", "x",
          "--as", "sam.sales"), "the order reference is required"),
    ):  # fmt: skip
        proc = cli(*args, expect=2)
        assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
