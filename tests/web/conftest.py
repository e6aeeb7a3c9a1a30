"""The workspace under test: the sample ledger, an account for every person in the directory,
the web app on a real loopback server; httpx clients and Chromium pages signed in as anyone."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import httpx
import pytest
import uvicorn

from credit.app import App
from credit.web import create_app

DAY = date(2026, 10, 1)
PASSWORD = "sample-password-2026"  # every test account's
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# One person per workspace role in the sample directory (config/approvers.yaml).
AS_ROLE = {
    "manager": "carla.manager",
    "analyst": "mia.analyst",
    "approver": "ben.manager",
    "collector": "cora.collector",
    "committee": "fiona.director",
    "operator": "olga.operator",
    "sales": "sam.sales",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Workspace:
    app: App
    base: str
    woken: list[date] = field(default_factory=list)  # follow-ups handed over by pages

    def client(self, username: str | None = None) -> httpx.Client:
        """An httpx client, signed in as ``username`` when given."""
        cookies = httpx.Cookies()
        if username is not None:
            with httpx.Client(base_url=self.base, timeout=30) as first:
                sign_in(first, username)
                cookies = first.cookies
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=30, cookies=cookies)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    from credit.services.accounts import _HASHER

    return _HASHER.hash(PASSWORD)


def add_accounts(app: App) -> None:
    """An account for everyone in the directory, all with PASSWORD: the Argon2 hash is made
    once per test session (nine hashes took 3 s of every test's set-up); sign-in checks it
    as usual. `credit users add` itself is tested in tests/e2e/test_users_cli.py."""
    from credit.db.models import UserAccount, utcnow

    with app.uow() as uow:
        for person in app.directory.approvers:
            uow.session.add(
                UserAccount(
                    username=person.username,
                    password_hash=_password_hash(),
                    password_set_at=utcnow(),
                )
            )
        uow.commit()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/signin")
    answer = client.post(
        "/signin",
        data={"username": username, "password": password, "csrf": csrf_of(page.text), "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    return answer


@contextmanager
def serving(web: Any, port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def workspace(ledger: App) -> Iterator[Workspace]:
    """The sample ledger with everyone's account, served on loopback (business date DAY).
    Follow-ups that pages hand over wait in the queue (``woken`` records each hand-over)."""
    add_accounts(ledger)
    woken: list[date] = []
    web = create_app(ledger, on_decided=lambda _rid, as_of: woken.append(as_of), today=lambda: DAY)
    with serving(web) as base:
        yield Workspace(ledger, base, woken)


def needs_chromium() -> None:
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium: `apt-get install chromium` (.ci/run installs it)")


@contextmanager
def browser_page(base: str, username: str | None = None) -> Iterator[Any]:
    """A Chromium page (Playwright), signed in through the sign-in form when ``username``."""
    needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(base_url=base).new_page()
            if username is not None:
                page_sign_in(page, username)
            yield page
        finally:
            browser.close()


def page_sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/signin")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_url(re.compile(r".*/$|.*/[^s][^/]*$"))
    assert "Sign out" in page.inner_text("header"), page.inner_text("body")[:500]
