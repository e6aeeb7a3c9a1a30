"""`credit users` as an operator meets it: real processes, the password on stdin or refused
without a terminal, every change audited with the operating-system login that ran it."""

from __future__ import annotations

import json
import subprocess

from tests.e2e.conftest import CREDIT

PASSWORD = "a long enough password 1"


def run(cli, *args: str, stdin: str | None = None, expect: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [CREDIT, *args], cwd=cli.path, env=cli.env, input=stdin, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def test_an_operator_adds_disables_and_resets_accounts_from_the_command_line(cli):
    cli("init")
    added = run(cli, "users", "add", "mia.analyst", "--as", "olga.operator", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert "mia.analyst may sign in now (workspace roles: analyst)" in added.stdout
    listed = {r["username"]: r for r in json.loads(run(cli, "users", "list", "--json").stdout)}
    assert listed["mia.analyst"]["status"] == "active"
    assert listed["mia.analyst"]["sign_in"] == "password"
    assert listed["cora.collector"]["status"] == "no account"

    # refusals: one line each, nothing changed
    short = run(cli, "users", "add", "cora.collector", "--as", "olga.operator",
                "--password-stdin", stdin="short\n", expect=2)  # fmt: skip
    assert "at least 12 characters" in short.stderr
    twice = run(cli, "users", "add", "mia.analyst", "--as", "olga.operator", "--password-stdin",
                stdin=PASSWORD + "\n", expect=2)  # fmt: skip
    assert "has an account already" in twice.stderr
    no_tty = run(cli, "users", "add", "cora.collector", "--as", "olga.operator", stdin="", expect=2)
    assert "--password-stdin" in no_tty.stderr
    not_admin = run(cli, "users", "add", "cora.collector", "--as", "mia.analyst",
                    "--password-stdin", stdin=PASSWORD + "\n", expect=2)  # fmt: skip
    assert "may not manage accounts" in not_admin.stderr
    stranger = run(cli, "users", "add", "nobody.at.all", "--as", "olga.operator",
                   "--password-stdin", stdin=PASSWORD + "\n", expect=2)  # fmt: skip
    assert "not in the approver directory" in stranger.stderr

    disabled = run(cli, "users", "disable", "mia.analyst", "--as", "olga.operator",
                   "--reason", "left the company")  # fmt: skip
    assert "is disabled" in disabled.stdout
    listed = {r["username"]: r for r in json.loads(run(cli, "users", "list", "--json").stdout)}
    assert listed["mia.analyst"]["status"] == "disabled"
    run(cli, "users", "reset-password", "mia.analyst", "--as", "carla.manager",
        "--password-stdin", stdin="another long password\n")  # fmt: skip
    listed = {r["username"]: r for r in json.loads(run(cli, "users", "list", "--json").stdout)}
    assert listed["mia.analyst"]["status"] == "active"

    events = json.loads(run(cli, "audit", "list", "--json").stdout)
    mine = [e for e in events if e["entity_type"] == "user"]
    assert [e["action"] for e in mine] == ["user.added", "user.disabled", "user.password_reset"]
    assert [e["actor"] for e in mine] == ["olga.operator", "olga.operator", "carla.manager"]
    for e in mine:
        assert e["via"]["channel"] == "cli" and e["via"]["os_user"]
        assert e["via"]["command"].startswith("users ")
        assert PASSWORD not in json.dumps(e)
    assert "another long password" not in json.dumps(events)
    table = run(cli, "audit", "list").stdout
    assert "cli " in table
