"""The README is executable: its commands, taken from README.md itself, run in order as a new user
types them, on a fresh database; none may fail, print a traceback or leak Prefect's noise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import forget_deployments
from tests.e2e.readme import NEVER, Shell, commands_under, problems

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BIN = str(Path(sys.executable).parent)

# Commands that answer with another exit code on purpose.
EXIT_CODES = {("credit", "orders", "check"): {0, 1}}  # ALLOW 0, HOLD 1
# Commands that serve until Ctrl-C, and what they print once they are up.
SERVING = {("credit", "serve"): "deployments", ("credit", "web"): "Workspace and approval page on"}


def _user_folder(tmp_path: Path) -> Path:
    """Where a user who cloned the repository types the README's commands: the files the README
    refers to are there; nothing else is (no database, no .env, no var/)."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    for name in ("sample_data", "config"):
        shutil.copytree(REPO / name, folder / name)
    shutil.copy(REPO / ".env.example", folder / ".env.example")
    return folder


def _user_env(prefect_api_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "PREFECT_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # The session's Prefect server stands in for local mode's: the same flows, started once.
        PREFECT_API_URL=prefect_api_url,
        PREFECT_HOME=str(home),
        COLUMNS="160",
    )
    return env


def test_the_readme_set_up_commands_are_make_targets():
    commands = commands_under(README, "## Set up")
    assert [c.text for c in commands] == ["make demo", "make test"]
    for c in commands:
        dry = subprocess.run(
            ["make", "-n", *c.words[1:]], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert dry.returncode == 0, dry.stderr


@pytest.mark.slow  # about forty `credit` processes, a dozen of them running flows
def test_every_command_of_using_it_runs_in_order_on_a_fresh_database(tmp_path, prefect_api_url):
    commands = commands_under(README, "## Using it")
    assert len(commands) >= 40, "the section lost its commands"
    shell = Shell(_user_folder(tmp_path), _user_env(prefect_api_url, tmp_path / "prefect"))
    failures: list[str] = []
    try:
        _run_in_order(shell, commands, failures)
    finally:
        forget_deployments()  # `credit serve` registered them on the session's server
    print("\n".join(shell.log))
    assert not failures, "\n\n".join(failures)


def _run_in_order(shell: Shell, commands: list, failures: list[str]) -> None:
    for cmd in commands:
        key = tuple(cmd.words[:3])
        serving = next((ready for k, ready in SERVING.items() if key[: len(k)] == k), None)
        if serving:
            out = shell.run_until_stopped(cmd, serving)
            failures += [
                f"line {cmd.line}: {cmd.text}: printed {bad!r}\n{out[-3000:]}"
                for bad in NEVER
                if bad in out
            ]
            continue
        expect = next((codes for k, codes in EXIT_CODES.items() if key[: len(k)] == k), {0})
        failures += problems(cmd, shell.run(cmd), expect)
