"""The collector's pages: the worklist, a customer's case and what a collector does on it (log a
call, record a promise, open or resolve a dispute, check an order, resend a notice, hold or
release the credit line) and, for credit managers, assigning cases. Each action calls the
service the CLI calls, as the signed-in person; a refusal shows the service's message on the
case page with what was typed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from credit import services
from credit.domain import workspace as ws
from credit.domain.money import MAX_DOCUMENT_AMOUNT, parse_amount
from credit.domain.receivables_status import NoteKind, OrderDecision
from credit.services import casework
from credit.services.common import ServiceError
from credit.web.auth import Access, Person
from credit.web.deps import Site, SiteDep

router = APIRouter()
WORKERS = [Depends(Access(ws.COLLECTOR, ws.MANAGER))]
MANAGERS = [Depends(Access(ws.MANAGER))]

# What the case page says after an action succeeded (?done=<action>).
DONE = {
    "note": "Logged.",
    "promise": "Promise recorded: escalation in that currency pauses until its date.",
    "dispute": "Dispute opened: the invoice leaves dunning until it is resolved.",
    "resolve": "Dispute resolved: what is still open on the invoice is dunned again.",
    "hold": "The credit line is on hold: no new orders on credit.",
    "release": "The hold is released: the credit line is active again.",
    "assign": "The customer's open cases are assigned.",
    "resend": "The notice is back in the outbox: the next delivery sends it.",
}


def _amount(raw: str, what: str) -> Decimal:
    """An amount typed in a form, by the rules of the command line's amounts."""
    try:
        value = parse_amount(raw, maximum=MAX_DOCUMENT_AMOUNT)
    except ValueError as exc:
        raise ServiceError(f"{what} {raw.strip()!r}: {exc}") from None
    if value < 0:
        raise ServiceError(f"{what} {raw.strip()!r} must not be negative")
    return value


