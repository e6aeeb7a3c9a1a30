"""What the routes depend on: the site's context and a verified signed link. A link that
cannot be used raises :class:`~credit.services.links.LinkRefused`, which
:func:`link_refused` answers (and audits) for every route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

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

    def followed_up(self, as_of: date) -> None:
        """A page recorded a decision whose follow-up waits in the queue: wake whoever runs it
        (the service's workers, or `credit web`'s own runner)."""
        if self.on_decided is not None:
            self.on_decided(0, as_of)


def site(request: Request) -> Site:
    found: Site = request.app.state.site
    return found


SiteDep = Annotated[Site, Depends(site)]


def signed_link(token: str, request: Request, here: SiteDep) -> links.ValidLink:
    """The link the token names, verified (signature, expiry, use, currency). Someone signed in
    to the workspace may open only a link sent to them."""
    with here.app.uow() as uow:
        valid = links.check(here.app, uow.session, token)
    person = getattr(request.state, "person", None)
    if person is not None and person.username != valid.link.approver:
        raise links.LinkRefused(
            403,
            f"This link was sent to {valid.link.approver}, and you are signed in as "
            f"{person.username}. A decision is made by the person it was sent to: sign out "
            "first, or decide your own approvals from your inbox.",
            valid.payload,
        )
    return valid


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


def me(request: Request) -> Any:
    """The signed-in person (a route's :class:`~credit.web.auth.Access` rule let them in)."""
    return request.state.person
