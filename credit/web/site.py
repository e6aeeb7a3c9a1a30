"""The web app: its routers, their shared context and the refused-link page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import FastAPI

from credit.app import App
from credit.services import links
from credit.web import approval, health
from credit.web.deps import Site, link_refused
from credit.web.pages import Pages


def create_app(
    app: App,
    *,
    on_decided: Callable[[int, date], None] | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """The web app; ``on_decided(request_id, as_of)`` continues the lifecycle after a decision.
    ``today`` is the business date of a decision (default: today in the company's time zone)."""
    web = FastAPI(title="Credit approvals", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.site = Site(
        app=app,
        pages=Pages(app.settings),
        today=today or app.settings.today,
        on_decided=on_decided,
    )
    web.add_exception_handler(links.LinkRefused, link_refused)
    web.include_router(health.router)
    web.include_router(approval.router)
    return web
