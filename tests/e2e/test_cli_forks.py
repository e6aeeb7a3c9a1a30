"""The CLI tests' forked `credit` commands (tests/cli_zygote.py) answer as the installed script does."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import copy_database
from tests.e2e.conftest import CREDIT, FORKS

pytestmark = pytest.mark.skipif(not FORKS.enabled, reason="CREDIT_TEST_SCRIPT=1: no forks")


def both(cli, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    forked = FORKS.run(list(args), cwd=cli.path, env=cli.env, timeout=120)
    script = subprocess.run(
        [CREDIT, *args], cwd=cli.path, env=cli.env, capture_output=True, text=True, timeout=120
    )
    return forked, script


def same(forked: subprocess.CompletedProcess, script: subprocess.CompletedProcess) -> None:
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        script.returncode,
        script.stdout,
        script.stderr,
    )


def test_a_forked_command_prints_and_ends_as_the_script_does(cli):
    assert FORKS.forks(cli.env, cli.path)
    for args in (
        ("--help",),
        ("collections", "run", "--help"),
        ("customers", "list"),  # before `credit init`: one line, exit code 2
        ("no-such-command",),  # click's usage error
        ("notices", "list", "--json"),
    ):
        forked, script = both(cli, *args)
        same(forked, script)
        assert forked.stdout or forked.stderr
    cli("init")
    forked, script = both(cli, "policy", "show", "--json")
    assert forked.returncode == 0 and '"version": 1' in forked.stdout
    same(forked, script)
    forked, script = both(cli, "customers", "show", "C-404")
    assert forked.returncode == 2 and "C-404" in forked.stderr
    same(forked, script)


def test_a_command_killed_by_a_signal_ends_with_it(cli, sample_ledger):
    """A checkpoint that kills the command (the crash tests' way): the fork ends with the signal,
    as the script's process does (return code -9), and a run started again finishes."""
    sample_ledger(cli, ("customers", "invoices"))
    cli.env["CREDIT_CRASH_AT"] = "collections.selected"
    assert FORKS.forks(cli.env, cli.path)
    killed = cli("collections", "run", "--as-of", "2026-10-01", expect=None)
    assert killed.returncode == -9, killed.stderr
    del cli.env["CREDIT_CRASH_AT"]
    done = cli.json("collections", "run", "--as-of", "2026-10-01")
    assert done["counts"]["sent"] > 0


def test_a_warning_reads_as_the_script_prints_it(cli, sample_ledger, tmp_path):
    """A command that does not run a flow and logs a warning prints it as a bare line, as the
    script does: not in the format Prefect gives logging once it is imported."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sample_ledger(cli, ("customers", "invoices"))
    cli.env.update(
        CREDIT_SMTP_HOST="127.0.0.1", CREDIT_SMTP_PORT=str(port), CREDIT_SMTP_TIMEOUT="1"
    )
    cli("collections", "run", "--as-of", "2026-10-01", expect=None)
    twin = tmp_path / "twin"
    twin.mkdir()
    copy_database(cli.path / "credit.db", twin / "credit.db")
    forked = FORKS.run(
        ["notices", "deliver", "--now", "--as", "ben.manager"],
        cwd=cli.path,
        env=cli.env,
        timeout=120,
    )
    env = dict(cli.env, CREDIT_DATABASE_URL=f"sqlite:///{twin / 'credit.db'}")
    script = subprocess.run(
        [CREDIT, "notices", "deliver", "--now", "--as", "ben.manager"],
        cwd=twin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "waits: the mail server failed" in script.stderr
    assert forked.returncode == script.returncode
    assert forked.stderr.splitlines()[0] == script.stderr.splitlines()[0]
    assert "WARNING" not in forked.stderr


def test_a_command_in_another_environment_has_servers_of_its_own(cli):
    narrow = dict(cli.env, COLUMNS="60")
    assert FORKS.forks(narrow, cli.path)
    cli("init")
    forked = FORKS.run(["policy", "show"], cwd=cli.path, env=narrow, timeout=120)
    script = subprocess.run(
        [CREDIT, "policy", "show"],
        cwd=cli.path,
        env=narrow,
        capture_output=True,
        text=True,
        timeout=120,
    )
    same(forked, script)
    assert max(map(len, forked.stdout.splitlines())) <= 60


def test_a_folder_with_prefect_settings_runs_the_script(cli):
    for name in ("prefect.toml", "pyproject.toml", ".env"):
        (cli.path / name).write_text("\n")
        assert not FORKS.forks(cli.env, cli.path)
        (cli.path / name).unlink()
    assert FORKS.forks(cli.env, cli.path)


def in_folder(folder) -> list[int]:
    """The processes working in ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd") == str(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_command_past_its_time_is_killed_and_says_what_it_printed(cli, sample_ledger):
    """As subprocess.run(timeout=...) does: the command is killed, TimeoutExpired carries its
    output so far, and the next command forks as before."""
    sample_ledger(cli, ("customers", "invoices"))
    stalled = dict(cli.env, CREDIT_STALL_AT="collections.selected")
    with pytest.raises(subprocess.TimeoutExpired) as late:
        FORKS.run(
            ["collections", "run", "--as-of", "2026-10-01"], cwd=cli.path, env=stalled, timeout=8
        )
    assert "stalled at collections.selected" in late.value.stderr
    deadline = time.monotonic() + 10
    while in_folder(cli.path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not in_folder(cli.path)  # killed, not left stalled
    assert cli.json("notices", "list") == []
