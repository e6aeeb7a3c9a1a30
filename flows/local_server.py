"""Prefect's local mode, started before Prefect is imported.

Without a Prefect server (no ``PREFECT_API_URL``), Prefect's client starts a temporary server in a
subprocess the first time it needs the API: it first imports that server's code itself (about
1.5 s, only to reach the class that starts it), then starts the subprocess, which imports the same
code again (about 3 s) before it answers. The two imports run one after the other.

:func:`start_early` starts the very same server (the command and settings Prefect's
``SubprocessASGIServer`` uses, the same database under ``PREFECT_HOME``, so the runs are recorded
as before; its ``.env`` parsed once, :mod:`flows.env_file`) before this process imports Prefect: the server loads while the command loads the
flow. :func:`local_api` then points Prefect at it, unless Prefect's settings name a server of
their own (a profile, ``prefect.toml``) or forbid local mode; anything unexpected leaves Prefect
to start its own server as before. This module imports Prefect only inside :func:`local_api`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UVICORN = (
    "import sys; from flows.env_file import read_once; read_once(); "
    "from uvicorn.main import main; sys.argv[0] = 'uvicorn'; main()"
)


class LocalServer:
    """A Prefect server in a subprocess, for this command only (stopped when the process exits)."""

    def __init__(self, prefect_dir: Path) -> None:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.bind(("127.0.0.1", 0))  # a free port, chosen by the system
            self.port: int = sock.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                # uvicorn's command line, after .env is made to parse once (flows/env_file.py):
                # Prefect's server reads it over 300 times while it starts, and a line python-dotenv
                # cannot parse was a warning each time on the user's terminal.
                sys.executable, "-c", _UVICORN, "--app-dir", str(prefect_dir.parent),
                "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error", "--lifespan", "on",
            ],
            # as Prefect starts it: no UI, the services of a temporary server
            env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1"},
        )  # fmt: skip
        atexit.register(self.stop)

    def ready(self, timeout: float) -> bool:
        """Wait until the server answers; False if it ended or did not answer in ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.process is not None and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_started: list[LocalServer] = []  # this process's, once started


def start_early() -> LocalServer | None:
    """Start the local server now if Prefect would start one (no ``PREFECT_API_URL`` in the
    environment) and this process has not yet started it; None if Prefect would not."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    if _started:
        return _started[0]
    spec = importlib.util.find_spec("prefect")  # where Prefect is, without importing it
    if spec is None or spec.origin is None:
        return None
    try:
        _started.append(LocalServer(Path(spec.origin).parent))
    except OSError:
        return None
    return _started[0]


@contextmanager
def local_api(server: LocalServer | None) -> Iterator[None]:
    """Prefect uses ``server`` while the block runs, if its settings leave it to local mode."""
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        server.stop()  # a server of the user's own, or no local mode: Prefect's settings rule
        yield
        return
    if not server.ready(timeout=settings.server.ephemeral.startup_timeout_seconds):
        yield  # Prefect starts its own, as it would have
        return
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
