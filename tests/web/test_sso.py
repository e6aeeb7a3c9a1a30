"""Single sign-on against a real OpenID Connect provider on loopback (a small one written here:
discovery, authorize, token with PKCE check, JWKS), through the browser's redirects."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlmodel import select

from credit.app import App
from credit.db.models import AuditEvent, UserAccount
from credit.settings import Settings
from credit.web import create_app
from tests.web.conftest import free_port, serving

CLIENT_ID, CLIENT_SECRET = "credit-app", "s3cret-of-the-client"


def provider(who: dict, tamper: dict) -> FastAPI:
    """An identity provider that signs in ``who['email']`` at once."""
    idp = FastAPI()
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    keys = KeySet([key])
    codes: dict[str, dict] = {}

    @idp.get("/.well-known/openid-configuration")
    def config(request: Request) -> dict:
        base = str(request.base_url).rstrip("/")
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
        }

    @idp.get("/authorize")
    def authorize(request: Request):
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        codes[code] = dict(q)
        return RedirectResponse(f"{q['redirect_uri']}?code={code}&state={q['state']}", 303)

    @idp.post("/token")
    def token(request: Request, code: str = Form(), code_verifier: str = Form()):
        asked = codes.pop(code, None)
        auth = base64.b64decode(request.headers["authorization"].split()[1]).decode()
        if asked is None or auth != f"{CLIENT_ID}:{CLIENT_SECRET}":
            return JSONResponse({"error": "invalid_grant"}, 400)
        digest = hashlib.sha256(code_verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != asked["code_challenge"]:
            return JSONResponse({"error": "invalid_grant", "why": "pkce"}, 400)
        base = str(request.base_url).rstrip("/")
        claims = {
            "iss": base, "aud": CLIENT_ID, "sub": who["sub"], "email": who["email"],
            "nonce": asked["nonce"], "iat": int(time.time()), "exp": int(time.time()) + 300,
            **tamper,
        }  # fmt: skip
        return {"id_token": jwt.encode({"alg": "RS256", "kid": "k1"}, claims, keys)}

    @idp.get("/jwks")
    def jwks() -> dict:
        return keys.as_dict(private=False)

    return idp


@pytest.fixture
def sso(ledger, monkeypatch):
    """The workspace with single sign-on at a provider that signs in whoever ``who`` names."""
    who = {"email": "fiona.meyer@example.com", "sub": "u-1"}
    tamper: dict = {}
    with serving(provider(who, tamper)) as idp:
        port = free_port()
        monkeypatch.setenv("CREDIT_OIDC_ISSUER", idp)
        monkeypatch.setenv("CREDIT_OIDC_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("CREDIT_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("CREDIT_WEB_BASE_URL", f"http://127.0.0.1:{port}")
        app = App(Settings.load())
        with serving(create_app(app), port=port) as base:
            yield app, base, who, tamper


def single_sign_on(base: str) -> tuple[httpx.Client, httpx.Response]:
    """Follow the browser's redirects from the sign-in page's button to the workspace."""
    c = httpx.Client(base_url=base, timeout=30)
    page = c.get("/signin?next=/customers")
    assert 'id="sso"' in page.text
    answer = c.get("/sso/start?next=/customers")
    while answer.status_code == 303 and not answer.headers["location"].startswith("/"):
        answer = c.get(answer.headers["location"])
    return c, answer


def test_a_person_signs_in_through_the_identity_provider(sso):
    app, base, _who, _tamper = sso
    c, answer = single_sign_on(base)
    assert answer.status_code == 303 and answer.headers["location"] == "/customers"
    home = c.get("/")
    assert "Fiona Meyer" in home.text
    c.close()
    with app.uow() as uow:
        account = uow.session.get(UserAccount, "fiona.director")
        signed = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "session.signed_in")
        ).one()
    assert account is not None and account.password_hash is None
    assert account.oidc_subject and account.oidc_subject.endswith("|u-1")
    assert signed.actor == "fiona.director" and signed.via["method"] == "oidc"


def test_someone_the_directory_does_not_know_is_refused(sso):
    _app, base, who, _tamper = sso
    who["email"] = "stranger@example.org"
    c, answer = single_sign_on(base)
    assert answer.status_code == 401 and "not in the directory" in answer.text
    assert c.get("/").status_code == 303


def test_a_token_with_another_nonce_or_audience_is_refused(sso):
    _app, base, _who, tamper = sso
    for bad in ({"nonce": "replayed"}, {"aud": "another-app"}, {"exp": int(time.time()) - 600}):
        tamper.clear()
        tamper.update(bad)
        c, answer = single_sign_on(base)
        assert answer.status_code == 401 and "could not be verified" in answer.text, bad
        assert c.get("/").status_code == 303


def test_a_callback_without_this_browsers_state_is_refused(sso):
    _app, base, _who, _tamper = sso
    with httpx.Client(base_url=base) as c:
        start = c.get("/sso/start")
        authorize = urlparse(start.headers["location"])
        state = parse_qs(authorize.query)["state"][0]
    with httpx.Client(base_url=base) as other:  # another browser: no state cookie
        answer = other.get(f"/sso/callback?code=x&state={state}")
        assert answer.status_code == 401 and "could not be matched" in answer.text
