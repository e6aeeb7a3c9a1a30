"""The operator's pages: the service and its scheduled runs, the outbox (retry what failed), the
audit trail (verify its hash chain) and the workspace's accounts. Credit managers may read the
outbox. Every change goes through the services the CLI calls, as the signed-in person."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from typing import Annotated, Any, TypedDict
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import literal
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import UNSENT, AuditEvent, Customer, Notice, NoticeStatus
from credit.domain import workspace as ws
from credit.domain.words import counted
from credit.services import accounts
from credit.services.common import ServiceError
from credit.web.auth import Access, Person
from credit.web.deps import SiteDep

router = APIRouter()

OPERATOR = Access(ws.OPERATOR)
OUTBOX_READERS = Access(ws.OPERATOR, ws.MANAGER)
PAGE = 50

# ---------------------------------------------------------------- scheduled runs (Prefect's REST API)

FINISHED = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PREFECT_TIMEOUT = 2.0  # seconds per request: a server that does not answer costs the page little


def prefect_api(service: Any) -> str | None:
    """The Prefect API to read: the running service's (unless it listens on loopback on another
    machine), else PREFECT_API_URL."""
    url = service["prefect_url"] if service else None
    if url and (
        urlsplit(url).hostname not in LOOPBACK or service["host"] == socket.gethostname()[:120]
    ):
        return str(url)
    return os.environ.get("PREFECT_API_URL") or None


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{api.rstrip('/')}/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=PREFECT_TIMEOUT) as answer:
        return json.loads(answer.read())


def _one_run(api: str, deployment: str, states: list[str], sort: str) -> dict[str, Any] | None:
    found = _post(
        api,
        "flow_runs/filter",
        {
            "deployments": {"id": {"any_": [deployment]}},
            "flow_runs": {"state": {"type": {"any_": states}}},
            "sort": sort,
            "limit": 1,
        },
    )
    return found[0] if found else None


def _run_view(run: dict[str, Any] | None, ui: str) -> dict[str, str] | None:
    if run is None:
        return None
    state = run.get("state") or {}
    return {
        "name": run.get("name") or "",
        "type": run.get("state_type") or state.get("type") or "",
        "state": run.get("state_name") or state.get("name") or "",
        "message": (state.get("message") or "")[:300],
        "at": run.get("start_time") or run.get("expected_start_time") or "",
        "ended": run.get("end_time") or "",
        "link": f"{ui}/runs/flow-run/{run['id']}",
    }


def _schedule_text(entry: dict[str, Any]) -> str:
    rule = entry.get("schedule") or {}
    zone = f" ({rule['timezone']})" if rule.get("timezone") else ""
    if rule.get("cron"):
        return f"cron {rule['cron']}{zone}"
    if rule.get("interval"):
        return f"every {counted(int(rule['interval']), 'second')}"
    return f"rrule {rule['rrule']}{zone}" if rule.get("rrule") else "?"


def prefect_schedules(api: str) -> dict[str, Any]:
    """Each scheduled deployment with its last finished run and its next one, and the runs
    going on now: a few requests (one pair per scheduled deployment, a handful)."""
    ui = api.rstrip("/").removesuffix("/api")
    flows = {f["id"]: f["name"] for f in _post(api, "flows/filter", {"limit": 200})}
    schedules: list[dict[str, Any]] = []
    for d in _post(api, "deployments/filter", {"limit": 200}):
        if not d.get("schedules"):
            continue
        schedules.append(
            {
                "name": f"{flows.get(d['flow_id'], '?')}/{d['name']}",
                "schedule": ", ".join(_schedule_text(s) for s in d["schedules"]),
                "paused": bool(d.get("paused")),
                "link": f"{ui}/deployments/deployment/{d['id']}",
                "last": _run_view(_one_run(api, d["id"], FINISHED, "START_TIME_DESC"), ui),
                "next": _run_view(
                    _one_run(api, d["id"], ["SCHEDULED"], "EXPECTED_START_TIME_ASC"), ui
                ),
            }
        )
    running = _post(
        api,
        "flow_runs/filter",
        {
            "flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}},
            "sort": "START_TIME_DESC",
            "limit": 20,
        },
    )
    now = [{**(_run_view(r, ui) or {}), "flow": flows.get(r["flow_id"], "?")} for r in running]
    schedules.sort(key=lambda s: s["name"])
    return {"ui": ui, "schedules": schedules, "running": now, "error": ""}


def read_prefect(service: Any) -> dict[str, Any]:
    """The scheduled runs, or why they cannot be shown (``error``)."""
    api = prefect_api(service)
    if not api:
        return {
            "ui": "",
            "error": "No Prefect server is reachable: the service is not running here and "
            "PREFECT_API_URL is not set, so nothing runs on schedule.",
        }
    try:
        return prefect_schedules(api)
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as exc:
        return {
            "ui": api.rstrip("/").removesuffix("/api"),
            "error": f"No Prefect server is reachable at {api} ({exc}).",
        }


@router.get("/operations", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)])
def overview(request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    house = services.house_status(here.app)
    return here.pages.page(
        "operations/overview.html.j2",
        me=me,
        tab="overview",
        house=house,
        prefect=read_prefect(house["service"]),
    )


# ------------------------------------------------------------------------------------ the outbox

TABS = {
    "waiting": "Waiting to be sent",
    "retrying": "Waiting out a retry",
    "failed": "Failed",
}


class NoticeLine(TypedDict):
    id: int
    customer: str
    customer_name: str
    kind: str
    status: str
    subject: str
    recipients: list[str]
    attempts: int
    last_error: str
    created_at: str


def notice_page(app: App, *, tab: str, after: int) -> list[NoticeLine]:
    """One page (PAGE + 1 rows: one more says there is a next page) of the outbox's notices in
    ``tab``, in id order after ``after``, each with its customer. The conditions carry their
    values inline so the partial indexes of unsent and failed notices serve them."""
    q = (
        select(Notice, Customer.code, Customer.name)
        .join(Customer, col(Notice.customer_id) == col(Customer.id), isouter=True)
        .where(col(Notice.id) > after)
        .order_by(col(Notice.id))
        .limit(PAGE + 1)
    )
    if tab == "failed":
        q = q.where(col(Notice.status) == literal(NoticeStatus.FAILED.value, literal_execute=True))
    else:
        q = q.where(UNSENT)
        if tab == "retrying":
            q = q.where(col(Notice.attempts) > 0)
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(q).all()
    return [
        {
            "id": int(n.id or 0),
            "customer": code or "",
            "customer_name": name or "",
            "kind": n.kind,
            "status": n.status,
            "subject": n.subject,
            "recipients": list(n.recipients),
            "attempts": n.attempts,
            "last_error": n.last_error or "",
            "created_at": n.created_at.isoformat(timespec="seconds"),
        }
        for n, code, name in rows
    ]


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip().isdigit()][:PAGE]


def _outbox(  # noqa: PLR0913  (what the page shows)
    here: SiteDep,
    me: Person,
    *,
    tab: str,
    after: int = 0,
    status: int = 200,
    error: str = "",
    done: list[int] | None = None,
    typed: dict[str, Any] | None = None,
) -> HTMLResponse:
    tab = tab if tab in TABS else "failed"
    rows = notice_page(here.app, tab=tab, after=max(after, 0))
    return here.pages.page(
        "operations/outbox.html.j2",
        status,
        me=me,
        tab="outbox",
        tabs=TABS,
        current=tab,
        notices=rows[:PAGE],
        next_after=rows[PAGE - 1]["id"] if len(rows) > PAGE else None,
        after=after,
        error=error,
        done=done or [],
        typed=typed or {"ids": [], "reason": ""},
        may_retry=me.has(ws.OPERATOR),
    )


@router.get(
    "/operations/outbox", response_class=HTMLResponse, dependencies=[Depends(OUTBOX_READERS)]
)
def outbox(
    request: Request, here: SiteDep, *, status: str = "failed", after: int = 0, retried: str = ""
) -> HTMLResponse:
    return _outbox(here, request.state.person, tab=status, after=after, done=_ids(retried))


@router.post(
    "/operations/outbox/retry", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)]
)
def retry(
    *,
    request: Request,
    here: SiteDep,
    notice_id: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies the default)
    reason: Annotated[str, Form()] = "",
) -> Response:
    me: Person = request.state.person
    ids = [int(i) for i in notice_id if i.strip().isdigit()]
    try:
        if not ids or len(ids) != len(notice_id):
            raise ServiceError("tick the failed notices to send again")
        done = services.retry_notices(here.app, notice_ids=ids, by=me.username, reason=reason)
    except ServiceError as exc:
        return _outbox(
            here,
            me,
            tab="failed",
            status=400,
            error=str(exc),
            typed={"ids": ids, "reason": reason},
        )
    return RedirectResponse(
        "/operations/outbox?status=failed&retried=" + ",".join(map(str, done)), status_code=303
    )


# ------------------------------------------------------------------------------- the audit trail


def audit_page(app: App, *, before: int, entity: str) -> list[dict[str, Any]]:
    """One page (PAGE + 1 rows) of the audit trail, newest first, before event ``before``
    (0: from the newest); only events about ``entity`` when given."""
    q = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(PAGE + 1)
    if before > 0:
        q = q.where(col(AuditEvent.id) < before)
    if entity:
        q = q.where(col(AuditEvent.entity_id) == entity)
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(q).all()
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "entity": f"{e.entity_type}:{e.entity_id}",
            "reason": e.reason,
            "via": e.via or {},
        }
        for e in rows
    ]


def _audit(
    here: SiteDep, me: Person, *, before: int = 0, entity: str = "", check: Any = None
) -> HTMLResponse:
    entity = entity.strip()[:60]
    rows = audit_page(here.app, before=before, entity=entity)
    return here.pages.page(
        "operations/audit.html.j2",
        me=me,
        tab="audit",
        events=rows[:PAGE],
        older=rows[PAGE - 1]["id"] if len(rows) > PAGE else None,
        before=before,
        entity=entity,
        entity_q=quote(entity),
        check=check,
    )


@router.get("/operations/audit", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)])
def audit(request: Request, here: SiteDep, before: int = 0, entity: str = "") -> HTMLResponse:
    return _audit(here, request.state.person, before=before, entity=entity)


@router.post(
    "/operations/audit/verify", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)]
)
def verify(request: Request, here: SiteDep) -> HTMLResponse:
    """Walk the whole chain and show the result (a check: it changes nothing)."""
    return _audit(here, request.state.person, check=services.verify_audit(here.app))


# ------------------------------------------------------------------------------------ accounts

DONE = {
    "added": "{user} has an account and may sign in now.",
    "disabled": "{user} is disabled: {ended} ended. Setting a new password enables the account.",
    "reset": "{user} has a new password: {ended} ended.",
}


def _users(  # noqa: PLR0913  (what the page shows)
    here: SiteDep,
    me: Person,
    *,
    status: int = 200,
    error: str = "",
    form: str = "",
    typed: dict[str, str] | None = None,
    done: str = "",
) -> HTMLResponse:
    rows = accounts.list_users(here.app)
    return here.pages.page(
        "operations/users.html.j2",
        status,
        me=me,
        tab="users",
        users=rows,
        without=[r for r in rows if r["status"] == "no account"],
        with_account=[r for r in rows if r["status"] != "no account"],
        active=[r for r in rows if r["status"] == "active"],
        error=error,
        form=form,
        typed=typed or {},
        done=done,
    )


def _done(kind: str, user: str, ended: int, known: list[str]) -> str:
    if kind not in DONE or user not in known:
        return ""
    return DONE[kind].format(user=user, ended=counted(ended, "open session"))


@router.get("/operations/users", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)])
def users(
    request: Request, here: SiteDep, *, done: str = "", user: str = "", ended: int = 0
) -> HTMLResponse:
    known = [p.username for p in here.app.directory.approvers]
    return _users(here, request.state.person, done=_done(done, user, max(ended, 0), known))


def _after(kind: str, user: str, ended: int = 0) -> RedirectResponse:
    return RedirectResponse(
        f"/operations/users?done={kind}&user={quote(user)}&ended={ended}", status_code=303
    )


def _same(password: str, again: str) -> None:
    if password != again:
        raise ServiceError("the two passwords differ; nothing was changed")


@router.post("/operations/users/add", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)])
def add_user(
    *,
    request: Request,
    here: SiteDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    me: Person = request.state.person
    try:
        accounts.require_user_admin(here.app, me.username)
        _same(password, password_again)
        name = accounts.add_user(here.app, username=username, password=password, by=me.username)
    except ServiceError as exc:
        typed = {"username": username}
        return _users(here, me, status=400, error=str(exc), form="add", typed=typed)
    return _after("added", name)


@router.post(
    "/operations/users/disable", response_class=HTMLResponse, dependencies=[Depends(OPERATOR)]
)
def disable_user(
    *,
    request: Request,
    here: SiteDep,
    username: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    me: Person = request.state.person
    try:
        accounts.require_user_admin(here.app, me.username)
        ended = accounts.disable_user(here.app, username=username, by=me.username, reason=reason)
    except ServiceError as exc:
        typed = {"username": username, "reason": reason}
        return _users(here, me, status=400, error=str(exc), form="disable", typed=typed)
    return _after("disabled", username.strip(), ended)


@router.post(
    "/operations/users/reset-password",
    response_class=HTMLResponse,
    dependencies=[Depends(OPERATOR)],
)
def reset_password(  # noqa: PLR0913  (the form's own fields)
    *,
    request: Request,
    here: SiteDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "password reset",
) -> Response:
    me: Person = request.state.person
    try:
        accounts.require_user_admin(here.app, me.username)
        _same(password, password_again)
        ended = accounts.reset_password(
            here.app, username=username, password=password, by=me.username, reason=reason
        )
    except ServiceError as exc:
        typed = {"username": username, "reason": reason}
        return _users(here, me, status=400, error=str(exc), form="reset", typed=typed)
    return _after("reset", username.strip(), ended)
