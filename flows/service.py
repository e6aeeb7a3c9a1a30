"""The one long-lived process of a single box (``credit serve``).

In one process: Prefect's ``serve`` runs every deployment and its schedules (main thread); a
heartbeat says the service is alive (commands then hand their follow-ups over); workers claim
follow-ups the moment a decision commits them and run their flows here, against the Prefect
server (each run shows in its UI); a delivery loop sends what the outbox holds; and the web app
serves the approval page. SIGTERM or Ctrl-C stops the schedules, lets the running follow-ups
finish, gives back what was not started and signs the service off.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from credit.app import App
from credit.cli.remote import CommandServer
from credit.services import followups, service_state
from flows import followups as runner
from flows.serve import serve_all

log = logging.getLogger("credit.service")


class StopRequested(Exception):  # noqa: N818  (a request, not an error)
    """SIGTERM arrived while Prefect's runner was not there to take it."""


def _stop_requested(_signum: int, _frame: object) -> None:
    raise StopRequested


@dataclass
class Web:
    """Where the service's web app listens (None: no web app)."""

    host: str
    port: int
    make_app: Callable[[Callable[[int, date], None]], Any]  # on_decided -> ASGI app


@dataclass
class Service:
    app: App
    prefect_url: str | None
    web: Web | None = None
    workers: int = 2
    deliver_every: float = 2.0
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    claimer: str = field(default_factory=lambda: followups.claimer_name("service"))

    def _beat(self, instance: str) -> None:
        while not self.stop.wait(service_state.BEAT_EVERY.total_seconds()):
            try:
                service_state.beat(self.app, instance)
                followups.renew(self.app, claimer=self.claimer, ids=runner.running_now())
            except Exception:
                log.exception("heartbeat failed; trying again")

    def _deliver(self) -> None:
        from credit import services

        while not self.stop.wait(self.deliver_every):
            try:
                services.deliver(self.app)
            except Exception:
                log.exception("delivering the outbox failed; trying again")

    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        return t

    def _command_server(self) -> CommandServer | None:
        """Decisions commands on this machine send here (credit.cli.remote)."""
        where = f"credit serve on {socket.gethostname()[:120]} (pid {os.getpid()})"
        try:
            server = CommandServer(self.app, where=where, after=self.wake.set)
        except OSError:  # a path too long for a socket, a folder not writable: commands commit
            log.warning(
                "no command socket: commands record their decisions themselves", exc_info=True
            )
            return None
        server.serve_in_thread()
        return server

    def _web_server(self) -> Any:
        import uvicorn

        assert self.web is not None
        asgi = self.web.make_app(lambda _request_id, _as_of: self.wake.set())
        # log_config=None: uvicorn would otherwise reconfigure logging (dictConfig), which
        # flushes Prefect's API log handler while holding logging's lock: with a flow running in
        # a worker thread that waits for the same lock, the service deadlocked (seen in CI).
        return uvicorn.Server(
            uvicorn.Config(
                asgi, host=self.web.host, port=self.web.port, log_level="warning", log_config=None
            )
        )

    def run(self, *, timezone: str, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGTERM or Ctrl-C (a SIGTERM before the schedules run, or while the
        service stops, stops it just as cleanly: Prefect's own handler exists only meanwhile)."""
        signal.signal(signal.SIGTERM, _stop_requested)
        try:
            self._run(timezone=timezone, on_ready=on_ready)
        except StopRequested:
            pass

    def _run(self, *, timezone: str, on_ready: Callable[[], None] | None) -> None:
        web_url = f"http://{self.web.host}:{self.web.port}" if self.web else None
        parts = _Parts()
        try:
            followups.release_dead(self.app, alive=set())
            parts.instance = service_state.register(
                self.app, prefect_url=self.prefect_url, web_url=web_url
            )
            instance = parts.instance
            # The web server is made before any thread runs a flow (see _web_server).
            parts.web = self._web_server() if self.web else None
            parts.threads.append(self._thread("heartbeat", lambda: self._beat(instance)))
            for n in range(self.workers):
                parts.threads.append(
                    self._thread(
                        f"follow-ups-{n}",
                        lambda: runner.work(
                            self.app, claimer=self.claimer, stop=self.stop, wake=self.wake
                        ),
                    )
                )
            parts.threads.append(self._thread("delivery", self._deliver))
            parts.commands = self._command_server()
            if parts.web is not None:
                parts.web_thread = self._thread("web", parts.web.run)
                _wait_listening(parts.web, parts.web_thread)
            if on_ready is not None:
                on_ready()
            serve_all(timezone=timezone)
        except StopRequested:
            pass
        finally:
            self._stop_all(parts)

    def _stop_all(self, parts: _Parts) -> None:
        """Stop taking work, then let the work under way finish: sign off first (commands on
        this machine then run their follow-ups themselves), close the socket and the web app
        (their requests under way answered), then the workers end after the follow-up each is
        running. One that is still running after a minute keeps its claim: the next service
        takes it over (this process is gone by then)."""
        # Stopping already: a second SIGTERM or Ctrl-C must not cut this short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if parts.instance is not None:
            service_state.sign_off(self.app, parts.instance)
        if parts.commands is not None:
            parts.commands.close()
        if parts.web is not None:
            parts.web.should_exit = True
            if parts.web_thread is not None:
                parts.web_thread.join(timeout=10)
        self.stop.set()
        self.wake.set()
        deadline = time.monotonic() + 60
        for t in parts.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))


def _wait_listening(server: Any, thread: threading.Thread, seconds: float = 60) -> None:
    """Until the web server listens (or its thread ended: a port taken meanwhile), so that what
    says the service is ready holds for the web app too."""
    deadline = time.monotonic() + seconds
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        log.warning("the web app is not listening yet; serving the rest")


@dataclass
class _Parts:
    """What a running service started (for stopping it in order)."""

    instance: str | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    commands: CommandServer | None = None
    web: Any = None
    web_thread: threading.Thread | None = None
