"""The approval page: show the proposal (GET), take the decision (POST)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from credit import services
from credit.app import App
from credit.db.models import ApprovalStep, CreditRequest
from credit.domain.authority import Decision, RequestStatus
from credit.domain.money import fmt_money
from credit.services import links
from credit.services.approval_chain import chain_steps
from credit.services.approval_chain.subjects.credit_request import approval_context
from credit.services.views import step_view
from credit.web.auth import PUBLIC, Access
from credit.web.deps import SignedLink, Site, SiteDep

router = APIRouter()
CSRF_COOKIE = "credit_csrf"


@router.get("/approve/{token}", response_class=HTMLResponse, dependencies=[Depends(Access(PUBLIC))])
def show(*, token: str, valid: SignedLink, here: SiteDep) -> HTMLResponse:
    app = here.app
    with app.uow() as uow:
        s = uow.session
        request_id = valid.link.request_id
        r = s.get(CreditRequest, request_id)
        assert r is not None
        steps = chain_steps(s, services.SUBJECT_REQUEST, request_id)
        ctx = approval_context(app, s, r, steps=steps, as_of=here.today())
    csrf = links.csrf_token(links.web_secret(app), valid.link.nonce)
    response = here.pages.page(
        "approval.html.j2",
        **ctx,
        step=step_view(valid.step),
        approver=valid.link.approver,
        acting_for=valid.step.delegated_from or "",
        csrf=csrf,
        action=f"/approve/{token}",
    )
    # One cookie per link (its own path): two approval pages open side by side do not clash.
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="strict", path=f"/approve/{token}"
    )
    return response


def _check_form(app: App, request: Request, valid: links.ValidLink, csrf: str) -> None:
    """The form's token and the page's cookie both match the link (no cross-site post)."""
    expected = links.csrf_token(links.web_secret(app), valid.link.nonce)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not (
        hmac.compare_digest(csrf.encode(), expected.encode())
        and hmac.compare_digest(cookie.encode(), expected.encode())
    ):
        raise links.LinkRefused(
            403,
            "The form could not be verified (missing or wrong security "
            "token). Open the link from your notice again.",
            valid.payload,
        )


@router.post(
    "/approve/{token}", response_class=HTMLResponse, dependencies=[Depends(Access(PUBLIC))]
)
def decide(
    *,
    token: str,
    request: Request,
    valid: SignedLink,
    here: SiteDep,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    app, link = here.app, valid.link
    _check_form(app, request, valid, csrf)
    if decision not in ("approve", "reject"):
        return here.pages.message(
            "Nothing was decided", "Choose Approve or Reject.", ok=False, status=400
        )
    as_of = here.today()

    def link_used(s: Session, _step: ApprovalStep) -> None:
        links.mark_used(s, link_id=link.id)  # in the decision's own transaction

    try:
        step = services.decide(
            app,
            subject=services.SUBJECT_REQUEST,
            subject_id=link.request_id,
            username=link.approver,
            approve=decision == "approve",
            comment=comment.strip() or None,
            as_of=as_of,
            on_decided=link_used,
        )
    except services.DecisionRefused as exc:
        return here.pages.message(
            "Your decision was refused",
            "The approval rules do not allow it:",
            ok=False,
            status=403,
            details=exc.reasons,
        )
    except services.ServiceError as exc:  # the rules' refusal, in words: the link still works
        text = str(exc)
        return here.pages.message(
            "Nothing was decided",
            text[:1].upper() + text[1:] + ". Go back to the request, change what is needed "
            "and decide again; your link still works.",
            ok=False,
            status=400,
            back=f"/approve/{token}",
        )
    if here.on_decided is not None:
        here.on_decided(link.request_id, as_of)
    title, text = what_happened(here, link.request_id, link.approver, step.level)
    return here.pages.message(title, text, ok=True, status=200)


def what_happened(here: Site, request_id: int, approver: str, level: int) -> tuple[str, str]:
    """(title, text) saying what the decision did, read back from the database."""
    with here.app.uow(read_only=True) as uow:
        s = uow.session
        r = s.get(CreditRequest, request_id)
        assert r is not None
        steps = chain_steps(s, services.SUBJECT_REQUEST, request_id)
    mine = next(st for st in steps if st.level == level)
    if mine.decision == Decision.REJECTED:
        return (
            f"Request {request_id}: rejected at level {level}",
            f"Thank you, {approver}. You rejected the request at level {level}: it ends "
            f"here and the credit line stays as it is. {r.requested_by}, who requested it, "
            "is told, with your comment. Your decision is recorded in the audit trail.",
        )
    waiting = next((st for st in steps if st.decision == Decision.PENDING), None)
    title = f"Request {request_id}: level {level} approved"
    if waiting is not None:
        asked = (
            f"{waiting.approver} is asked to decide it"
            if waiting.approver
            else "nobody eligible could be found yet, so the credit team is asked to "
            "assign an approver"
        )
        return title, (
            f"Thank you, {approver}. Your approval is recorded in the audit trail. The "
            f"request now waits for level {waiting.level} "
            f"({waiting.role.replace('_', ' ')}): {asked}."
        )
    return title, (
        f"Thank you, {approver}. Yours was the last level: every level has approved, so "
        f"{_line_done(r)}. Your decision is recorded in the audit trail."
    )


def _line_done(r: CreditRequest) -> str:
    line = f"{fmt_money(r.proposed_limit, r.currency)}, {r.terms_days} days" + (
        f", {', '.join(r.conditions)}" if r.conditions else ""
    )
    if r.status == RequestStatus.PUBLISHED:
        return f"the credit line ({line}) is published and the customer is sent the terms letter"
    return f"the credit line ({line}) is being published now; the customer is sent the terms letter"
