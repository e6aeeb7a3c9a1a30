"""The web app: its routers, their shared context and the refused-link page."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import date

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from credit.app import App
from credit.db.models import utcnow
from credit.services import links
from credit.web import (
    approval,
    approvals,
    auth,
    collections,
    credit_work,
    customers,
    health,
    home,
    operations,
    payments,
    signin,
    sso,
)
from credit.web.deps import Site, link_refused
from credit.web.pages import Pages

# The workspace's routers, each a role's pages; every route carries its Access rule.
ROUTERS = (
    health.router,
    signin.router,
    sso.router,
    approval.router,
    home.router,
    customers.router,
    credit_work.router,
    approvals.router,
    collections.router,
    payments.router,
    operations.router,
)


def create_app(
    app: App,
    *,
    on_decided: Callable[[int, date], None] | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """The web app; ``on_decided(request_id, as_of)`` continues the lifecycle after a decision.
    ``today`` is the business date of a decision (default: today in the company's time zone)."""
    web = FastAPI(title="Credit workspace", docs_url=None, redoc_url=None, openapi_url=None)
    here = Site(
        app=app,
        pages=Pages(app.settings),
        today=today or app.settings.today,
        on_decided=on_decided,
    )
    web.state.site = here
    web.add_exception_handler(links.LinkRefused, link_refused)

    def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.Refused)
        return auth.refused_response(here.pages, exc, getattr(request.state, "person", None))

    web.add_exception_handler(auth.Refused, refused)

    def unexpected(request: Request, exc: Exception) -> Response:
        """An error the product did not expect: the traceback to the log, one page here."""
        where = app.settings.log_dir / "web-errors.log"
        where.parent.mkdir(parents=True, exist_ok=True)
        with where.open("a", encoding="utf-8") as f:
            f.write(f"--- {utcnow().isoformat()} {request.method} {request.url.path}\n")
            f.write("".join(traceback.format_exception(exc)))
        return here.pages.message(
            "Something went wrong",
            "The page stopped on an unexpected error; nothing more than what was already "
            f"saved has changed. The details are in {where} on the server.",
            ok=False,
            status=500,
            me=getattr(request.state, "person", None),
        )

    web.add_exception_handler(Exception, unexpected)

    def invalid(request: Request, exc: Exception) -> Response:
        """A value in the address or the form that is not of its kind (a word for a number):
        one page saying which, never FastAPI's JSON."""
        assert isinstance(exc, RequestValidationError)
        details = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'value'}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        return here.pages.message(
            "That did not work",
            "A value in the address or the form is not what this page expects; nothing was "
            "changed.",
            ok=False,
            status=400,
            details=details,
            me=getattr(request.state, "person", None),
        )

    web.add_exception_handler(RequestValidationError, invalid)
    web.middleware("http")(auth.middleware(app))
    for router in ROUTERS:
        web.include_router(router)
    return web
