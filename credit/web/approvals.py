"""The approver's pages (the inbox of waiting decisions, the decision page, their delegation and
absences) and the policy committee's (the published policy, its versions, proposing one).

Every decision goes through :func:`credit.services.record_decision` with the signed-in person's
username: the authority matrix, four eyes and delegation are the service's, never the page's."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from credit import services
from credit.config import ConfigError
from credit.db.models import ApprovalStep, CreditPolicy, CreditRequest, Customer, utcnow
from credit.domain import workspace as ws
from credit.domain.authority import Decision, PolicyStatus, RequestStatus
from credit.services.approval_chain import chain_steps
from credit.services.approval_chain.subjects.credit_request import approval_context
from credit.services.views import step_view
from credit.web.approval import what_happened
from credit.web.auth import Access, Person
from credit.web.deps import Site, SiteDep

router = APIRouter()

PAGE = 50  # rows per page
RECENT = 20  # decisions under "decided by you recently"
MAX_UPLOAD = 1_000_000  # bytes of a policy file
REPORT_PREFIX = "policy-research-"
CHART = re.compile(r"^!\[([^\]]*)\]\(([A-Za-z0-9_.-]+\.png)\)$")


# The URL's subject → the approval engine's, and back.
KINDS = {"request": services.SUBJECT_REQUEST, "policy": services.SUBJECT_POLICY}
URLS = {engine: url for url, engine in KINDS.items()}


def _url(subject: str) -> str:
    """A subject's name in URLs and lists; one without a page here (a write-off: decided on the
    command line) is named as its listing names it ("write-off")."""
    return URLS.get(subject, subject.replace("_", "-"))


class Missing(Exception):
    """The page names something that does not exist (404)."""


def _not_found(here: Site, me: Person, text: str) -> HTMLResponse:
    return here.pages.message("Not found", text, ok=False, status=404, me=me)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _directory_roles(here: Site, username: str) -> set[str]:
    person = here.app.directory.get(username)
    return set(person.roles) if person else set()


# --------------------------------------------------------------------------- inbox


def _stand_ins(here: Site, username: str) -> dict[tuple[str, int, int], str]:
    """(subject, id, level) → whom I stand in for, of the steps waiting for me as a delegate."""
    with here.app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(ApprovalStep).where(
                ApprovalStep.decision == Decision.PENDING,
                ApprovalStep.approver == username,
                col(ApprovalStep.delegated_from).is_not(None),
            )
        ).all()
        return {(_url(st.subject), st.subject_id, st.level): st.delegated_from or "" for st in rows}


def _recent(here: Site, username: str) -> list[dict[str, Any]]:
    """My latest decisions, newest first (with the customer of each request)."""
    with here.app.uow(read_only=True) as uow:
        s = uow.session
        steps = s.exec(
            select(ApprovalStep)
            .where(ApprovalStep.decided_by == username)
            .order_by(col(ApprovalStep.decided_at).desc(), col(ApprovalStep.id).desc())
            .limit(RECENT)
        ).all()
        ids = [st.subject_id for st in steps if st.subject == services.SUBJECT_REQUEST]
        customers = dict(
            s.exec(
                select(CreditRequest.id, Customer.code)
                .join(Customer, col(Customer.id) == col(CreditRequest.customer_id))
                .where(col(CreditRequest.id).in_(ids))
            ).all()
        )
        return [
            {
                **step_view(st),
                "subject": _url(st.subject),
                "subject_id": st.subject_id,
                "customer": customers.get(st.subject_id, "-")
                if st.subject == services.SUBJECT_REQUEST
                else "-",
            }
            for st in steps
        ]


@router.get(
    "/approvals",
    response_class=HTMLResponse,
    dependencies=[Depends(Access(ws.APPROVER, ws.COMMITTEE))],
)
def inbox(request: Request, here: SiteDep, page: int = 1) -> HTMLResponse:
    """What waits for my decision: asked of me (or of nobody yet, in a role I hold, or of me as
    someone's delegate), then what a colleague of my role was asked and I may decide too."""
    me: Person = request.state.person
    roles = _directory_roles(here, me.username)
    stand_ins = _stand_ins(here, me.username)
    now = utcnow()
    mine: list[dict[str, Any]] = []
    colleagues: list[dict[str, Any]] = []
    # Every waiting step (the service's list), as pending_approvals(username=...) filters it by
    # role, plus those asked of me as a delegate (the delegator's role, not mine).
    for p in services.pending_approvals(here.app):
        row = {
            **p,
            "overdue": _aware(datetime.fromisoformat(p["due_at"])) < now,
            "acting_for": stand_ins.get((p["subject"], p["id"], p["level"]), ""),
        }
        if p["approver"] == me.username or (not p["approver"] and p["role"] in roles):
            mine.append(row)
        elif p["role"] in roles and p["requested_by"] != me.username:
            colleagues.append(row)
    page = max(1, min(page, (len(mine) - 1) // PAGE + 1))
    return here.pages.page(
        "approvals/inbox.html.j2",
        me=me,
        mine=mine[(page - 1) * PAGE : page * PAGE],
        total=len(mine),
        page=page,
        pages=(len(mine) - 1) // PAGE + 1,
        colleagues=colleagues[:PAGE],
        colleagues_total=len(colleagues),
        recent=_recent(here, me.username),
    )


# --------------------------------------------------------------------------- decision page


def _current(
    steps: list[ApprovalStep], username: str, roles: set[str], *, in_order: bool
) -> ApprovalStep | None:
    """The step a decision of mine would be recorded on (as the engine chooses it)."""
    pending = [st for st in steps if st.decision == Decision.PENDING]
    if not pending:
        return None
    if in_order:
        return pending[0]
    by_role = [st for st in pending if st.role in roles]
    asked = [st for st in pending if st.approver == username]
    return (by_role or asked or pending)[0]


def _chain(here: Site, me: Person, steps: list[ApprovalStep], *, subject: str) -> dict[str, Any]:
    """The chain's steps and where I stand in it."""
    step = _current(
        steps,
        me.username,
        _directory_roles(here, me.username),
        in_order=subject == services.SUBJECT_REQUEST,
    )
    mine = [st for st in steps if st.decided_by == me.username]
    return {
        "steps": [step_view(st) for st in steps],
        "step": step_view(step) if step is not None else None,
        "asked_of_me": step is not None and step.approver == me.username,
        "acting_for": step.delegated_from or ""
        if step is not None and step.approver == me.username
        else "",
        "my_level": mine[-1].level if mine else None,
    }


def _request_context(here: Site, me: Person, request_id: int) -> dict[str, Any]:
    """What the signed-link page shows of a request (the evidence the decision is bound to)."""
    with here.app.uow(read_only=True) as uow:
        s = uow.session
        r = s.get(CreditRequest, request_id)
        if r is None:
            raise Missing(f"There is no credit request {request_id}.")
        steps = chain_steps(s, services.SUBJECT_REQUEST, request_id)
        chain = _chain(here, me, steps, subject=services.SUBJECT_REQUEST)
        ctx = approval_context(here.app, s, r, steps=steps, as_of=here.today())
        is_open = r.status == RequestStatus.IN_APPROVAL
    return {**ctx, **chain, "open": is_open}


def _policy_diff(here: Site, version: int) -> dict[str, Any] | None:
    """The version's changes against the published one (None: it is the published one)."""
    try:
        return dict(services.policy_diff(here.app, to_version=version))
    except services.ServiceError:
        return None


def _policy_context(
    here: Site, me: Person, version: int, *, backtest: bool, report: bool
) -> dict[str, Any]:
    try:
        view = services.policy_view(here.app, version=version)
    except services.ServiceError as exc:
        raise Missing(str(exc)[:1].upper() + str(exc)[1:] + ".") from None
    with here.app.uow(read_only=True) as uow:
        steps = chain_steps(uow.session, services.SUBJECT_POLICY, version)
        chain = _chain(here, me, steps, subject=services.SUBJECT_POLICY)
        body = here.app.policy_body_for(uow.session, version).model_dump(mode="json")
    return {
        **chain,
        "policy": view,
        "body": body,
        "diff": _policy_diff(here, version),
        "backtest": _backtest(here, version) if backtest else None,
        "report": _research_report(here) if report else None,
        "open": view["status"] == PolicyStatus.IN_APPROVAL,
    }


def _backtest(here: Site, version: int) -> dict[str, Any]:
    """The shadow run ``credit policy backtest`` does: the 90 days to today, every 30 days."""
    from credit.services.backtest import span

    day = here.today()
    result = services.backtest(
        here.app, version=version, dates=span(day - timedelta(days=90), day, 30)
    )
    return {
        **services.backtest_summary(result),
        "against": result["against"],
        "dunning": result["dunning"][:PAGE],
        "dunning_more": max(0, len(result["dunning"]) - PAGE),
    }


def _flash(here: Site, me: Person, *, subject: str, ctx: dict[str, Any]) -> dict[str, str] | None:
    """What my decision did, read back from the database (after the redirect)."""
    level = ctx["my_level"]
    if level is None:
        return None
    if subject == "request":
        title, text = what_happened(here, ctx["request"]["id"], me.username, level)
        return {"title": title, "text": text}
    mine = next(st for st in ctx["steps"] if st["level"] == level)
    status = ctx["policy"]["status"].replace("_", " ")
    waiting = [f"{st['role'].replace('_', ' ')} ({st['approver'] or 'nobody yet'})"
               for st in ctx["steps"] if st["decision"] == Decision.PENDING]  # fmt: skip
    text = f"You {mine['decision']} version {ctx['policy']['version']}; it is now {status}"
    text += f", waiting for {', '.join(waiting)}." if waiting else "."
    return {"title": f"Policy version {ctx['policy']['version']}: {mine['decision']}", "text": text}


def _decision_page(  # noqa: PLR0913  (keyword-only: what the form kept and what went wrong)
    here: Site,
    me: Person,
    *,
    subject: str,
    subject_id: int,
    status: int = 200,
    form: dict[str, Any] | None = None,
    backtest: bool = False,
    done: bool = False,
) -> HTMLResponse:
    try:
        if subject == "request":
            ctx = _request_context(here, me, subject_id)
        else:
            ctx = _policy_context(here, me, subject_id, backtest=backtest, report=True)
    except Missing as exc:
        return _not_found(here, me, str(exc))
    form = {"comment": "", "error": "", "refusals": [], **(form or {})}
    flash = _flash(here, me, subject=subject, ctx=ctx) if done else None
    return here.pages.page(
        f"approvals/{subject}.html.j2",
        status,
        me=me,
        **ctx,
        form=form,
        flash=flash,
        action=f"/approvals/{subject}/{subject_id}",
    )


@router.get(
    "/approvals/delegation",
    response_class=HTMLResponse,
    dependencies=[Depends(Access(ws.APPROVER, ws.COMMITTEE))],
)
def delegation(request: Request, here: SiteDep) -> HTMLResponse:
    """My delegate and absences as the directory has them, and whom I stand in for."""
    me: Person = request.state.person
    directory = here.app.directory
    person = directory.get(me.username)
    today = here.today()
    absences = [
        {"start": a.start, "end": a.end, "now": a.start <= today <= a.end, "past": a.end < today}
        for a in (person.out_of_office if person else [])
    ]
    delegate = directory.get(person.delegate) if person and person.delegate else None
    for_whom = [
        {
            "username": a.username,
            "name": a.name,
            "roles": a.roles,
            "authority_limit": a.authority_limit,
            "away": a.away(today),
            "absences": [(x.start, x.end) for x in a.out_of_office if x.end >= today],
        }
        for a in directory.approvers
        if a.delegate == me.username
    ]
    return here.pages.page(
        "approvals/delegation.html.j2",
        me=me,
        person=person,
        delegate=delegate,
        absences=absences,
        away=bool(person and person.away(today)),
        for_whom=for_whom,
        stand_ins=sorted(set(_stand_ins(here, me.username).values())),
        directory_file=str(here.app.settings.approvers_path),
        today=today,
        base_currency=here.app.settings.base_currency,
    )


@router.get(
    "/approvals/{subject}/{id}",
    response_class=HTMLResponse,
    dependencies=[Depends(Access(ws.APPROVER, ws.COMMITTEE))],
)
def decision_page(  # noqa: PLR0913  (the path's and the query's parameters)
    *,
    request: Request,
    here: SiteDep,
    subject: str,
    id: int,  # noqa: A002  (the route vocabulary's name)
    done: int = 0,
    backtest: int = 0,
) -> HTMLResponse:
    """The evidence a decision is bound to and the decision's form."""
    me: Person = request.state.person
    if subject not in KINDS:
        return _not_found(here, me, "Approvals are about a request or a policy version.")
    return _decision_page(
        here, me, subject=subject, subject_id=id, backtest=bool(backtest), done=bool(done)
    )


@router.post(
    "/approvals/{subject}/{id}",
    response_class=HTMLResponse,
    dependencies=[Depends(Access(ws.APPROVER, ws.COMMITTEE))],
)
def decide(  # noqa: PLR0913  (the path's parameters and the form's fields)
    *,
    request: Request,
    here: SiteDep,
    subject: str,
    id: int,  # noqa: A002  (the route vocabulary's name)
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Record my decision (the service checks who may take it); refused, nothing changes."""
    me: Person = request.state.person
    if subject not in KINDS:
        return _not_found(here, me, "Approvals are about a request or a policy version.")

    def again(status: int, **form: Any) -> HTMLResponse:  # the page again, what was typed kept
        return _decision_page(
            here,
            me,
            subject=subject,
            subject_id=id,
            status=status,
            form={"comment": comment, **form},
        )

    if decision not in ("approve", "reject"):
        return again(400, error="Choose Approve or Reject.")
    as_of = here.today()
    try:
        services.record_decision(
            here.app,
            subject=KINDS[subject],
            subject_id=id,
            username=me.username,
            approve=decision == "approve",
            comment=comment.strip() or None,
            as_of=as_of,
        )
    except services.DecisionRefused as exc:
        return again(403, refusals=exc.reasons)
    except services.ServiceError as exc:
        return again(400, error=str(exc)[:1].upper() + str(exc)[1:] + ".")
    here.followed_up(as_of)
    return RedirectResponse(f"/approvals/{subject}/{id}?done=1", status_code=303)


# --------------------------------------------------------------------------- research report


def _chart(alt: str, path: Path) -> dict[str, Any]:
    """A chart of the report, inline (the pages' CSP allows data: images)."""
    if not path.is_file() or path.stat().st_size > 5 * MAX_UPLOAD:
        return {"kind": "p", "parts": [(f"(chart {path.name} is missing)", False)]}
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return {"kind": "img", "alt": alt, "src": f"data:image/png;base64,{data}"}


def _parts(text: str) -> list[tuple[str, bool]]:
    """Markdown's **bold** as (text, bold) parts; the template escapes each."""
    return [(part, i % 2 == 1) for i, part in enumerate(text.split("**")) if part]


def _block(line: str, folder: Path) -> dict[str, Any]:
    if line.startswith("## "):
        return {"kind": "h3", "text": line[3:]}
    if line.startswith("# "):
        return {"kind": "h2", "text": line[2:]}
    if line.startswith("- "):
        return {"kind": "list", "items": [_parts(line[2:])]}
    chart = CHART.match(line)
    if chart:
        return _chart(chart.group(1), folder / chart.group(2))
    return {"kind": "p", "parts": _parts(line)}


def _report_blocks(text: str, folder: Path) -> list[dict[str, Any]]:
    """The report's Markdown (as :mod:`credit.reports` writes it) as blocks a template renders
    with autoescaping: headings, paragraphs, lists, tables (50 rows at most) and charts."""
    blocks: list[dict[str, Any]] = []
    table: dict[str, Any] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("|"):
            table = None
            block = _block(line, folder) if line else None
            if block and block["kind"] == "list" and blocks and blocks[-1]["kind"] == "list":
                blocks[-1]["items"] += block["items"]
            elif block:
                blocks.append(block)
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if table is None:
            table = {"kind": "table", "head": cells, "rows": [], "more": 0}
            blocks.append(table)
        elif all(c and set(c) <= set("-:") for c in cells):
            continue  # the line under the header
        elif len(table["rows"]) < PAGE:
            table["rows"].append(cells)
        else:
            table["more"] += 1
    return blocks


def _research_report(here: Site) -> dict[str, Any] | None:
    """The newest policy research report up to the business date, if one was written."""
    root, today = Path(here.app.settings.reports_dir), here.today().isoformat()
    found = [
        p
        for p in sorted(root.glob(f"{REPORT_PREFIX}*"), reverse=True)
        if (p / "report.md").is_file() and p.name.removeprefix(REPORT_PREFIX) <= today
    ]
    if not found:
        return None
    path = found[0] / "report.md"
    return {
        "as_of": found[0].name.removeprefix(REPORT_PREFIX),
        "path": str(path.resolve()),
        "blocks": _report_blocks(path.read_text(encoding="utf-8"), found[0]),
    }


# --------------------------------------------------------------------------- policy


def _versions(here: Site) -> list[CreditPolicy]:
    with here.app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(CreditPolicy).order_by(col(CreditPolicy.version).desc()).limit(PAGE)
        ).all()
        uow.session.expunge_all()
        return list(rows)


def _policy_index(
    here: Site, me: Person, *, status: int = 200, form: dict[str, str] | None = None
) -> HTMLResponse:
    view = services.policy_view(here.app, version=None)
    with here.app.uow(read_only=True) as uow:
        body = here.app.policy_body_for(uow.session, view["version"]).model_dump(mode="json")
    return here.pages.page(
        "policy/index.html.j2",
        status,
        me=me,
        policy=view,
        body=body,
        versions=_versions(here),
        may_propose=me.has(ws.MANAGER, ws.COMMITTEE),
        form={"reason": "", "error": "", **(form or {})},
    )


@router.get(
    "/policy", response_class=HTMLResponse, dependencies=[Depends(Access(*ws.CREDIT_STAFF))]
)
def policy_index(request: Request, here: SiteDep) -> HTMLResponse:
    """The published policy in readable form, the versions and the form to propose one."""
    return _policy_index(here, request.state.person)


@router.get(
    "/policy/{version}",
    response_class=HTMLResponse,
    dependencies=[Depends(Access(*ws.CREDIT_STAFF))],
)
def policy_version(
    *, request: Request, here: SiteDep, version: int, backtest: int = 0, proposed: int = 0
) -> HTMLResponse:
    """One version: as written, its changes, its back-test (on request) and its approval."""
    me: Person = request.state.person
    try:
        ctx = _policy_context(here, me, version, backtest=bool(backtest), report=False)
    except Missing as exc:
        return _not_found(here, me, str(exc))
    return here.pages.page(
        "policy/version.html.j2",
        me=me,
        **ctx,
        proposed=bool(proposed),
        may_decide=me.has(ws.COMMITTEE),
    )


def _save_upload(here: Site, upload: UploadFile) -> Path | str:
    """The uploaded file under a random name in the uploads folder, or why it is refused."""
    data = upload.file.read(MAX_UPLOAD + 1)
    if not data:
        return "Choose the policy file (YAML) to upload."
    if len(data) > MAX_UPLOAD:
        return f"The file is larger than {MAX_UPLOAD // 1000} kB: is it a policy file?"
    folder = here.app.settings.log_dir.parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"policy-{secrets.token_hex(16)}.yaml"
    path.write_bytes(data)
    return path


@router.post(
    "/policy/propose",
    response_class=HTMLResponse,
    dependencies=[Depends(Access(ws.MANAGER, ws.COMMITTEE))],
)
def propose(
    *,
    request: Request,
    here: SiteDep,
    policy: Annotated[UploadFile | None, File()] = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Propose a new version from an uploaded file; the committee then votes on it."""
    me: Person = request.state.person
    reason = reason.strip()
    saved = _save_upload(here, policy) if policy is not None and reason else None
    if not isinstance(saved, Path):
        error = saved or ("Choose the policy file." if reason else "Say why the policy changes.")
        return _policy_index(here, me, status=400, form={"reason": reason, "error": error})
    name = (policy.filename if policy is not None else None) or "the uploaded file"
    as_of = here.today()
    try:
        version = services.propose_policy(
            here.app, path=saved, by=me.username, reason=reason, as_of=as_of
        )
    except (services.ServiceError, ConfigError) as exc:
        saved.unlink(missing_ok=True)
        error = str(exc).replace(str(saved), name)
        return _policy_index(here, me, status=400, form={"reason": reason, "error": error})
    here.followed_up(as_of)
    return RedirectResponse(f"/policy/{version}?proposed=1", status_code=303)
