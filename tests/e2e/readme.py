"""Run the commands a document tells users to type, as they would, and say what went wrong.

The commands come from the document itself (a fenced ``bash`` block under a heading), so the
document cannot drift from the product: a command that no longer exists, an option that was
renamed, an example that now fails or prints a traceback fails the test that runs it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")
# What a user must never see, whatever the command printed.
NEVER = ("Traceback (most recent call last)", "EventsWorker", "Still processing items")


@dataclass
class Command:
    line: int  # where it starts in the document
    text: str  # as a shell reads it (continuations joined, the comment dropped)
    comment: str = ""

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)


def commands_under(document: Path, heading: str, language: str = "bash") -> list[Command]:
    """The commands of every ``language`` block in the section under ``heading`` (up to the next
    heading of the same or a higher level)."""
    lines = document.read_text(encoding="utf-8").splitlines()
    level = heading.split(" ", 1)[0]
    try:
        start = next(i for i, x in enumerate(lines) if x.strip() == heading)
    except StopIteration:
        raise AssertionError(f"{document}: no heading {heading!r}") from None
    out: list[Command] = []
    inside = False
    pending: list[str] = []
    first = 0
    for i in range(start + 1, len(lines)):
        raw = lines[i]
        if not inside and raw.startswith("#") and raw.split(" ", 1)[0] in _levels_up_to(level):
            break
        fence = FENCE.match(raw.strip())
        if fence:
            inside = not inside and fence.group(1) == language
            continue
        if not inside:
            continue
        code, comment = _split_comment(raw)
        if not code.strip():
            continue
        if not pending:
            first = i + 1
        if code.rstrip().endswith("\\"):
            pending.append(code.rstrip()[:-1].strip())
            continue
        pending.append(code.strip())
        out.append(Command(first, " ".join(pending), comment))
        pending = []
    assert not pending, f"{document}:{first}: a command ends with a continuation"
    return out


def _levels_up_to(level: str) -> set[str]:
    return {"#" * n for n in range(1, len(level) + 1)}


def _split_comment(line: str) -> tuple[str, str]:
    """The command and its trailing ``# comment`` (a '#' inside quotes is not a comment)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i], line[i + 1 :].strip()
    return line, ""


@dataclass
class Shell:
    """Runs commands one by one in a folder, keeping what ``export`` and ``source`` would keep."""

    cwd: Path
    env: dict[str, str]
    log: list[str] = field(default_factory=list)

    def run(self, cmd: Command, *, timeout: float = 300) -> subprocess.CompletedProcess:
        words = cmd.words
        if words[0] == "source" and words[1].endswith("bin/activate"):
            return subprocess.CompletedProcess(words, 0, "", "")  # the test's PATH has the venv
        if words[0] == "export":
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value
            return subprocess.CompletedProcess(words, 0, "", "")
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", "-c", cmd.text], cwd=self.cwd, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        self.log.append(f"{time.monotonic() - started:6.1f}s  {cmd.text[:100]}")
        return proc

    def run_until_stopped(self, cmd: Command, ready: str, *, wait: float = 120) -> str:
        """A command that serves until Ctrl-C: start it, wait until it prints ``ready``, then
        interrupt it as a terminal would (SIGINT to its process group); what it printed."""
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {cmd.text}"], cwd=self.cwd, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(proc.stdout or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.poll() is None and ready not in "".join(seen):
            time.sleep(0.2)
        up = ready in "".join(seen)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"{cmd.text!r} did not stop on Ctrl-C within 60 s") from None
        try:  # whatever it started in its session goes with it (a port left bound, say)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reader.join(timeout=10)
        out = "".join(seen)
        assert up, f"{cmd.text!r} never said {ready!r}:\n{out[-3000:]}"
        self.log.append(f"   serve  {cmd.text[:100]} (stopped with Ctrl-C: exit {proc.returncode})")
        return out


def problems(cmd: Command, proc: subprocess.CompletedProcess, expect: set[int]) -> list[str]:
    """What is wrong with a command's run: an unexpected exit code, a traceback, noise."""
    out = (proc.stdout or "") + (proc.stderr or "")
    found = []
    if proc.returncode not in expect:
        found.append(f"exit code {proc.returncode}, expected {sorted(expect)}")
    found += [f"printed {bad!r}" for bad in NEVER if bad in out]
    if found:
        return [f"line {cmd.line}: {cmd.text}\n  " + "; ".join(found) + "\n" + _tail(out)]
    return []


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join("    " + x for x in text.strip().splitlines()[-lines:])
