"""Sign-in, sign-out and the style sheet: the workspace's public doors."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from credit.resources import resource_dir
from credit.services import accounts, links
from credit.services.common import ServiceError
from credit.web.auth import (
    PUBLIC,
    SESSION_COOKIE,
    SIGNED_IN,
    SIGNIN_COOKIE,
    Access,
    Person,
    safe_next,
    secure_cookies,
    set_session_cookie,
    token_of,
)
from credit.web.deps import SiteDep

router = APIRouter()


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form(  # noqa: PLR0913  (the form's own fields)
    here: SiteDep,
    request: Request,
    *,
    status: int = 200,
    error: str = "",
    username: str = "",
    target: str = "/",
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = here.pages.page(
        "signin.html.j2",
        status,
        csrf=token,
        error=error,
        username=username,
        next=safe_next(target),
        sso=bool(here.app.settings.oidc_issuer and here.app.settings.oidc_client_id),
        me=None,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(here.app, request),
        path="/signin",
    )
    return response


@router.get("/signin", response_class=HTMLResponse, dependencies=[Depends(Access(PUBLIC))])
def signin_page(request: Request, here: SiteDep, next: str = "/") -> Response:
    if request.state.person is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(here, request, target=next)


@router.post("/signin", response_class=HTMLResponse, dependencies=[Depends(Access(PUBLIC))])
def signin(
    *,
    request: Request,
    here: SiteDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        links.web_secret(here.app)  # sessions are signed with it
    except ServiceError as exc:
        return here.pages.message("Sign-in is not available", str(exc), ok=False, status=503)
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not csrf or not hmac.compare_digest(csrf.encode(), cookie.encode()):
        return _form(
            here,
            request,
            status=403,
            error="The sign-in form could not be verified (it is old or came from another site). "
            "Please sign in again.",
            username=username,
            target=next,
        )
    try:
        signed = accounts.sign_in(
            here.app, username=username, password=password, client=_client(request)
        )
    except accounts.SignInRefused as exc:
        return _form(
            here,
            request,
            status=429 if exc.throttled else 401,
            error=str(exc),
            username=username,
            target=next,
        )
    # A new session id at every sign-in: a session planted before it is worth nothing.
    old = request.cookies.get(SESSION_COOKIE)
    if old and request.state.person is not None and token_of(here.app, old):
        accounts.sign_out(here.app, session=request.state.person.session)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(here.app, request, response, signed.token)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout", dependencies=[Depends(Access(SIGNED_IN))])
def signout(request: Request, here: SiteDep) -> Response:
    person: Person = request.state.person
    accounts.sign_out(here.app, session=person.session)
    response = RedirectResponse("/signin?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


_CSS: dict[str, str] = {}


@router.get("/static/app.css", dependencies=[Depends(Access(PUBLIC))])
def stylesheet() -> Response:
    if "app" not in _CSS:
        _CSS["app"] = (resource_dir("templates") / "web" / "static" / "app.css").read_text()
    return PlainTextResponse(
        _CSS["app"],
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )
