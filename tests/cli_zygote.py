"""`credit` processes for the tests, forked from one that has already imported the product.

A `credit` command spent most of its time importing: SQLAlchemy, SQLModel and the models, Typer and
Rich (0.8 s of CPU), and Prefect with the flows for a command that runs one (1.1 s more). The CLI
tests run several hundred commands. This module's server (``python tests/cli_zygote.py SOCKET``)
imports all of that once; each command is then a process forked from it, in the test's folder,
with the test's environment, arguments and output files, running the installed script's entry
point (`credit.console:main`) and ending as the script ends (exit handlers, exit code, signal).

What a fork does not show is a command's own start-up: a command that works only because some
other module was already imported. The real ``credit`` script still runs every command of the
README in order (tests/e2e/test_readme.py), every command's ``--help``
(test_every_command.py), `credit serve` and the commands around it (test_serve.py,
test_first_steps.py), and what the read commands import (test_cli.py). :class:`Forks` also runs
the script for a command whose environment differs from the server's other than in its
``CREDIT_*`` settings (which nothing reads at import) and pytest's ``PYTEST_*``, or whose folder
has a file Prefect reads its settings from when it is imported; and for every command with
``CREDIT_TEST_SCRIPT=1``.

Protocol, on a Unix socket: the client sends one JSON request (``argv``, ``env``, ``cwd``) with
its stdout and stderr files attached (SCM_RIGHTS); the server forks a watcher, which forks the
command, answers ``{"pid": N}``, waits for it and answers ``{"status": S}`` (the wait status).
The server itself never runs a command or a thread, so each fork copies a quiet process."""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Imported before Prefect: the entry point and the command line (Typer, Rich, the settings).
PRELOAD = ("credit.console", "credit.cli")
# Then, after the product's Prefect defaults (as `credit.cli.running` sets them), every module of the
# product's packages (with them SQLAlchemy, SQLModel, the models, Prefect, Jinja, Babel, fpdf2, the
# web) and what commands import when they first need it. Prefect reads its settings when it is
# imported, from the environment and from the working folder's .env, prefect.toml and
# pyproject.toml: commands whose folder has one of these run the script (:meth:`Forks.serves`).
PACKAGES = ("credit", "flows", "tasks")
ON_FIRST_USE = (
    "babel.dates",
    "babel.numbers",
    "fontTools.ttLib",
    "holidays",
    "holidays.countries",
    "numpy",
    "pycountry",
    "schwifty",
    "sqlite3",
)
PREFECT_FILES = (".env", "prefect.toml", "pyproject.toml")


def preload() -> None:
    """Import what the commands import, in the order a command does."""
    import importlib
    import pkgutil

    for name in PRELOAD:
        importlib.import_module(name)
    from credit.cli.running import prefect_defaults

    prefect_defaults()
    for package in PACKAGES:
        for module in pkgutil.walk_packages(
            importlib.import_module(package).__path__, package + "."
        ):
            importlib.import_module(module.name)
    for name in ON_FIRST_USE:
        importlib.import_module(name)


def _command(request: dict, fds: list[int], listener: socket.socket) -> None:
    """In the forked command: become `credit ARGV` in the test's folder, then end as the script
    ends (never returns)."""
    code = 1
    try:
        listener.close()
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in (stdin, *fds):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        from credit.console import main

        try:
            main()
            code = 0
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                code = done.code or 0
            else:
                sys.stderr.write(f"{done.code}\n")
                code = 1
        # What the interpreter does at the end of a script (exit_now did it already when it could).
        import atexit
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # waits for non-daemon threads
        atexit._run_exitfuncs()

    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _watch(conn: socket.socket, listener: socket.socket) -> None:
    """In the forked watcher: fork the command, say its pid, wait for it, say how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        raw, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 2)
        request = json.loads(raw)
        pid = os.fork()
        if pid == 0:
            conn.close()
            _command(request, fds, listener)
        for fd in fds:
            os.close(fd)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        conn.sendall(json.dumps({"status": status}).encode() + b"\n")
    finally:
        os._exit(0)


def serve(path: str) -> None:
    """Import what the commands import, then fork a watcher for each connection."""
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the watchers are reaped as they end
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # it exists only once it listens
    parent = os.getppid()
    listener.settimeout(5)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone: so is its server
                return
            continue
        conn.settimeout(None)
        if os.fork() == 0:
            _watch(conn, listener)
        conn.close()


class Forks:
    """The client: `credit` commands forked from a server this test process starts on first use
    (one per pytest process: xdist's workers each have theirs)."""

    def __init__(self, script: str, *, enabled: bool = True) -> None:
        self.script = script
        self.enabled = enabled
        self.server: subprocess.Popen | None = None
        self.environment: dict[str, str] = {}
        self.socket = ""

    @staticmethod
    def _shared(env: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if not k.startswith(("CREDIT_", "PYTEST_"))}

    def _start(self, env: dict[str, str]) -> None:
        folder = tempfile.mkdtemp(prefix="credit-zygote-")
        self.socket = os.path.join(folder, "socket")
        self.environment = self._shared(env)
        self.server = subprocess.Popen(
            # Run as a file, as the script is: click names the program after it (`credit`).
            [sys.executable, __file__, self.socket, self.script],
            cwd=folder,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(folder, "server.log"), "w"),  # noqa: SIM115
        )
        atexit.register(self.close)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.socket):
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test's credit server did not start: see {folder}")
            time.sleep(0.02)

    def serves(self, env: dict[str, str], cwd: Path) -> bool:
        """Whether a command with ``env`` in ``cwd`` can be forked (else: run the script)."""
        if not self.enabled:
            return False
        if self.server is None:
            self._start(env)
        return (
            self._shared(env) == self.environment
            # else each command's Prefect home would be its folder's var/prefect
            and "PREFECT_HOME" in env
            and not any((cwd / name).exists() for name in PREFECT_FILES)
        )

    def run(
        self, args: list[str], *, cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        """`credit ARGS`, as :func:`subprocess.run` with ``capture_output`` and ``text`` gives it."""
        if not self.serves(env, cwd):
            return subprocess.run(
                [self.script, *args],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        request = {"argv": [self.script, *args], "env": env, "cwd": str(cwd)}
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(self.socket)
                socket.send_fds(
                    conn, [json.dumps(request).encode()], [out.fileno(), errors.fileno()]
                )
                conn.settimeout(timeout)
                answers = conn.makefile("rb")
                pid = json.loads(answers.readline())["pid"]
                try:
                    line = answers.readline()
                except TimeoutError:
                    os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired([self.script, *args], timeout) from None
                if not line:
                    raise RuntimeError(f"the test's credit server lost `credit {' '.join(args)}`")
                status = json.loads(line)["status"]
            return subprocess.CompletedProcess(
                [self.script, *args],
                os.waitstatus_to_exitcode(status),
                _text(out),
                _text(errors),
            )

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait()
            self.server = None


def _text(file) -> str:
    """A captured file's text, as ``subprocess.run(text=True)`` decodes it (universal newlines)."""
    file.seek(0)
    return file.read().decode().replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    # The script's folder first on the path, as when the script runs (not tests/, whose packages
    # would hide the product's `flows`).
    sys.path[0] = os.path.dirname(sys.argv[2])
    serve(sys.argv[1])
