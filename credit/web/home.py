"""Each person's home page: what waits for them, by their roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from credit import services
from credit.domain import workspace as ws
from credit.services import casework
from credit.web.auth import SIGNED_IN, Access, Person
from credit.web.deps import SiteDep

router = APIRouter()


def _waits(here: SiteDep, me: Person) -> dict[str, Any]:
    app = here.app
    out: dict[str, Any] = {}
    if me.has(ws.ANALYST, ws.MANAGER):
        waiting = services.waiting_assessments(app)
        out["ratings"] = [w for w in waiting if me.has(ws.MANAGER) or w["analyst"] == me.username]
    if me.has(ws.APPROVER, ws.COMMITTEE):
        out["approvals"] = [
            p
            for p in services.pending_approvals(app, username=me.username)
            if p["approver"] in ("", me.username)
        ]
    if me.has(ws.COLLECTOR, ws.MANAGER):
        mine = not me.has(ws.MANAGER)
        out["cases"] = casework.open_case_count(app, viewer=me.username, mine=mine)
        out["cases_mine"] = mine
    if me.has(ws.OPERATOR, ws.MANAGER):
        status = services.house_status(app)
        out["status"] = status
        out["failed_notices"] = status["outbox"]["failed"]
    return out


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(Access(SIGNED_IN))])
def home(request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    return here.pages.page(
        "home.html.j2", me=me, waits=_waits(here, me), as_of=here.today(), roles=sorted(me.roles)
    )
