"""`credit customers profile` as a credit manager meets it: a real process assigns a dunning
profile of the published policy, audited; a collector, an unknown profile and a repeat are
refused with one line and exit code 2."""

from __future__ import annotations

from tests.conftest import SAMPLE


def test_a_credit_manager_assigns_a_dunning_profile(cli):
    cli("init")
    cli("import", "customers", str(SAMPLE / "customers.csv"))
    done = cli("customers", "profile", "c-1001", "key_accounts", "--as", "carla.manager",
               "--reason", "strategic account")  # fmt: skip
    assert "C-1001 follows dunning profile key_accounts (was: none assigned)." in done.stdout
    result = cli.json("customers", "profile", "C-1001", "do_not_dun", "--as", "ben.manager",
                      "--reason", "in insolvency proceedings")  # fmt: skip
    assert result == {"customer": "C-1001", "profile": "do_not_dun", "before": "key_accounts",
                      "reason": "in insolvency proceedings"}  # fmt: skip

    for args, says in (
        (["C-1002", "key_accounts", "--as", "cora.collector"], "may not assign dunning profiles"),
        (["C-1002", "vip", "--as", "carla.manager"], "dunning profile 'vip' is not in the"),
        (["C-1001", "do_not_dun", "--as", "carla.manager"], "follows dunning profile do_not_dun"),
        (["NOPE", "standard", "--as", "carla.manager"], "NOPE"),
    ):
        refused = cli("customers", "profile", *args, "--reason", "x", expect=2)
        assert says in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    events = [e for e in cli.json("audit", "list") if e["action"] == "customer.dunning_profile"]
    assert sorted((e["actor"], e["after"]["dunning_profile"]) for e in events) == [
        ("ben.manager", "do_not_dun"), ("carla.manager", "key_accounts")
    ]  # fmt: skip
