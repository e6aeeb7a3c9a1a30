"""Single sign-on over OpenID Connect (authorization code flow with PKCE, S256).

The identity provider is named by ``CREDIT_OIDC_ISSUER`` (its discovery document says where to
send the person and where to fetch tokens and keys); ``CREDIT_OIDC_CLIENT_ID`` and
``CREDIT_OIDC_CLIENT_SECRET`` are this app's registration there, and the redirect URI is
``CREDIT_WEB_BASE_URL/sso/callback``. The ID token's signature, issuer, audience, expiry and
nonce are checked with ``joserfc`` (the JOSE library of Authlib's author, which Authlib's own
``jose`` module now points to); the claim ``CREDIT_OIDC_CLAIM`` (email by default) must name a
person in the directory. The state, nonce and PKCE verifier travel in a short-lived cookie signed
with the web secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from credit.app import App
from credit.services import accounts, links
from credit.web.auth import PUBLIC, Access, safe_next, secure_cookies, set_session_cookie
from credit.web.deps import SiteDep

router = APIRouter()
STATE_COOKIE = "credit_sso"
_TTL = 600  # seconds a sign-in at the provider may take
_DISCOVERY: dict[str, tuple[float, dict[str, Any]]] = {}


class SsoFailed(Exception):
    pass


def _configured(app: App) -> tuple[str, str]:
    s = app.settings
    if not (s.oidc_issuer and s.oidc_client_id):
        raise SsoFailed(
            "Single sign-on is not set up here (CREDIT_OIDC_ISSUER, CREDIT_OIDC_CLIENT_ID)."
        )
    return s.oidc_issuer.rstrip("/"), s.oidc_client_id


def discovery(issuer: str) -> dict[str, Any]:
    """The provider's OpenID configuration (kept for an hour)."""
    cached = _DISCOVERY.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < 3600:
        return cached[1]
    try:
        answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
        answer.raise_for_status()
        found = dict(answer.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoFailed(f"The identity provider at {issuer} could not be reached ({exc}).") from exc
    if found.get("issuer", "").rstrip("/") != issuer:
        raise SsoFailed("The identity provider's discovery document names another issuer.")
    _DISCOVERY[issuer] = (time.monotonic(), found)
    return found


def _sign(app: App, data: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    mac = hmac.new(links.web_secret(app), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unsign(app: App, value: str) -> dict[str, Any] | None:
    body, _, mac = value.partition(".")
    expected = hmac.new(links.web_secret(app), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, expected):
        return None
    data = json.loads(base64.urlsafe_b64decode(body))
    return data if isinstance(data, dict) and data.get("exp", 0) > time.time() else None


def _redirect_uri(app: App) -> str:
    return f"{app.settings.web_base_url}/sso/callback"


@router.get("/sso/start", dependencies=[Depends(Access(PUBLIC))])
def start(request: Request, here: SiteDep, next: str = "/") -> Response:
    app = here.app
    try:
        issuer, client_id = _configured(app)
        endpoint = discovery(issuer)["authorization_endpoint"]
    except SsoFailed as exc:
        return here.pages.message("Single sign-on is not available", str(exc), ok=False, status=503)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": _redirect_uri(app),
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{endpoint}?{query}", status_code=303)
    carried = {"state": state, "nonce": nonce, "verifier": verifier, "next": safe_next(next)}
    response.set_cookie(
        STATE_COOKIE,
        _sign(app, {**carried, "exp": time.time() + _TTL}),
        httponly=True,
        samesite="lax",  # it must come back on the provider's top-level redirect
        secure=secure_cookies(app, request),
        path="/sso",
        max_age=_TTL,
    )
    return response


def _id_token_claims(app: App, *, code: str, carried: dict[str, Any]) -> dict[str, Any]:
    issuer, client_id = _configured(app)
    meta = discovery(issuer)
    try:
        answer = httpx.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _redirect_uri(app),
                "code_verifier": carried["verifier"],
                "client_id": client_id,
            },
            auth=(client_id, app.settings.oidc_client_secret or ""),
            timeout=10,
        )
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"], timeout=10).json())
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise SsoFailed(f"The identity provider did not give an ID token ({exc}).") from exc
    try:
        token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": carried["nonce"]},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SsoFailed(f"The ID token could not be verified ({exc}).") from exc
    return dict(token.claims)


@router.get("/sso/callback", dependencies=[Depends(Access(PUBLIC))])
def callback(
    *, request: Request, here: SiteDep, code: str = "", state: str = "", error: str = ""
) -> Response:
    app = here.app
    carried = _unsign(app, request.cookies.get(STATE_COOKIE, ""))
    try:
        if error:
            raise SsoFailed(f"The identity provider refused the sign-in ({error[:100]}).")
        if carried is None or not state or not hmac.compare_digest(state, carried["state"]):
            raise SsoFailed("The sign-in could not be matched to this browser; start again.")
        claims = _id_token_claims(app, code=code, carried=carried)
        value = str(claims.get(app.settings.oidc_claim) or "")
        username = accounts.link_oidc(
            app, claim_value=value, subject=f"{claims['iss']}|{claims['sub']}"
        )
        client = request.client.host if request.client else "unknown"
        signed = accounts.open_session(app, username=username, method="oidc", client=client)
    except (SsoFailed, accounts.SignInRefused) as exc:
        failed = here.pages.message("Single sign-on failed", str(exc), ok=False, status=401)
        failed.delete_cookie(STATE_COOKIE, path="/sso")
        return failed
    response = RedirectResponse(carried["next"], status_code=303)
    set_session_cookie(app, request, response, signed.token)
    response.delete_cookie(STATE_COOKIE, path="/sso")
    return response
