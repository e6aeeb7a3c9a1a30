"""The Prefect server `credit serve` talks to: PREFECT_API_URL's, or else one it runs itself, in
a session of its own, for as long as it serves.

Prefect's local mode would start a temporary server in the command's process group: Ctrl-C in the
terminal then stopped that server first, and serve spent a minute retrying it before it could
stop. Here Ctrl-C reaches serve alone; serve stops, then its server. The server's state (runs, the
UI at its address) lives in PREFECT_HOME. A server left running by a service that was killed
(its pid and port are kept beside the logs) is taken over by the next one instead of a second
server being started next to it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

from credit.cli.output import console, error_log, fail


def _healthy(url: str) -> bool:
    import urllib.request  # 25 ms (http, email, ssl): loaded by the commands that start a server

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _free_port() -> int:
    """4200 (Prefect's usual port) when free, else any free one."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 4200)) != 0:
            return 4200
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return int(free.getsockname()[1])


def _home() -> str:
    return os.environ.get("PREFECT_HOME") or str(Path.home() / ".prefect")


def _left_behind(state: Path) -> tuple[int, str] | None:
    """A server a killed service left running for this PREFECT_HOME: (pid, url)."""
    try:
        kept = json.loads(state.read_text(encoding="utf-8"))
        pid, url = int(kept["pid"]), str(kept["url"])
        if kept.get("prefect_home") != _home():
            return None
        os.kill(pid, 0)
        owner = int(kept.get("owner", 0))
        if owner and owner != os.getpid():
            try:  # the service that started it is still there: it is not left behind
                os.kill(owner, 0)
                return None
            except ProcessLookupError:
                pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, url) if _healthy(url) else None


def _start(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    with log_path.open("a", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while not _healthy(url):
        if server.poll() is not None:
            fail(
                f"the Prefect server did not start (exit code {server.returncode}); see {log_path}"
            )
        if time.monotonic() > deadline:
            server.kill()
            fail(f"the Prefect server did not answer within 120 s; see {log_path}")
        time.sleep(0.5)
    return server, url


def _stop(pid: int, server: subprocess.Popen[bytes] | None) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    if server is not None:
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        return
    for _ in range(40):  # a server taken over is not our child: wait for it to go
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.5)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


@contextmanager
def prefect_server() -> Generator[None, None, None]:
    """PREFECT_API_URL set for as long as the block runs (see the module's doc)."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    log_path = error_log().with_name("prefect-server.log")
    state = error_log().with_name("prefect-server.json")
    server: subprocess.Popen[bytes] | None = None
    found = _left_behind(state)
    if found is not None:
        pid, url = found
        said = f"Prefect server left running by an earlier service (pid {pid}) taken over"
    else:
        server, url = _start(log_path)
        pid, said = server.pid, "Prefect server (and its UI)"
    state.write_text(
        json.dumps({"pid": pid, "url": url, "prefect_home": _home(), "owner": os.getpid()}),
        encoding="utf-8",
    )
    os.environ["PREFECT_API_URL"] = url
    console.print(f"{said} on {url.removesuffix('/api')}; its log: {log_path}", highlight=False)
    try:
        yield
    finally:
        _stop(pid, server)
        state.unlink(missing_ok=True)
