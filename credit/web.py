"""The approval page behind the signed link in an approver's notice (FastAPI + Jinja).

GET shows the proposal and changes nothing (a link scanner may open it). The decision is a POST
that carries a CSRF token bound to the link (form field and SameSite cookie). The link is signed,
expires, names the request, the step, the approver and the round, and works once. Every refused
link is answered with a clear page and recorded in the audit trail.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import update
from sqlmodel import col

from credit import audit, services
from credit.app import App
from credit.db.models import ApprovalLink, CreditRequest, Decision, RequestStatus, utcnow
from credit.domain.money import fmt_money
from credit.notices import install_filters
from credit.resources import resource_dir
from credit.services import links
from credit.services.approvals import _approval_context, _steps

log = logging.getLogger(__name__)
CSRF_COOKIE = "credit_csrf"


def create_app(
    app: App,
    *,
    on_decided: Callable[[int, date], None] | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """The web app; ``on_decided(request_id, as_of)`` continues the lifecycle after a decision.
    ``today`` is the business date of a decision (default: today in the company's time zone)."""
    today = today or app.settings.today
    env = Environment(
        loader=FileSystemLoader(str(resource_dir("templates"))),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
        undefined=StrictUndefined,
    )
    install_filters(env, ZoneInfo(app.settings.timezone))
    env.globals["company_name"] = app.settings.company_name or "Credit management"
    web = FastAPI(title="Credit approvals", docs_url=None, redoc_url=None, openapi_url=None)

    def page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        response = HTMLResponse(
            env.get_template(f"web/{name}").render(**ctx),
            status_code=status,
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def message(
        title: str,
        text: str,
        *,
        ok: bool,
        status: int,
        details: list[str] | None = None,
        back: str = "",
    ) -> HTMLResponse:
        return page(
            "message.html.j2",
            status,
            title=title,
            message=text,
            ok=ok,
            details=details or [],
            back=back,
        )

    def what_happened(request_id: int, approver: str, level: int) -> tuple[str, str]:
        """(title, text) saying what the decision did, read back from the database."""
        with app.uow(read_only=True) as uow:
            s = uow.session
            r = s.get(CreditRequest, request_id)
            assert r is not None
            steps = _steps(s, services.SUBJECT_REQUEST, request_id)
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
        line = f"{fmt_money(r.proposed_limit, r.currency)}, {r.terms_days} days" + (
            f", {', '.join(r.conditions)}" if r.conditions else ""
        )
        if r.status == RequestStatus.PUBLISHED:
            done = (
                f"the credit line ({line}) is published and the customer is sent the terms letter"
            )
        else:
            done = (
                f"the credit line ({line}) is being published now; the customer is sent the "
                "terms letter"
            )
        return title, (
            f"Thank you, {approver}. Yours was the last level: every level has approved, so "
            f"{done}. Your decision is recorded in the audit trail."
        )

    def refused(exc: links.LinkRefused, request: Request, method: str) -> HTMLResponse:
        with app.uow() as uow:
            audit.record(
                uow.session,
                actor=str(exc.payload.get("a") or "unknown"),
                action="approval_link.refused",
                entity_type="credit_request",
                entity_id=str(exc.payload.get("r") or "-"),
                after={
                    "method": method,
                    "status": exc.status,
                    "step": exc.payload.get("s"),
                    "client": request.client.host if request.client else None,
                },
                reason=exc.reason,
            )
            uow.commit()
        return message("This link cannot be used", exc.reason, ok=False, status=exc.status)

    @web.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @web.get("/approve/{token}", response_class=HTMLResponse)
    def show(token: str, request: Request) -> HTMLResponse:
        with app.uow() as uow:
            s = uow.session
            try:
                valid = links.check(app, s, token)
            except links.LinkRefused as exc:
                uow.rollback()
                return refused(exc, request, "GET")
            r = s.get(CreditRequest, valid.link.request_id)
            assert r is not None
            ctx = _approval_context(app, s, r, _steps(s, services.SUBJECT_REQUEST, r.id), today())  # type: ignore[arg-type]
            csrf = links.csrf_token(links.web_secret(app), valid.link.nonce)
            from credit.services.views import step_view

            response = page(
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

    @web.post("/approve/{token}", response_class=HTMLResponse)
    def decide(
        token: str,
        request: Request,
        decision: str = Form(""),
        comment: str = Form(""),
        csrf: str = Form(""),
    ) -> HTMLResponse:
        with app.uow() as uow:
            try:
                valid = links.check(app, uow.session, token)
            except links.LinkRefused as exc:
                uow.rollback()
                return refused(exc, request, "POST")
            link = valid.link
        expected = links.csrf_token(links.web_secret(app), link.nonce)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (
            hmac.compare_digest(csrf.encode(), expected.encode())
            and hmac.compare_digest(cookie.encode(), expected.encode())
        ):
            return refused(
                links.LinkRefused(
                    403,
                    "The form could not be verified (missing or wrong security "
                    "token). Open the link from your notice again.",
                    valid.payload,
                ),
                request,
                "POST",
            )
        if decision not in ("approve", "reject"):
            return message("Nothing was decided", "Choose Approve or Reject.", ok=False, status=400)
        as_of = today()
        try:
            step = services.decide(
                app,
                subject=services.SUBJECT_REQUEST,
                subject_id=link.request_id,
                username=link.approver,
                approve=decision == "approve",
                comment=comment.strip() or None,
                as_of=as_of,
            )
        except services.DecisionRefused as exc:
            return message(
                "Your decision was refused",
                "The approval rules do not allow it:",
                ok=False,
                status=403,
                details=exc.reasons,
            )
        except services.ServiceError as exc:  # the rules' refusal, in words: the link still works
            text = str(exc)
            return message(
                "Nothing was decided",
                text[:1].upper() + text[1:] + ". Go back to the request, change what is needed "
                "and decide again; your link still works.",
                ok=False,
                status=400,
                back=f"/approve/{token}",
            )
        with app.uow() as uow:
            uow.session.execute(
                update(ApprovalLink)
                .where(col(ApprovalLink.id) == link.id, col(ApprovalLink.used_at).is_(None))
                .values(used_at=utcnow())
            )
            uow.commit()
        if on_decided is not None:
            on_decided(link.request_id, as_of)
        title, text = what_happened(link.request_id, link.approver, step.level)
        return message(title, text, ok=True, status=200)

    return web
