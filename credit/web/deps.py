"""What the routes depend on: the site's context and a verified signed link. A link that
cannot be used raises :class:`~credit.services.links.LinkRefused`, which
:func:`link_refused` answers (and audits) for every route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from credit import audit
from credit.app import App
from credit.services import links
from credit.web.pages import Pages


@dataclass(frozen=True)
class Site:
    """What every route may use: the application, the pages, the business date and what
    continues the lifecycle after a decision (``on_decided(request_id, as_of)``)."""

    app: App
    pages: Pages
    today: Callable[[], date]
    on_decided: Callable[[int, date], None] | None = None


def site(request: Request) -> Site:
    found: Site = request.app.state.site
    return found


SiteDep = Annotated[Site, Depends(site)]


def signed_link(token: str, here: SiteDep) -> links.ValidLink:
    """The link the token names, verified (signature, expiry, use, currency)."""
    with here.app.uow() as uow:
        return links.check(here.app, uow.session, token)


SignedLink = Annotated[links.ValidLink, Depends(signed_link)]


def link_refused(request: Request, exc: Exception) -> HTMLResponse:
    """The page for a link that cannot be used; the refusal is recorded in the audit trail."""
    assert isinstance(exc, links.LinkRefused)
    here = site(request)
    with here.app.uow() as uow:
        audit.record(
            uow.session,
            actor=str(exc.payload.get("a") or "unknown"),
            action="approval_link.refused",
            entity_type="credit_request",
            entity_id=str(exc.payload.get("r") or "-"),
            after={
                "method": request.method,
                "status": exc.status,
                "step": exc.payload.get("s"),
                "client": request.client.host if request.client else None,
            },
            reason=exc.reason,
        )
        uow.commit()
    return here.pages.message("This link cannot be used", exc.reason, ok=False, status=exc.status)
