"""`credit` processes for the tests, forked from one that has already imported the product.

A `credit` command spent most of its time importing: SQLAlchemy, SQLModel and the models, Typer and
Rich (0.8 s of CPU), and Prefect with the flows for a command that runs one (1.1 s more). The CLI
tests run several hundred commands. This module's servers (``python tests/cli_zygote.py SOCKET
SCRIPT TIER``) import all of that once; each command is then a process forked from one, in the
test's folder, with the test's environment, arguments and output files, running the installed
script's entry point (`credit.console:main`) and ending as the script ends (exit handlers, exit
code, signal).

Two servers, because importing Prefect configures logging: a command that never imports it prints
a warning as a bare line, one that runs a flow in Prefect's format. The ``plain`` server imports
the product without Prefect; the ``flows`` server also imports Prefect (after the product's Prefect
defaults, as every command that runs a flow does) and the flows, and serves the commands of
:data:`FLOW_COMMANDS`. A command that runs a flow and is not listed imports Prefect itself, as the
script does: slower, not different.

What a fork does not show is a command's own start-up: a command that works only because some
other module was already imported. The real ``credit`` script still runs every command of the
README in order (tests/e2e/test_readme.py), every command's ``--help``
(test_every_command.py), `credit serve` and the commands around it (test_serve.py,
test_first_steps.py), and what the read commands import (test_cli.py); ``CREDIT_TEST_SCRIPT=1``
runs it for every command. A command whose folder has a file Prefect reads its settings from when
it is imported runs the script too. Each other environment (but for the ``CREDIT_*`` settings,
which nothing reads at import, and pytest's ``PYTEST_*``) gets servers of its own.

Protocol, on a Unix socket: the client sends one JSON request (``argv``, ``env``, ``cwd``) with
its stdout and stderr files attached (SCM_RIGHTS); the server forks a watcher, which forks the
command, answers ``{"pid": N}``, waits for it and answers ``{"status": S}`` (the wait status).
The server itself never runs a command, so each fork copies a quiet process.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Imported before Prefect: the entry point and the command line (Typer, Rich, the settings).
PRELOAD = ("credit.console", "credit.cli")
# Then every module of the product (SQLAlchemy, SQLModel, the models, Jinja, Babel, fpdf2, the
# web), for the ``flows`` server after the product's Prefect defaults the flows' packages (and
# Prefect), and what commands import when they first need it.
PACKAGES = {"plain": ("credit",), "flows": ("credit", "flows", "tasks")}
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
# Prefect reads its settings when it is imported, from the environment and from these files in the
# working folder: a command in a folder with one runs the script.
PREFECT_FILES = (".env", "prefect.toml", "pyproject.toml")
# The commands that run a flow in their process (their first words): the ``flows`` server's.
FLOW_COMMANDS = {
    ("approve",),
    ("reject",),
    ("assess",),
    ("collections", "run"),
    ("approvals", "sweep"),
    ("policy", "research"),
    ("research", "remind"),
    ("review", "start"),
    ("reviews", "start"),
}
MAX_ENVIRONMENTS = 3  # beyond that many environments in one test process, commands run the script


def tier(args: list[str]) -> str:
    """Which server forks `credit ARGS`."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-") or len(words) == 2:
            break
        words.append(arg)
    flows = tuple(words[:1]) in FLOW_COMMANDS or tuple(words) in FLOW_COMMANDS
    return "flows" if flows else "plain"


def preload(kind: str) -> None:
    """Import what the commands ``kind`` stands for import, in the order a command does."""
    import gc
    import importlib
    import pkgutil

    for name in PRELOAD:
        importlib.import_module(name)
    if kind == "flows":
        from credit.cli.running import prefect_defaults

        prefect_defaults()
    for package in PACKAGES[kind]:
        for module in pkgutil.walk_packages(
            importlib.import_module(package).__path__, package + "."
        ):
            importlib.import_module(module.name)
    for name in ON_FIRST_USE:
        importlib.import_module(name)
    gc.freeze()  # the commands' collections need not walk (and copy) what every fork shares


def _command(request: dict, fds: list[int], listener: socket.socket) -> None:
    """In the forked command: become `credit ARGV` in the test's folder, then end as the script
    ends (never returns)."""
    code = 1
    try:
        listener.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
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
        raw, fds, _flags, _addr = socket.recv_fds(conn, 1 << 22, 2)
        request = json.loads(raw)
        pid = os.fork()
        if pid == 0:
            conn.close()
            _command(request, fds, listener)
        listener.close()
        for fd in fds:
            os.close(fd)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        conn.sendall(json.dumps({"status": status}).encode() + b"\n")
    finally:
        os._exit(0)


