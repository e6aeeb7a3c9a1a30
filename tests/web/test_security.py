"""The workspace's doors, tested as an attacker meets them: every route × every role (a route
without an access rule fails here), CSRF missing or wrong, session fixation, cookie flags,
timeouts, sign-out, a thousand wrong passwords, a signed link opened by someone else, headers."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlmodel import select

from credit.db.models import AuditEvent, SignInAttempt, WebSession, utcnow
from credit.services import accounts
from credit.web import create_app
from credit.web.auth import PUBLIC, SESSION_COOKIE, Access, cookie_value
from tests.integration.test_web import link_of, path
from tests.web.conftest import AS_ROLE, PASSWORD, Workspace, csrf_of

# Values for the path parameters of the workspace's routes (the helpers' brief names them).
PARAMS = {
    "code": "C-1001",
    "id": "1",
    "subject": "request",
    "version": "1",
    "notice_id": "1",
    "kind": "customers",
    "token": "not-a-token",
    "entry_id": "1",
}


def rules(web) -> list[tuple[str, str, Access]]:
    """(method, path, rule) of every route; a route without an Access rule fails the test."""
    found = []
    routes = []
    for entry in web.routes:  # FastAPI 0.150 includes a router lazily: walk into it
        inner = getattr(entry, "original_router", None)
        routes.extend(inner.routes if inner is not None else [entry])
    for route in routes:
        if not isinstance(route, APIRoute):
            assert route.path in ("/openapi.json", "/docs", "/redoc"), route.path
            continue
        access = [d.call for d in route.dependant.dependencies if isinstance(d.call, Access)]
        assert len(access) == 1, f"{route.path} has no access rule (Depends(Access(...)))"
        for method in sorted(route.methods):
            found.append((method, route.path, access[0]))
    return found


def concrete(template: str) -> str:
    def fill(m: re.Match) -> str:
        name = m.group(1).split(":")[0]
        assert name in PARAMS, f"{template}: path parameter {name!r} has no test value"
        return PARAMS[name]

    return re.sub(r"\{([^}]+)\}", fill, template)


def session_for(app, username: str) -> httpx.Cookies:
    """A session without the password check (the table below opens hundreds)."""
    signed = accounts.open_session(app, username=username, method="password", client="test")
    cookies = httpx.Cookies()
    cookies.set(SESSION_COOKIE, cookie_value(app, signed.token))
    return cookies


def test_every_route_refuses_the_roles_it_is_not_for(workspace: Workspace):
    app = workspace.app
    table = rules(create_app(app))
    assert len(table) > 5
    people = {role: (user, accounts.roles_of(app, user)) for role, user in AS_ROLE.items()}
    clients = {
        role: httpx.Client(base_url=workspace.base, cookies=session_for(app, user), timeout=30)
        for role, (user, _roles) in people.items()
    }
    tokens = {role: csrf_of(c.get("/").text) for role, c in clients.items()}
    table.sort(key=lambda rule: rule[1] == "/signout")  # it ends the session: last
    checked = 0
    with httpx.Client(base_url=workspace.base, timeout=30) as anonymous:
        for method, template, rule in table:
            url = concrete(template)
            if PUBLIC in rule.roles:
                continue
            answer = anonymous.request(method, url)
            assert answer.status_code == 303, (method, url, answer.status_code)
            assert answer.headers["location"].startswith("/signin"), (method, url)
            for role, (_user, roles) in people.items():
                data = {"csrf": tokens[role]} if method == "POST" else {}
                answer = clients[role].request(method, url, data=data)
                if rule.allows(roles, signed_in=True):
                    assert answer.status_code not in (401, 403), (method, url, role, answer.text)
                    went = answer.headers.get("location", "")
                    assert not went.startswith("/signin?next"), (method, url, role)
                else:
                    assert answer.status_code == 403, (method, url, role, answer.status_code)
                    assert "Not for your role" in answer.text
                checked += 1
    for c in clients.values():
        c.close()
    assert checked >= len(AS_ROLE)


def test_a_post_without_or_with_a_wrong_csrf_token_changes_nothing(workspace: Workspace):
    with workspace.client("olga.operator") as c:
        for data in ({}, {"csrf": "wrong"}, {"csrf": ""}):
            answer = c.post("/signout", data=data)
            assert answer.status_code == 403 and "could not be verified" in answer.text
        assert c.get("/").status_code == 200  # still signed in: nothing changed
        # the token of another session is wrong too
        with workspace.client("cora.collector") as other:
            theirs = csrf_of(other.get("/").text)
        assert c.post("/signout", data={"csrf": theirs}).status_code == 403
        # a cross-site sign-in form (login CSRF) without the page's cookie is refused
    with httpx.Client(base_url=workspace.base) as fresh:
        answer = fresh.post(
            "/signin", data={"username": "mia.analyst", "password": PASSWORD, "csrf": "x"}
        )
        assert answer.status_code == 403 and SESSION_COOKIE not in answer.cookies


def test_sign_in_gives_a_new_session_and_sign_out_ends_it_on_the_server(workspace: Workspace):
    app = workspace.app
    with httpx.Client(base_url=workspace.base) as c:
        # session fixation: a session id planted before sign-in is not the one after it
        planted = session_for(app, "cora.collector")[SESSION_COOKIE]
        c.cookies.set(SESSION_COOKIE, planted)
        page = c.get("/signin?next=/")
        assert page.status_code == 303  # already signed in (as the planted session's person)
        c.cookies.clear()
        c.cookies.set(SESSION_COOKIE, planted)
        c.cookies.set("credit_signin", "t")
        answer = c.post(
            "/signin",
            data={"username": "mia.analyst", "password": PASSWORD, "csrf": "t", "next": "/"},
        )
        assert answer.status_code == 303
        issued = answer.cookies[SESSION_COOKIE]
        assert issued != planted
        # the planted one was ended by the sign-in
        with httpx.Client(base_url=workspace.base, cookies={SESSION_COOKIE: planted}) as old:
            assert old.get("/").status_code == 303
        c.cookies.clear()
        c.cookies.set(SESSION_COOKIE, issued)
        home = c.get("/")
        assert "Mia Schneider" in home.text
        # sign-out ends it server-side: the same cookie replayed signs nobody in
        assert c.post("/signout", data={"csrf": csrf_of(home.text)}).status_code == 303
    with httpx.Client(base_url=workspace.base, cookies={SESSION_COOKIE: issued}) as replay:
        assert replay.get("/").status_code == 303
    with app.uow() as uow:
        ended = uow.session.exec(select(WebSession).where(WebSession.username == "mia.analyst"))
        assert {s.ended_reason for s in ended} == {"signed out"}
        actions = [
            (e.actor, e.action, (e.via or {}).get("channel"))
            for e in uow.session.exec(
                select(AuditEvent).where(AuditEvent.entity_id == "mia.analyst")
            )
        ]
    assert ("mia.analyst", "session.signed_in", "web") in actions
    assert ("mia.analyst", "session.signed_out", "web") in actions


def test_cookie_flags_and_security_headers(workspace: Workspace):
    with httpx.Client(base_url=workspace.base) as c:
        form = c.get("/signin")
        answer = c.post(
            "/signin",
            data={"username": "mia.analyst", "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback; behind https it is (next test)
    headers = form.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "<script" not in form.text and 'style="' not in form.text


def test_cookies_are_secure_behind_https(ledger, monkeypatch):
    from tests.web.conftest import add_accounts, serving

    monkeypatch.setenv("CREDIT_WEB_BASE_URL", "https://credit.example.com")
    from credit.app import App
    from credit.settings import Settings

    app = App(Settings.load())
    add_accounts(app)
    with serving(create_app(app)) as base, httpx.Client(base_url=base) as c:
        form = c.get("/signin")
        signin_cookie = next(
            v for k, v in form.headers.multi_items() if k == "set-cookie" and "credit_signin" in v
        )
        assert "Secure" in signin_cookie
        token = csrf_of(form.text)
        c.cookies.clear()  # httpx keeps Secure cookies off plain http: send it as a proxy would
        answer = c.post(
            "/signin",
            data={"username": "mia.analyst", "password": PASSWORD, "csrf": token},
            headers={"cookie": f"credit_signin={token}"},
        )
        cookie = next(
            v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
        )
        assert "Secure" in cookie
        assert "max-age" in answer.headers["strict-transport-security"]


def test_idle_and_absolute_timeouts_end_a_session(workspace: Workspace):
    app = workspace.app
    with workspace.client("mia.analyst") as c:
        assert c.get("/").status_code == 200
        with app.uow() as uow:
            [s] = uow.session.exec(
                select(WebSession).where(
                    WebSession.username == "mia.analyst", WebSession.ended_at.is_(None)
                )
            )
            s.last_seen_at = utcnow() - timedelta(minutes=31)
            uow.commit()
        assert c.get("/").status_code == 303
    with workspace.client("mia.analyst") as c:
        with app.uow() as uow:
            [s] = uow.session.exec(
                select(WebSession).where(
                    WebSession.username == "mia.analyst", WebSession.ended_at.is_(None)
                )
            )
            s.created_at = utcnow() - timedelta(hours=13)
            uow.commit()
        assert c.get("/").status_code == 303
    with app.uow() as uow:
        reasons = {s.ended_reason for s in uow.session.exec(select(WebSession))}
    assert {"idle", "expired"} <= reasons


def test_a_tampered_cookie_signs_nobody_in(workspace: Workspace):
    cookies = session_for(workspace.app, "olga.operator")
    token, _, mac = cookies[SESSION_COOKIE].partition(".")
    other = "y" if token[0] == "x" else "x"  # a token may well start with an x
    for forged in (token, f"{token}.{'0' * len(mac)}", f"{other}{token[1:]}.{mac}", "garbage"):
        with httpx.Client(base_url=workspace.base, cookies={SESSION_COOKIE: forged}) as c:
            assert c.get("/").status_code == 303


def test_a_thousand_wrong_passwords_are_throttled(workspace: Workspace):
    app = workspace.app
    started = time.monotonic()
    statuses: list[int] = []
    with httpx.Client(base_url=workspace.base, timeout=30) as c:
        csrf = csrf_of(c.get("/signin").text)
        for i in range(1000):
            answer = c.post(
                "/signin", data={"username": "mia.analyst", "password": f"guess {i}", "csrf": csrf}
            )
            statuses.append(answer.status_code)
            csrf = csrf_of(answer.text)  # each answer is a new form with a new token
        # even the right password is refused while the account is throttled
        right = c.post(
            "/signin", data={"username": "mia.analyst", "password": PASSWORD, "csrf": csrf}
        )
    elapsed = time.monotonic() - started
    assert statuses[: accounts.ACCOUNT_FAILURES] == [401] * accounts.ACCOUNT_FAILURES
    assert set(statuses[accounts.ACCOUNT_FAILURES :]) == {429}
    assert right.status_code == 429 and "Too many failed sign-ins" in right.text
    assert elapsed < 120  # throttled attempts check no password
    with app.uow() as uow:
        attempts = list(uow.session.exec(select(SignInAttempt)))
        throttled = list(
            uow.session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in.throttled"))
        )
    assert sum(1 for a in attempts if a.throttled) == 1001 - accounts.ACCOUNT_FAILURES
    assert len(throttled) == 1
    # another account from another address is not locked out by this one
    with workspace.client("cora.collector") as other:
        assert other.get("/").status_code == 200


def test_wrong_passwords_from_one_address_across_accounts_are_throttled(workspace: Workspace):
    with httpx.Client(base_url=workspace.base, timeout=30) as c:
        csrf = csrf_of(c.get("/signin").text)
        people = [p.username for p in workspace.app.directory.approvers]
        codes = []
        for i in range(accounts.ADDRESS_FAILURES + 3):
            answer = c.post(
                "/signin",
                data={"username": people[i % len(people)], "password": "no", "csrf": csrf},
            )
            codes.append(answer.status_code)
            csrf = csrf_of(answer.text)
    assert codes[-1] == 429 and 401 in codes


@pytest.mark.parametrize("who", ["mia.analyst", "carla.manager"])
def test_a_signed_link_opened_by_another_signed_in_person_is_refused(workspace: Workspace, who):
    from tests.integration.test_lifecycle_services import review

    app = workspace.app
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)  # sent to carla.manager (level 1)
    with workspace.client(who) as c:
        answer = c.get(path(url))
    if who == "carla.manager":
        assert answer.status_code == 200 and 'id="proposal"' in answer.text
        return
    assert answer.status_code == 403
    assert "signed in as mia.analyst" in answer.text
    # signed out it works as before
    with httpx.Client(base_url=workspace.base) as c:
        assert c.get(path(url)).status_code == 200
    with app.uow() as uow:
        refused = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "approval_link.refused")
        ).all()
    assert refused and refused[-1].actor == "carla.manager"


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(workspace: Workspace):
    app = workspace.app
    with workspace.client("cora.collector") as c:
        assert c.get("/").status_code == 200
        accounts.disable_user(app, username="cora.collector", by="olga.operator", reason="left")
        assert c.get("/").status_code == 303
    with httpx.Client(base_url=workspace.base) as c:
        csrf = csrf_of(c.get("/signin").text)
        answer = c.post(
            "/signin", data={"username": "cora.collector", "password": PASSWORD, "csrf": csrf}
        )
        assert answer.status_code == 401


def test_after_sign_in_the_person_goes_only_to_a_page_of_this_site(workspace: Workspace):
    with httpx.Client(base_url=workspace.base) as c:
        for target, expected in (
            ("/customers", "/customers"),
            ("https://evil.example/", "/"),
            ("//evil.example/", "/"),
            ("/\\evil.example", "/"),
        ):
            c.cookies.clear()
            csrf = csrf_of(c.get("/signin").text)
            answer = c.post(
                "/signin",
                data={
                    "username": "mia.analyst",
                    "password": PASSWORD,
                    "csrf": csrf,
                    "next": target,
                },
            )
            assert answer.headers["location"] == expected, target
