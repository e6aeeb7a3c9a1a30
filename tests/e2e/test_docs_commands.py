"""The commands docs/*.md tell users to run: every `credit` command parses as written (it exists,
its options exist, nothing required is missing), the ones that can run here do, on a fresh
database, and every documented option of a benchmark or a Prefect command exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.e2e.readme import NEVER, Command, commands_under

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted((REPO / "docs").glob("*.md"))
PREFECT = str(Path(sys.executable).with_name("prefect"))
# What can run here as written, on a fresh database (the rest need a server, workers, SMTP ...).
RUNS_HERE = {("notices", "list"), ("audit", "verify"), ("init",)}


def documented(program: str) -> list[tuple[Path, Command]]:
    """Every command of a ``bash`` block in docs/*.md that runs ``program`` (after any
    ``NAME=value`` assignments in front of it)."""
    found = []
    for doc in DOCS:
        for heading in _headings(doc):
            for cmd in commands_under(doc, heading):
                words = _without_assignments(cmd.words)
                if words and words[0] == program:
                    found.append((doc, Command(cmd.line, shlex.join(words), cmd.comment)))
    return list({(d, c.line): (d, c) for d, c in found}.values())


def _headings(doc: Path) -> list[str]:
    return [x.strip() for x in doc.read_text().splitlines() if re.match(r"^#{1,6} ", x)]


def _without_assignments(words: list[str]) -> list[str]:
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        words = words[1:]
    return [w for w in words if w != "&"]


def test_every_documented_credit_command_parses_as_written():
    from credit.cli import app

    group = typer.main.get_command(app)
    commands = documented("credit")
    assert len(commands) >= 5
    for doc, cmd in commands:
        args = cmd.words[1:]
        try:
            _parse(group, "credit", args)
        except Exception as exc:  # click's usage errors: no such command or option, missing one
            raise AssertionError(f"{doc.name}:{cmd.line}: `{cmd.text}`: {exc}") from None


def _parse(command, name: str, args: list[str], parent=None) -> None:
    """Parse ``args`` as the command line would, down to the command that would run."""
    ctx = command.make_context(name, list(args), parent=parent)
    if hasattr(command, "commands"):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if rest:
            _parse(command.commands[rest[0]], rest[0], rest[1:], parent=ctx)


@pytest.mark.slow  # a Prefect server is needed by none of these, but each is a `credit` process
def test_the_documented_credit_commands_that_can_run_here_do(cli):
    ran = 0
    for doc, cmd in documented("credit"):
        if tuple(cmd.words[1:3]) not in RUNS_HERE and tuple(cmd.words[1:2]) not in RUNS_HERE:
            continue
        proc = cli(*cmd.words[1:], expect=None)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{doc.name}:{cmd.line}: `{cmd.text}`\n{out[-2000:]}"
        assert not [bad for bad in NEVER if bad in out], f"{doc.name}:{cmd.line}\n{out[-2000:]}"
        ran += 1
    assert ran >= 3


def _options(words: list[str]) -> list[str]:
    return [w.split("=")[0] for w in words if w.startswith("--")]


def test_every_documented_benchmark_option_exists():
    for doc, cmd in documented("python"):
        if cmd.words[1:2] != ["-m"] or not cmd.words[2].startswith("bench."):
            continue
        helped = subprocess.run(
            [sys.executable, "-m", cmd.words[2], "--help"], cwd=REPO, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert helped.returncode == 0, f"{doc.name}:{cmd.line}: {helped.stderr[-1000:]}"
        for option in _options(cmd.words[3:]):
            assert option in helped.stdout, f"{doc.name}:{cmd.line}: {cmd.words[2]} has no {option}"


@pytest.mark.slow  # each `prefect` process takes a couple of seconds to start
def test_every_documented_prefect_command_and_option_exists():
    seen: dict[tuple[str, ...], str] = {}
    for doc, cmd in documented("prefect"):
        words = [w for w in cmd.words[1:] if w != "--no-prompt"]
        path = tuple(w for w in words[:2] if not w.startswith("-"))
        if path not in seen:
            helped = subprocess.run(
                [PREFECT, *path, "--help"], capture_output=True, text=True, timeout=120
            )
            assert helped.returncode == 0, f"{doc.name}:{cmd.line}: {helped.stderr[-1000:]}"
            seen[path] = helped.stdout
        for option in _options(words):
            assert option in seen[path], f"{doc.name}:{cmd.line}: prefect {path} has no {option}"
