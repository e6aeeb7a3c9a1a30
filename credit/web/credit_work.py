"""The credit manager's and the analyst's pages: start a review, the ratings waiting and the
qualitative rating form (with reassignment), and the imports (upload, dry run, confirm).
Each action calls the service the CLI calls, with the signed-in person's username."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from credit import services
from credit.db.models import CreditAssessment, CreditLine, Customer
from credit.domain import scoring
from credit.domain import workspace as ws
from credit.domain.columns import COLUMNS, OPTIONAL
from credit.domain.money import MAX_DOCUMENT_AMOUNT, fmt_money, parse_amount, ratio
from credit.domain.policy import PolicyBody
from credit.domain.research_status import AssessmentStatus
from credit.domain.snapshot import facts_from_snapshot
from credit.importers import ImportErrorItem, ImportFailed, ImportPlan
from credit.services import imports
from credit.services.common import saved_id
from credit.services.ledger import exposure
from credit.services.research.decision import recommend_with_signals, rescore
from credit.services.research.effects import qualitative_context
from credit.services.views import customer_view, line_view
from credit.web.auth import Access, Person
from credit.web.deps import Site, SiteDep

router = APIRouter()

MANAGER = [Depends(Access(ws.MANAGER))]
RATERS = [Depends(Access(ws.ANALYST, ws.MANAGER))]  # analysts rate; managers see and reassign
IMPORT_KINDS = ("customers", "financials", "invoices", "payments", "orders")
PAGE_SIZE = 50
ERRORS_SHOWN = 1000
OUTLOOK = (100, 75, 50, 25, 0)  # qualitative totals the rating page shows the outcome of


class NotFound(Exception):
    """What a page is about does not exist (a customer, a waiting rating): a 404 page."""


async def posted(request: Request) -> dict[str, str]:
    """The submitted form's text fields (the rating form's fields follow the policy's factors)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Posted = Annotated[dict[str, str], Depends(posted)]


def said(text: str) -> str:
    """A service's message as a sentence."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def not_found(here: Site, me: Person, exc: Exception, *, back: str, label: str) -> HTMLResponse:
    return here.pages.message(
        "Not found", said(str(exc)), ok=False, status=404, me=me, back=back, back_label=label
    )


def amount_of(text: str, what: str) -> Decimal | None:
    """An amount typed in a form, by the CLI's rules (plain decimals, not negative); empty: None."""
    raw = text.strip()
    if not raw:
        return None
    try:
        value = parse_amount(raw, maximum=MAX_DOCUMENT_AMOUNT)
    except ValueError as exc:
        raise services.ServiceError(f"{what} {raw!r}: {exc}") from None
    if value < 0:
        raise services.ServiceError(f"{what} {raw!r}: must not be negative")
    return value


def raters(here: Site) -> list[dict[str, str]]:
    """The people who may be asked for a qualitative rating: analysts and credit managers."""
    return [
        {"username": p.username, "name": p.name, "roles": ", ".join(p.roles)}
        for p in here.app.directory.approvers
        if {"analyst", "credit_manager"} & set(p.roles)
    ]


def customer_of(s: Session, code: str) -> Customer:
    try:
        return services.get_customer(s, code)
    except services.ServiceError as exc:
        raise NotFound(str(exc)) from None


def line_of(s: Session, customer: Customer) -> dict[str, Any] | None:
    line = s.exec(select(CreditLine).where(CreditLine.customer_id == customer.id)).first()
    return dict(line_view(line)) if line is not None else None


# --- the credit manager starts a review -------------------------------------------------------


def review_page(
    here: Site, me: Person, code: str, *, form: dict[str, str], error: str = "", status: int = 200
) -> HTMLResponse:
    with here.app.uow(read_only=True) as uow:
        customer = customer_of(uow.session, code)
        line = line_of(uow.session, customer)
        view = customer_view(customer)
    blocked = ""
    try:  # said before the form is filled in, when a review cannot start now
        if not error:
            services.check_review_can_start(here.app, customer_code=code, requested_by=me.username)
    except services.ServiceError as exc:
        blocked = said(str(exc))
    return here.pages.page(
        "work/review.html.j2",
        status,
        me=me,
        customer=view,
        line=line,
        form=form,
        error=error,
        blocked=blocked,
        raters=raters(here),
    )


