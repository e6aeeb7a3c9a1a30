"""Decisions recorded by the running service on a command's behalf.

A command process spends most of its second loading SQLAlchemy, the tables and the services; a
running ``credit serve`` has them loaded. So a decision command on the service's machine sends
its decision over the service's socket (``CREDIT_RUN_DIR/credit.sock``, readable and writable by
this user only) and prints the answer: the service calls the same use case
(:mod:`credit.cli.operations`) with the same arguments, commits it with its follow-up, and starts
the follow-up at once. Without a socket that answers (no service, another machine, another
database), the command records the decision itself, exactly as before.

One request per connection: a JSON line in, a JSON line out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credit.settings import Settings

if TYPE_CHECKING:
    from credit.app import App

log = logging.getLogger("credit.remote")
SOCKET = "credit.sock"
TIMEOUT = 60.0  # seconds a command waits for the service's answer


def socket_path(settings: Settings) -> Path:
    return (settings.run_dir / SOCKET).absolute()


def database_of(settings: Settings) -> str:
    """Which database a request is about (a service answers for its own only): the URL without
    its password, a SQLite file by its absolute path (a relative one depends on the folder)."""
    url = settings.database_url
    scheme, sep, rest = url.partition(":///")
    if scheme.startswith("sqlite") and sep and rest and not rest.startswith(":memory:"):
        url = f"sqlite:///{Path(rest).resolve()}"
    elif "@" in url and "://" in url:
        head, _, tail = url.partition("://")
        creds, _, host = tail.rpartition("@")
        url = f"{head}://{creds.split(':', 1)[0]}@{host}"
    return hashlib.sha256(url.encode()).hexdigest()[:16]


class ServiceGone(RuntimeError):
    """The service took the request and stopped before answering: it may or may not have
    recorded the decision."""


def call(op: str, **kwargs: Any) -> dict[str, Any] | None:
    """Ask the running service to do ``op``; its result, or None when no service here answers
    (the caller then does it itself). A refusal raises :class:`RemoteRefusal`."""
    settings = Settings.load()
    path = socket_path(settings)
    try:
        if path.stat().st_uid != os.getuid():  # not this user's service: never trust it
            return None
    except OSError:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(TIMEOUT)
    try:
        conn.connect(str(path))
    except OSError:  # a socket a killed service left behind
        conn.close()
        return None
    from credit.acting import current

    request = {"op": op, "kwargs": kwargs, "database": database_of(settings), "via": current()}
    with conn:
        try:
            conn.sendall(json.dumps(request).encode() + b"\n")
        except OSError:  # the service closed its socket as it stopped: nothing was read
            return None
        try:
            answer = _read_line(conn)
        except OSError:  # a timeout, a reset after the request went: it may have been recorded
            answer = None
    if answer is None:
        raise ServiceGone(
            "the service stopped before it answered; `credit status` and the audit trail "
            "show whether the decision was recorded"
        )
    reply = json.loads(answer)
    if reply.get("other_database"):
        return None
    if not reply["ok"]:
        raise RemoteRefusal(reply["error"], unexpected=reply.get("unexpected", False))
    return dict(reply["result"])


def _read_line(conn: socket.socket) -> bytes | None:
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


class RemoteRefusal(Exception):
    """The service refused the request (the message is for the user) or failed on it."""

    def __init__(self, message: str, *, unexpected: bool) -> None:
        super().__init__(message)
        self.unexpected = unexpected


class _Handler(socketserver.StreamRequestHandler):
    server: CommandServer

    def handle(self) -> None:
        line = self.rfile.readline()
        if not line:
            return
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("kwargs"), dict):
                raise ValueError("not a request")
        except ValueError:
            reply: dict[str, Any] = {"ok": False, "error": "a malformed request was refused"}
        else:
            reply = self.server.answer(request)
        self.wfile.write(json.dumps(reply, default=str).encode() + b"\n")


class CommandServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The service's side: runs a command's operation and answers (see the module's doc)."""

    daemon_threads = True

    def __init__(self, app: App, *, where: str, after: Callable[[], None]) -> None:
        self.app, self.where, self.after = app, where, after
        self.path = socket_path(app.settings)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # one a killed service left behind
        super().__init__(str(self.path), _Handler)

    def server_bind(self) -> None:
        super().server_bind()
        # This user only (before it listens): the socket acts with --as on trust.
        os.chmod(self.path, 0o600)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        from credit.app import NotInitialised
        from credit.cli import operations
        from credit.config import ConfigError
        from credit.notices import NoticeError
        from credit.services.common import ServiceError
        from credit.settings import SettingsError

        if request.get("database") != database_of(self.app.settings):
            return {"ok": False, "other_database": True}
        operation = operations.OPERATIONS.get(str(request.get("op")))
        if operation is None:
            return {"ok": False, "error": f"the service does not know {request.get('op')!r}"}
        from credit.acting import acting

        via = request.get("via")
        try:
            with acting({**via, "relayed_by": "credit serve"} if isinstance(via, dict) else None):
                result = operation(self.app, **request["kwargs"])
        except (ServiceError, ConfigError, SettingsError, NotInitialised, NoticeError) as exc:
            return {"ok": False, "error": str(exc)}  # a refusal, as the command itself says it
        except Exception as exc:
            log.exception("a command's %s failed in the service", request.get("op"))
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "unexpected": True}
        self.after()
        return {"ok": True, "result": {**result, "service": self.where}}

    def serve_in_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, name="commands", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.path.unlink(missing_ok=True)
