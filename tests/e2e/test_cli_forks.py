"""The CLI tests' forked `credit` commands (tests/cli_zygote.py) answer as the installed script does."""

from __future__ import annotations

import subprocess

import pytest

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
    assert FORKS.serves(cli.env, cli.path)
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
    assert FORKS.serves(cli.env, cli.path)
    killed = cli("collections", "run", "--as-of", "2026-10-01", expect=None)
    assert killed.returncode == -9, killed.stderr
    del cli.env["CREDIT_CRASH_AT"]
    done = cli.json("collections", "run", "--as-of", "2026-10-01")
    assert done["counts"]["sent"] > 0


def test_a_command_in_another_environment_runs_the_script(cli):
    env = dict(cli.env, COLUMNS="60")
    assert not FORKS.serves(env, cli.path)
    (cli.path / ".env").write_text("CREDIT_LOG_LEVEL=INFO\n")
    assert not FORKS.serves(cli.env, cli.path)