def _date(raw: str, what: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ServiceError(f"{what} {raw.strip()!r} is not a date (YYYY-MM-DD)") from None


# --------------------------------------------------------------------------- worklist


def _filters(me: Person, query: dict[str, str]) -> casework.WorklistFilters:
    level, page = query.get("level", "").strip(), query.get("page", "").strip()
    promise = query.get("promise", "")
    return casework.WorklistFilters(
        level=int(level) if level.isdigit() else None,
        currency=query.get("currency", "").strip().upper()[:3],
        collector=query.get("collector", "").strip()[:60]
        or ("mine" if me.has(ws.COLLECTOR) else "all"),
        promise=promise if promise in casework.PROMISE_FILTERS else "",
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )


@router.get("/worklist", response_class=HTMLResponse, dependencies=WORKERS)
def worklist(*, request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    filters = _filters(me, dict(request.query_params))
    data = casework.worklist_page(here.app, as_of=here.today(), viewer=me.username, filters=filters)
    kept = {
        "collector": filters.collector,
        "level": "" if filters.level is None else str(filters.level),
        "currency": filters.currency,
        "promise": filters.promise,
    }
    return here.pages.page(
        "collections/worklist.html.j2",
        me=me,
        data=data,
        filters=filters,
        as_of=here.today(),
        collector_filters=casework.COLLECTOR_FILTERS,
        promise_filters=casework.PROMISE_FILTERS,
        page_link=lambda n: "/worklist?" + urlencode({**kept, "page": n}),
    )


# --------------------------------------------------------------------------- the case page


def _case(  # noqa: PLR0913  # what a case page shows besides the file, each named
    here: Site,
    me: Person,
    code: str,
    *,
    status: int = 200,
    done: str = "",
    error: dict[str, str] | None = None,
    form: dict[str, dict[str, str]] | None = None,
    order: dict[str, Any] | None = None,
) -> HTMLResponse:
    try:
        file = casework.case_file(
            here.app, customer_code=code, as_of=here.today(), viewer=me.username
        )
    except ServiceError as exc:
        return here.pages.message(
            "No such customer", str(exc), ok=False, status=404, me=me, back="/worklist",
            back_label="Back to the worklist",
        )  # fmt: skip
    return here.pages.page(
        "collections/case.html.j2",
        status,
        me=me,
        file=file,
        done=DONE.get(done, ""),
        error=error or {"action": "", "message": ""},
        form=form or {},
        order=order,
        allow=OrderDecision.ALLOW,
        is_manager=me.has(ws.MANAGER),
        note_kinds=[NoteKind.CALL, NoteKind.NOTE],
    )


@router.get("/cases/{code}", response_class=HTMLResponse, dependencies=WORKERS)
def case_page(
    *,
    request: Request,
    here: SiteDep,
    code: str,
    done: str = "",
    order_amount: str = "",
    order_currency: str = "",
) -> HTMLResponse:
    """The case; with ``order_amount``, the answer to whether such an order may ship on credit
    (a read: nothing is recorded)."""
    me: Person = request.state.person
    if not order_amount:
        return _case(here, me, code, done=done)
    typed = {"order": {"amount": order_amount, "currency": order_currency}}
    try:
        order = services.check_order(
            here.app,
            customer_code=code,
            amount=_amount(order_amount, "the order amount"),
            as_of=here.today(),
            currency=order_currency.strip() or None,
        )
    except ServiceError as exc:
        error = {"action": "order", "message": str(exc)}
        return _case(here, me, code, status=400, error=error, form=typed)
    return _case(here, me, code, order=dict(order), form=typed)


def _act(  # noqa: PLR0913  # the action's name, what was typed and the call, each named
    here: Site,
    request: Request,
    code: str,
    *,
    action: str,
    typed: dict[str, str],
    call: Callable[[Person], object],
) -> Response:
    """Run an action as the signed-in person: back to the case (303), or the case page with the
    service's refusal and what was typed (400)."""
    me: Person = request.state.person
    try:
        call(me)
    except ServiceError as exc:
        error = {"action": action, "message": str(exc)}
        return _case(here, me, code, status=400, error=error, form={action: typed})
    return RedirectResponse(f"/cases/{quote(code)}?done={action}#{action}", status_code=303)


@router.post("/cases/{code}/note", response_class=HTMLResponse, dependencies=WORKERS)
def log_note(
    *,
    request: Request,
    here: SiteDep,
    code: str,
    kind: Annotated[str, Form()] = NoteKind.NOTE,
    note: Annotated[str, Form()] = "",
) -> Response:
    def call(me: Person) -> object:
        return services.log_note(
            here.app, customer_code=code, note=note, by=me.username, as_of=here.today(), kind=kind
        )

    return _act(here, request, code, action="note", typed={"kind": kind, "note": note}, call=call)


@router.post("/cases/{code}/promise", response_class=HTMLResponse, dependencies=WORKERS)
def record_promise(  # noqa: PLR0913  # the form's fields
    *,
    request: Request,
    here: SiteDep,
    code: str,
    amount: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    promised_for: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    def call(me: Person) -> object:
        return services.record_promise(
            here.app,
            customer_code=code,
            amount=_amount(amount, "the promised amount"),
            promised_for=_date(promised_for, "the promised date"),
            by=me.username,
            as_of=here.today(),
            currency=currency.strip() or None,
            note=note,
            today=here.today(),
        )

    typed = {"amount": amount, "currency": currency, "promised_for": promised_for, "note": note}
    return _act(here, request, code, action="promise", typed=typed, call=call)


@router.post("/cases/{code}/dispute", response_class=HTMLResponse, dependencies=WORKERS)
def open_dispute(  # noqa: PLR0913  # the form's fields
    *,
    request: Request,
    here: SiteDep,
    code: str,
    invoice: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    dispute_code: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
) -> Response:
    def call(me: Person) -> object:
        _own_invoice(here, code, invoice)
        return services.open_dispute(
            here.app,
            invoice_number=invoice,
            reason=reason,
            by=me.username,
            as_of=here.today(),
            today=here.today(),
            code=dispute_code or None,
            owner=owner or None,
            due=_date(due, "the due date") if due.strip() else None,
        )

    typed = {"invoice": invoice, "reason": reason, "dispute_code": dispute_code}
    typed |= {"owner": owner, "due": due}
    return _act(here, request, code, action="dispute", typed=typed, call=call)


@router.post("/cases/{code}/resolve", response_class=HTMLResponse, dependencies=WORKERS)
def resolve_dispute(
    *,
    request: Request,
    here: SiteDep,
    code: str,
    invoice: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    def call(me: Person) -> object:
        _own_invoice(here, code, invoice)
        return services.resolve_dispute(
            here.app,
            invoice_number=invoice,
            by=me.username,
            note=note,
            as_of=here.today(),
            today=here.today(),
        )

    typed = {"invoice": invoice, "note": note}
    return _act(here, request, code, action="resolve", typed=typed, call=call)


def _own_invoice(here: Site, code: str, invoice: str) -> None:
    """The invoice is the customer's (a form for one customer does not touch another's)."""
    casework.customer_invoice(here.app, customer_code=code, number=invoice)


@router.post("/cases/{code}/hold", response_class=HTMLResponse, dependencies=WORKERS)
def place_hold(
    *, request: Request, here: SiteDep, code: str, reason: Annotated[str, Form()] = ""
) -> Response:
    def call(me: Person) -> object:
        return casework.place_hold(
            here.app, customer_code=code, by=me.username, reason=reason, as_of=here.today()
        )

    return _act(here, request, code, action="hold", typed={"reason": reason}, call=call)


@router.post("/cases/{code}/release", response_class=HTMLResponse, dependencies=WORKERS)
def release_hold(
    *, request: Request, here: SiteDep, code: str, reason: Annotated[str, Form()] = ""
) -> Response:
    def call(me: Person) -> object:
        return casework.release_hold(
            here.app, customer_code=code, by=me.username, reason=reason, as_of=here.today()
        )

    return _act(here, request, code, action="release", typed={"reason": reason}, call=call)


@router.post("/cases/{code}/assign", response_class=HTMLResponse, dependencies=MANAGERS)
def assign(
    *, request: Request, here: SiteDep, code: str, collector: Annotated[str, Form()] = ""
) -> Response:
    def call(me: Person) -> object:
        return casework.assign_cases(
            here.app, customer_code=code, collector=collector, by=me.username
        )

    return _act(here, request, code, action="assign", typed={"collector": collector}, call=call)


@router.post(
    "/cases/{code}/notices/{notice_id}/resend", response_class=HTMLResponse, dependencies=WORKERS
)
def resend_notice(
    *,
    request: Request,
    here: SiteDep,
    code: str,
    notice_id: int,
    reason: Annotated[str, Form()] = "",
) -> Response:
    def call(me: Person) -> object:
        casework.customer_notice(here.app, customer_code=code, notice_id=notice_id)
        return services.retry_notices(
            here.app, notice_ids=[notice_id], by=me.username, reason=reason
        )

    typed = {"reason": reason, "notice": str(notice_id)}
    return _act(here, request, code, action="resend", typed=typed, call=call)