@router.get("/customers/{code}/review", response_class=HTMLResponse, dependencies=MANAGER)
def review_form(*, code: str, request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    try:
        return review_page(here, me, code, form={})
    except NotFound as exc:
        return not_found(here, me, exc, back="/customers", label="Back to the customers")


@router.post("/customers/{code}/review", response_class=HTMLResponse, dependencies=MANAGER)
def start_review(  # noqa: PLR0913  (the form's own fields, keyword-only)
    *,
    code: str,
    request: Request,
    here: SiteDep,
    requested_limit: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    analyst: Annotated[str, Form()] = "",
) -> Response:
    me: Person = request.state.person
    form = {"requested_limit": requested_limit, "reason": reason, "analyst": analyst}
    as_of = here.today()
    try:
        services.request_review(
            here.app,
            customer_code=code,
            requested_by=me.username,
            as_of=as_of,
            analyst=analyst.strip() or None,
            requested_limit=amount_of(requested_limit, "Requested limit"),
            override_reason=reason.strip() or None,
        )
    except services.ServiceError as exc:
        try:
            return review_page(here, me, code, form=form, error=said(str(exc)), status=400)
        except NotFound as missing:
            return not_found(here, me, missing, back="/customers", label="Back to the customers")
    here.followed_up(as_of)
    return RedirectResponse(f"/customers/{quote(code)}", status_code=303)


# --- the ratings waiting ------------------------------------------------------------------------


def page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 1_000_000 else 1


def rated_note(here: Site, me: Person, code: str) -> str:
    """What the confirmation says of a rating just given, read back from the database."""
    with here.app.uow(read_only=True) as uow:
        row = uow.session.exec(
            select(CreditAssessment, Customer)
            .join(Customer, col(Customer.id) == col(CreditAssessment.customer_id))
            .where(Customer.code == code)
            .order_by(col(CreditAssessment.id).desc())
        ).first()
    if row is None:
        return ""
    a, c = row
    if a.status != AssessmentStatus.COMPLETE or (a.qualitative or {}).get("by") != me.username:
        return ""

    def shown(amount: Decimal | None) -> str:
        return fmt_money(amount, c.currency) if amount is not None else "-"

    asked = f" (limit asked for: {shown(a.requested_limit)})" if a.requested_limit else ""
    score = a.total_score.quantize(Decimal("0.01")) if a.total_score is not None else "-"
    return (
        f"Your rating of {c.name} ({c.code}) is recorded: combined score {score}, rating "
        f"{a.rating}, recommended limit {shown(a.recommended_limit)}{asked}. The credit request "
        "is drafted and sent to its first approver next."
    )


@router.get("/ratings", response_class=HTMLResponse, dependencies=RATERS)
def ratings(
    *, request: Request, here: SiteDep, page: str = "1", rated: str = "", reassigned: str = ""
) -> HTMLResponse:
    me: Person = request.state.person
    waiting = sorted(
        services.waiting_assessments(here.app),
        key=lambda w: w["analyst"] != me.username,  # mine first; each part by due date
    )
    pages = max(1, -(-len(waiting) // PAGE_SIZE))
    number = min(page_number(page), pages)
    note = rated_note(here, me, rated) if rated else ""
    moved = next((w for w in waiting if w["customer"] == reassigned), None)
    if moved is not None:
        note = f"The rating of {moved['customer']} now waits for {moved['analyst']}."
    return here.pages.page(
        "work/ratings.html.j2",
        me=me,
        rows=waiting[(number - 1) * PAGE_SIZE : number * PAGE_SIZE],
        mine=sum(1 for w in waiting if w["analyst"] == me.username),
        total=len(waiting),
        page=number,
        pages=pages,
        note=note,
    )


# --- the qualitative rating form ------------------------------------------------------------


def outlook(a: CreditAssessment, policy: PolicyBody) -> list[dict[str, Any]]:
    """What the rating would come to at some qualitative totals (indicative: from the research
    snapshot, with the policy's own rules)."""
    result = rescore(a, policy)
    facts = facts_from_snapshot(a.inputs)
    rows = []
    for q in OUTLOOK:
        total = scoring.combined_score(result.total, Decimal(q), policy)
        grade = scoring.rate_combined(result, total, policy)
        rec, _ = recommend_with_signals(grade, a.inputs, as_of=a.as_of, facts=facts, policy=policy)
        rows.append(
            {
                "qualitative": q,
                "score": total,
                "rating": rec.rating,
                "limit": rec.limit,
                "terms_days": rec.terms_days,
                "conditions": rec.conditions,
            }
        )
    return rows


def statements(a: CreditAssessment) -> list[dict[str, Any]]:
    """The financial statements research used (base currency), latest first."""
    return [
        {
            "period_end": st.period_end,
            "revenue": st.revenue,
            "net_income": st.net_income,
            "equity": st.equity,
            "current_ratio": ratio(st.current_assets, st.current_liabilities),
            "operating_cash_flow": st.operating_cash_flow,
        }
        for st in reversed(facts_from_snapshot(a.inputs).statements)
    ]


def rating_context(here: Site, code: str) -> dict[str, Any]:
    """The waiting assessment of a customer with its evidence (NotFound when none waits)."""
    with here.app.uow(read_only=True) as uow:
        s = uow.session
        customer = customer_of(s, code)
        a = s.exec(
            select(CreditAssessment).where(
                CreditAssessment.customer_id == customer.id,
                CreditAssessment.status == AssessmentStatus.AWAITING_QUALITATIVE,
            )
        ).first()
        if a is None:
            raise NotFound(f"customer {code} has no assessment waiting for a qualitative rating")
        policy = here.app.policy_body_for(s, a.policy_version)
        return {
            **qualitative_context(a, customer, policy, reminder=False),
            "line": line_of(s, customer),
            "exposure": exposure(s, saved_id(customer), here.today()),
            "statements": statements(a),
            "base_currency": a.inputs.get("base_currency", policy.base_currency),
            "outlook": outlook(a, policy),
            "ratings_scale": [(r.grade, r.min_score, r.description) for r in policy.ratings],
        }


def rating_page(  # noqa: PLR0913  (what the page shows besides the rating, keyword-only)
    here: Site,
    me: Person,
    code: str,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    reassign_error: str = "",
    status: int = 200,
) -> HTMLResponse:
    try:
        ctx = rating_context(here, code)
    except NotFound as exc:
        return not_found(here, me, exc, back="/ratings", label="Back to the ratings waiting")
    return here.pages.page(
        "work/rating.html.j2",
        status,
        me=me,
        **ctx,
        form=form or {},
        error=error,
        reassign_error=reassign_error,
        raters=raters(here),
    )


@router.get("/ratings/{code}", response_class=HTMLResponse, dependencies=RATERS)
def rating_form(*, code: str, request: Request, here: SiteDep) -> HTMLResponse:
    return rating_page(here, request.state.person, code)


def scores_of(form: dict[str, str]) -> dict[str, Decimal]:
    """The factors' scores typed in the form (``score_<factor>``); the service checks the rest."""
    scores: dict[str, Decimal] = {}
    for key, raw in form.items():
        if not key.startswith("score_") or not raw.strip():
            continue
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise services.ServiceError(f"{key[6:]}: {raw!r} is not a score from 0 to 100")
        scores[key[6:]] = value
    return scores


@router.post("/ratings/{code}", response_class=HTMLResponse, dependencies=RATERS)
def rate(*, code: str, request: Request, here: SiteDep, form: Posted) -> Response:
    me: Person = request.state.person
    as_of = here.today()
    try:
        services.record_qualitative(
            here.app,
            customer_code=code,
            username=me.username,
            scores=scores_of(form),
            comment=form.get("comment", ""),
            override_limit=amount_of(form.get("proposed_limit", ""), "Proposed limit"),
            override_reason=form.get("limit_reason", "").strip() or None,
            as_of=as_of,
        )
    except services.ServiceError as exc:
        return rating_page(here, me, code, form=form, error=said(str(exc)), status=400)
    here.followed_up(as_of)
    return RedirectResponse("/ratings?" + urlencode({"rated": code}), status_code=303)


@router.post("/ratings/{code}/reassign", response_class=HTMLResponse, dependencies=MANAGER)
def reassign(
    *,
    code: str,
    request: Request,
    here: SiteDep,
    to: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    me: Person = request.state.person
    try:
        if not to.strip():
            raise services.ServiceError("choose the analyst who rates instead")
        services.reassign_analyst(
            here.app, customer_code=code, to=to.strip(), by=me.username, reason=reason
        )
    except services.ServiceError as exc:
        form = {"to": to, "reason": reason}
        return rating_page(here, me, code, form=form, reassign_error=said(str(exc)), status=400)
    return RedirectResponse("/ratings?" + urlencode({"reassigned": code}), status_code=303)


# --- imports --------------------------------------------------------------------------------


def kinds_view() -> list[dict[str, Any]]:
    return [
        {
            "kind": k,
            "columns": [(c, c in OPTIONAL[k]) for c in COLUMNS[k]],
        }
        for k in IMPORT_KINDS
    ]


def imports_page(
    here: Site, me: Person, *, error: str = "", done: Any = None, status: int = 200
) -> HTMLResponse:
    return here.pages.page(
        "work/imports.html.j2", status, me=me, kinds=kinds_view(), error=error, done=done
    )


@router.get("/imports", response_class=HTMLResponse, dependencies=MANAGER)
def imports_form(*, request: Request, here: SiteDep, kind: str = "", ref: str = "") -> HTMLResponse:
    me: Person = request.state.person
    done = None
    if kind in IMPORT_KINDS and ref:
        try:
            done = imports.upload_imported(here.app, kind=kind, by=me.username, ref=ref)
        except services.ServiceError:
            done = None
    return imports_page(here, me, done=done)


def report_page(  # noqa: PLR0913  (what the report shows, keyword-only)
    here: Site,
    me: Person,
    *,
    kind: str,
    plan: ImportPlan | None = None,
    ref: str = "",
    errors: list[ImportErrorItem] | None = None,
    confirming: bool = False,
) -> HTMLResponse:
    errors = errors or []
    return here.pages.page(
        "work/import_report.html.j2",
        400 if errors else 200,
        me=me,
        kind=kind,
        plan=plan,
        ref=ref,
        errors=errors[:ERRORS_SHOWN],
        error_count=len(errors),
        confirming=confirming,
    )


def run_upload(here: Site, me: Person, *, kind: str, ref: str, dry_run: bool) -> Response:
    """The dry run of an upload (its report, with a Confirm button) or its import; an upload
    with errors shows them, located, and cannot be confirmed."""
    try:
        plan = imports.import_upload(
            here.app, kind=kind, by=me.username, ref=ref, dry_run=dry_run, today=here.today()
        )
    except ImportFailed as exc:
        return report_page(here, me, kind=kind, errors=exc.errors, confirming=not dry_run)
    except services.ServiceError as exc:
        return imports_page(here, me, error=said(str(exc)), status=400)
    if dry_run:
        return report_page(here, me, kind=kind, plan=plan, ref=ref)
    return RedirectResponse("/imports?" + urlencode({"kind": kind, "ref": ref}), status_code=303)


def kind_refused(here: Site, me: Person, kind: str) -> HTMLResponse | None:
    if kind in IMPORT_KINDS:
        return None
    return not_found(
        here, me, ValueError(f"there is no import of {kind!r}"), back="/imports", label="Imports"
    )


@router.post("/imports/{kind}", response_class=HTMLResponse, dependencies=MANAGER)
def dry_run(
    *,
    kind: str,
    request: Request,
    here: SiteDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    me: Person = request.state.person
    if (refused := kind_refused(here, me, kind)) is not None:
        return refused
    if file is None or not file.filename:
        return imports_page(here, me, error=f"Choose a CSV file of {kind} to upload.", status=400)
    try:
        ref = imports.stage_upload(
            here.app, kind=kind, by=me.username, filename=file.filename, data=file.file
        )
    except services.ServiceError as exc:
        return imports_page(here, me, error=said(str(exc)), status=400)
    return run_upload(here, me, kind=kind, ref=ref, dry_run=True)


@router.post("/imports/{kind}/confirm", response_class=HTMLResponse, dependencies=MANAGER)
def confirm(
    *, kind: str, request: Request, here: SiteDep, ref: Annotated[str, Form()] = ""
) -> Response:
    me: Person = request.state.person
    if (refused := kind_refused(here, me, kind)) is not None:
        return refused
    return run_upload(here, me, kind=kind, ref=ref.strip(), dry_run=False)
