"""Who is signed in, and what each route lets them do.

The session cookie carries a random token and its HMAC (``CREDIT_WEB_SECRET``); the database
keeps only the token's SHA-256 (:mod:`credit.services.accounts`). The middleware resolves the
session once per request, puts the person on ``request.state.person`` and sets how they act for
the audit trail. Every route declares its rule with :class:`Access` (a test walks the app's
routes: one without a rule fails). A rule refuses the wrong roles and, on every POST, a form
without the session's CSRF token."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credit.acting import acting
from credit.app import App
from credit.domain import workspace
from credit.services import accounts, links

SESSION_COOKIE = "credit_session"
SIGNIN_COOKIE = "credit_signin"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True)
class Person:
    """The signed-in person, as every page and action sees them."""

    username: str
    name: str
    roles: frozenset[str]
    session: accounts.SessionInfo

    @property
    def method(self) -> str:
        return self.session.method

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def via(self) -> dict[str, Any]:
        return {"channel": "web", "method": self.method, "session": self.session.id[:12]}


def _mac(app: App, token: str) -> str:
    return hmac.new(links.web_secret(app), token.encode(), hashlib.sha256).hexdigest()


def cookie_value(app: App, token: str) -> str:
    return f"{token}.{_mac(app, token)}"


def token_of(app: App, value: str) -> str | None:
    """The token of a session cookie whose signature holds."""
    token, _, mac = value.partition(".")
    if not token or not mac or not hmac.compare_digest(mac, _mac(app, token)):
        return None
    return token


def secure_cookies(app: App, request: Request) -> bool:
    """Cookies are Secure behind HTTPS (the request's, or the configured base URL's)."""
    return request.url.scheme == "https" or app.settings.web_base_url.startswith("https://")


def set_session_cookie(app: App, request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie_value(app, token),
        httponly=True,
        # Lax: a link to a page (in a notice, a chat) opens signed in; every change is a POST
        # with the session's CSRF token, which Lax does not send cross-site anyway.
        samesite="lax",
        secure=secure_cookies(app, request),
        path="/",
    )


def person_of(app: App, request: Request) -> Person | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    token = token_of(app, raw)
    if token is None:
        return None
    info = accounts.session_of(app, token)
    if info is None:
        return None
    entry = app.directory.get(info.username)
    if entry is None:
        return None
    return Person(info.username, entry.name, accounts.roles_of(app, info.username), info)


def middleware(app: App) -> Callable[[Request, Callable[..., Awaitable[Response]]], Awaitable[Any]]:
    """Resolve the session, act as its person for the audit trail, add the security headers."""

    async def resolve(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
        person = None
        if not request.url.path.startswith("/static/"):
            person = await run_in_threadpool(person_of, app, request)
        request.state.person = person
        with acting(person.via if person is not None else None):
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if secure_cookies(app, request):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return resolve


class Refused(Exception):
    """A request the route's rule does not allow: ``status`` 401 (sign in), 403 (role or CSRF)."""

    def __init__(self, status: int, title: str, text: str, *, sign_in: str | None = None) -> None:
        super().__init__(text)
        self.status, self.title, self.text, self.sign_in = status, title, text, sign_in


PUBLIC = "public"
SIGNED_IN = "signed in"


class Access:
    """A route's rule: ``Access(PUBLIC)``, ``Access(SIGNED_IN)`` or ``Access("analyst", ...)``.
    Used as a route dependency; the person it lets in is ``request.state.person``."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - {PUBLIC, SIGNED_IN, *workspace.ROLES}
        if unknown or not roles:
            raise ValueError(f"unknown access rule {sorted(unknown) or 'none'}")
        self.roles = frozenset(roles)

    def allows(self, roles: Iterable[str], *, signed_in: bool) -> bool:
        if PUBLIC in self.roles:
            return True
        if not signed_in:
            return False
        return SIGNED_IN in self.roles or bool(self.roles & set(roles))

    def __repr__(self) -> str:
        return f"Access({', '.join(sorted(self.roles))})"

    async def __call__(self, request: Request) -> None:
        if PUBLIC in self.roles:
            return
        person: Person | None = request.state.person
        if person is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise Refused(
                401,
                "Please sign in",
                "Your session has ended or you are not signed in.",
                sign_in="/signin?next=" + quote(target if request.method == "GET" else "/"),
            )
        if not self.allows(person.roles, signed_in=True):
            names = ", ".join(
                workspace.ROLE_NAMES[r] for r in sorted(self.roles) if r in workspace.ROLE_NAMES
            )
            yours = ", ".join(workspace.ROLE_NAMES[r] for r in sorted(person.roles)) or "none"
            raise Refused(
                403,
                "Not for your role",
                f"This is for: {names}. You are signed in as {person.username} (roles: {yours}).",
            )
        if request.method not in ("GET", "HEAD"):
            form = await request.form()
            sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
            if not hmac.compare_digest(sent.encode(), person.csrf.encode()):
                raise Refused(
                    403,
                    "The form could not be verified",
                    "The form's security token is missing or wrong (the page may be old, or it "
                    "was sent from another site). Nothing was changed: open the page again and "
                    "repeat.",
                )


def refused_response(pages: Any, exc: Refused, person: Person | None) -> Response:
    if exc.sign_in is not None:
        return RedirectResponse(exc.sign_in, status_code=303)
    return pages.message(exc.title, exc.text, ok=False, status=exc.status, me=person)


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path of this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