def serve(path: str, kind: str, parent: int) -> None:
    """Import what the commands import, then fork a watcher for each connection; end with the
    test process ``parent``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in pytest's terminal is pytest's
    preload(kind)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the watchers are reaped as they end
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # it exists only once it listens
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


class _Server:
    """One server process: its folder (socket, log) and how to reach it."""

    def __init__(self, script: str, kind: str, env: dict[str, str]) -> None:
        self.folder = tempfile.mkdtemp(prefix="credit-zygote-")
        self.socket = os.path.join(self.folder, "socket")
        self.log = os.path.join(self.folder, "server.log")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                # Run as a file, as the script is: click names the program after it (`credit`).
                [sys.executable, __file__, self.socket, script, kind, str(os.getpid())],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 120
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"the tests' credit server did not start: see {self.log}")
            time.sleep(0.02)

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the tests' credit server ended (exit code {self.process.returncode}): see "
                f"{self.log}"
            )

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class Forks:
    """The client: `credit` commands forked from servers this test process starts on first use
    (xdist's workers each have theirs)."""

    def __init__(self, script: str, *, enabled: bool = True) -> None:
        self.script = script
        self.enabled = enabled
        self.servers: dict[tuple[str, tuple[tuple[str, str], ...]], _Server] = {}
        self.lock = threading.Lock()
        atexit.register(self.close)

    @staticmethod
    def _shared(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(
            sorted((k, v) for k, v in env.items() if not k.startswith(("CREDIT_", "PYTEST_")))
        )

    def forks(self, env: dict[str, str], cwd: Path) -> bool:
        """Whether a command with ``env`` in ``cwd`` is forked (else: the script runs)."""
        if not self.enabled or any((cwd / name).exists() for name in PREFECT_FILES):
            return False
        if "PREFECT_HOME" not in env:  # else each command's would be its folder's var/prefect
            return False
        shared = self._shared(env)
        return any(key[1] == shared for key in self.servers) or (
            len({key[1] for key in self.servers}) < MAX_ENVIRONMENTS
        )

    def _server(self, kind: str, env: dict[str, str]) -> _Server:
        key = (kind, self._shared(env))
        with self.lock:
            if key not in self.servers:
                self.servers[key] = _Server(self.script, kind, dict(key[1]))
            server = self.servers[key]
        server.check()
        return server

    def run(
        self, args: list[str], *, cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        """`credit ARGS`, as :func:`subprocess.run` with ``capture_output`` and ``text`` gives it
        (stdin: nothing)."""
        argv = [self.script, *args]
        if not self.forks(env, cwd):
            return subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        server = self._server(tier(args), env)
        request = json.dumps({"argv": argv, "env": env, "cwd": str(cwd)}).encode()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(server.socket)
                socket.send_fds(conn, [request], [out.fileno(), errors.fileno()])
                conn.settimeout(timeout)
                with conn.makefile("rb") as answers:
                    status = _status(answers, argv, timeout, out, errors)
            return subprocess.CompletedProcess(
                argv, os.waitstatus_to_exitcode(status), _text(out), _text(errors)
            )

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()


def _status(answers, argv: list[str], timeout: float, out, errors) -> int:
    """The command's wait status, from its watcher's two answers (the command killed after
    ``timeout`` seconds, as :func:`subprocess.run` kills it)."""
    pid = None
    try:
        first = answers.readline()
        if first:
            pid = json.loads(first)["pid"]
            second = answers.readline()
            if second:
                return json.loads(second)["status"]
    except TimeoutError:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise subprocess.TimeoutExpired(argv, timeout, _text(out), _text(errors)) from None
    raise RuntimeError(f"the tests' credit server lost `{' '.join(argv[1:])}`")


def _text(file) -> str:
    """A captured file's text, as ``subprocess.run(text=True)`` decodes it (universal newlines)."""
    file.seek(0)
    return file.read().decode().replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    # The script's folder first on the path, as when the script runs (not tests/, whose packages
    # would hide the product's `flows`).
    sys.path[0] = os.path.dirname(sys.argv[2])
    serve(sys.argv[1], sys.argv[3], int(sys.argv[4]))
