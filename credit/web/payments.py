"""The collector's payments pages (cash application): the bank entries no rule matched, each with
why it waits and its ranked suggestions to confirm, the entries matched last with a way to undo
them, and one entry with every rule tried, the payments it wrote and the forms to match it to
invoices, keep it on account for a customer, place a return, or undo its match.

Each action calls the service `credit payments match|unmatch` calls, as the signed-in person
(collectors and credit managers; the service checks it again); a refusal shows the service's one
line on the page the form was on, with what was typed, and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from credit.domain import workspace as ws
from credit.domain.money import fmt_money
from credit.domain.words import counted
from credit.importers.statements import StatementRejected
from credit.services.cash import desk, queue, uploads
from credit.services.common import ServiceError
from credit.web.auth import Access, Person
from credit.web.deps import Site, SiteDep

router = APIRouter()
WORKERS = [Depends(Access(ws.COLLECTOR, ws.MANAGER))]
MANAGERS = [Depends(Access(ws.MANAGER))]  # imports are theirs, as on the imports page

MAX_ENTRY_ID = 2**31 - 1  # an integer column on PostgreSQL
EntryId = Annotated[int, Path(ge=1, le=MAX_ENTRY_ID)]
MAX_INVOICES_TEXT = 4000
MAX_INVOICES = 100
MATCH_ACTIONS = ("invoices", "account", "returns")
PROBLEMS_SHOWN = 1000


def said(text: str) -> str:
    """A service's message as a sentence."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def invoice_numbers(text: str) -> list[str]:
    """The invoice numbers typed in one field, separated by spaces, commas or semicolons."""
    if len(text) > MAX_INVOICES_TEXT:
        raise ServiceError(f"the invoice numbers are {len(text)} characters: at most 4000")
    numbers = [n for n in re.split(r"[\s,;]+", text) if n]
    if len(numbers) > MAX_INVOICES:
        raise ServiceError(f"{len(numbers)} invoice numbers: match at most {MAX_INVOICES} at once")
    return numbers


def entry_number(text: str, what: str) -> int:
    raw = text.strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 10 or not 1 <= int(raw) <= MAX_ENTRY_ID:
        raise ServiceError(f"{what} {text.strip()!r} is not an entry number")
    return int(raw)


def paid_text(payments: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{p['invoice'] or 'on account'} {fmt_money(p['amount'], p['currency'])}"
        for p in payments
        if p["status"] == "received"
    )


def done_text(here: Site, done: str, entry: str) -> str:
    """What the page says after an action succeeded (``?done=match|unmatch&entry=N``)."""
    if done not in ("match", "unmatch") or not entry.isdigit() or len(entry) > 10:
        return ""
    try:
        e = queue.payment_entry(here.app, entry_id=int(entry))
    except ServiceError:
        return ""
    if done == "match" and e["status"] == "matched":
        paid = paid_text(e["payments"])
        to = f"to {e['customer']}" + (f": {paid}" if paid else "")
        if e["kind"] == "return":
            to = f"as the return of entry {e['returns']}"
        return (
            f"Entry {e['id']} is matched {to}. Its payments count in every balance now, and "
            "in dunning, holds and promises from the next collections run."
        )
    if done == "unmatch" and e["status"] == "unmatched":
        if e["kind"] == "return":
            return (
                f"Entry {e['id']}'s match is undone: the payments it bounced are received "
                "again and it waits in the queue."
            )
        n = len(e["suggestions"])
        return (
            f"Entry {e['id']}'s match is undone: its payments are reversed (kept, paying "
            f"nothing) and it waits in the queue again with {n} "
            f"suggestion{'' if n == 1 else 's'}."
        )
    return ""


# --------------------------------------------------------------------------- the queue


def queue_page(  # noqa: PLR0913  # what the queue shows besides the queue, each named
    here: Site,
    me: Person,
    *,
    status: int = 200,
    done: str = "",
    error: dict[str, Any] | None = None,
    imported: list[str] | None = None,
) -> HTMLResponse:
    return here.pages.page(
        "payments/queue.html.j2",
        status,
        me=me,
        desk=desk.payments_desk(here.app),
        as_of=here.today(),
        done=done,
        error=error or {"entry": 0, "message": ""},
        imported=imported or [],
        rule_words=desk.rule_words,
    )


@router.get("/payments", response_class=HTMLResponse, dependencies=WORKERS)
def payments_queue(
    *, request: Request, here: SiteDep, done: str = "", entry: str = "", imported: str = ""
) -> HTMLResponse:
    """The queue; after an action, what it did (``done``, ``entry``); after a statement's
    import, what the import did (``imported``: the upload's reference, the uploader's own)."""
    me: Person = request.state.person
    summary = None
    if imported:
        try:
            summary = uploads.statement_imported(here.app, by=me.username, ref=imported)
        except ServiceError:
            summary = None
    return queue_page(
        here,
        me,
        done=done_text(here, done, entry),
        imported=summary_lines(summary) if summary else None,
    )


# --------------------------------------------------------------------------- one entry


def entry_page(  # noqa: PLR0913  # what the entry page shows besides the entry, each named
    here: Site,
    me: Person,
    entry_id: int,
    *,
    status: int = 200,
    done: str = "",
    error: dict[str, str] | None = None,
    form: dict[str, dict[str, str]] | None = None,
) -> HTMLResponse:
    try:
        e = queue.payment_entry(here.app, entry_id=entry_id)
    except ServiceError as exc:
        return here.pages.message(
            "No such payment", said(str(exc)), ok=False, status=404, me=me, back="/payments",
            back_label="Back to the payments",
        )  # fmt: skip
    fx = next((st["fx"] for st in e["explanation"] if st.get("rule") == "fx" and "fx" in st), None)
    return here.pages.page(
        "payments/entry.html.j2",
        status,
        me=me,
        e=e,
        fx=fx,
        done=done,
        error=error or {"action": "", "message": ""},
        form=form or {},
        rule_words=desk.rule_words,
    )


@router.get("/payments/{entry_id}", response_class=HTMLResponse, dependencies=WORKERS)
def payment_page(
    *, request: Request, here: SiteDep, entry_id: EntryId, done: str = ""
) -> HTMLResponse:
    me: Person = request.state.person
    return entry_page(here, me, entry_id, done=done_text(here, done, str(entry_id)))


def act(  # noqa: PLR0913  # the action's name, what was typed, the call and where it came from
    here: Site,
    request: Request,
    entry_id: int,
    *,
    action: str,
    typed: dict[str, str],
    call: Callable[[Person], object],
    from_queue: bool = False,
) -> Response:
    """Run an action as the signed-in person: back to the page it came from (303) with what was
    done, or that page with the service's refusal and what was typed (400)."""
    me: Person = request.state.person
    done = "unmatch" if action == "unmatch" else "match"
    try:
        call(me)
    except ServiceError as exc:
        message = said(str(exc))
        if from_queue:
            return queue_page(here, me, status=400, error={"entry": entry_id, "message": message})
        error = {"action": action, "message": message}
        return entry_page(here, me, entry_id, status=400, error=error, form={action: typed})
    if from_queue:
        return RedirectResponse(f"/payments?done={done}&entry={entry_id}#recent", status_code=303)
    return RedirectResponse(f"/payments/{entry_id}?done={done}", status_code=303)


@router.post("/payments/{entry_id}/confirm", response_class=HTMLResponse, dependencies=WORKERS)
def confirm_suggestion(  # noqa: PLR0913  # the form's fields
    *,
    request: Request,
    here: SiteDep,
    entry_id: EntryId,
    suggestion: Annotated[str, Form()] = "",
    customer: Annotated[str, Form()] = "",
    invoices: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Confirm a suggestion as it was shown: its customer and its invoices (a suggestion the
    queue has ranked anew since is not taken in its place)."""

    def call(me: Person) -> object:
        if not customer.strip():
            raise ServiceError("the suggestion names no customer: open the entry and match it")
        n = suggestion.strip()
        return queue.match_payment(
            here.app,
            entry_id=entry_id,
            by=me.username,
            invoices=invoice_numbers(invoices),
            customer=customer,
            reason=f"suggestion {n} confirmed" if n.isdigit() and len(n) < 4 else "",
            as_of=here.today(),
        )

    typed = {"customer": customer, "invoices": invoices}
    return act(
        here, request, entry_id, action="suggestion", typed=typed, call=call,
        from_queue=back == "queue",
    )  # fmt: skip


@router.post("/payments/{entry_id}/match", response_class=HTMLResponse, dependencies=WORKERS)
def match(  # noqa: PLR0913  # the form's fields
    *,
    request: Request,
    here: SiteDep,
    entry_id: EntryId,
    action: Annotated[str, Form()] = "invoices",
    invoices: Annotated[str, Form()] = "",
    customer: Annotated[str, Form()] = "",
    returns: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Match by hand: to invoices (and, named, the customer whose they must be), all on account
    for a customer, or a return to the credit entry it takes back."""
    action = action if action in MATCH_ACTIONS else "invoices"

    def call(me: Person) -> object:
        named: dict[str, Any] = {}
        if action == "invoices":
            numbers = invoice_numbers(invoices)
            if not numbers:
                raise ServiceError(
                    "name the invoices it pays (numbers separated by spaces or commas); to "
                    "keep it all on account, name the customer under Keep on account"
                )
            named = {"invoices": numbers, "customer": customer.strip() or None}
        elif action == "account":
            if not customer.strip():
                raise ServiceError("name the customer (its code, e.g. C-1007) to keep it for")
            named = {"customer": customer.strip()}
        else:
            named = {"returns": entry_number(returns, "the entry it takes back")}
        return queue.match_payment(
            here.app, entry_id=entry_id, by=me.username, reason=reason, as_of=here.today(),
            **named,
        )  # fmt: skip

    typed = {"invoices": invoices, "customer": customer, "returns": returns, "reason": reason}
    return act(here, request, entry_id, action=action, typed=typed, call=call)


@router.post("/payments/{entry_id}/unmatch", response_class=HTMLResponse, dependencies=WORKERS)
def unmatch(
    *, request: Request, here: SiteDep, entry_id: EntryId, reason: Annotated[str, Form()] = ""
) -> Response:
    def call(me: Person) -> object:
        return queue.unmatch_payment(here.app, entry_id=entry_id, by=me.username, reason=reason)

    return act(here, request, entry_id, action="unmatch", typed={"reason": reason}, call=call)


# --------------------------------------------------------------------------- statements


def summary_lines(s: dict[str, Any]) -> list[str]:
    """What a statement's import did (or would do), as `credit import statement` says it."""
    lines = [
        f"{s['file']}: {counted(s['read'], 'payment')} read, {s['new']} new, {s['skipped']} "
        "skipped as already imported" + (" (dry run: nothing written)" if s["dry_run"] else "")
    ]
    if not s["new"]:
        return [*lines, "Nothing new: every payment in it was imported before."]
    matched = s["matched"]
    by_rule = ", ".join(f"{n} by {desk.rule_words(r)}" for r, n in matched.items())
    lines.append(
        ("Would import" if s["dry_run"] else "Imported")
        + f": {sum(matched.values())} matched"
        + (f" ({by_rule})" if by_rule else "")
        + f", {s['unmatched']} waiting for a collector, "
        + f"{counted(s['returns'], 'return')} applied"
        + (f", {s['returns_unmatched']} return(s) waiting" if s["returns_unmatched"] else "")
        + (f", {s['ignored']} debit(s) ignored" if s["ignored"] else "")
        + "."
    )
    return lines


def statement_page(  # noqa: PLR0913  # what the report shows, each named
    here: Site,
    me: Person,
    *,
    summary: dict[str, Any] | None = None,
    ref: str = "",
    problems: list[str] | None = None,
    error: str = "",
    confirming: bool = False,
) -> HTMLResponse:
    problems = problems or []
    return here.pages.page(
        "payments/statement.html.j2",
        400 if problems or error else 200,
        me=me,
        summary=summary,
        lines=summary_lines(summary) if summary else [],
        ref=ref,
        problems=problems[:PROBLEMS_SHOWN],
        problem_count=len(problems),
        error=error,
        confirming=confirming,
    )


def run_statement(here: Site, me: Person, *, ref: str, dry_run: bool) -> Response:
    """The dry run of an uploaded statement (what it would match, with a button to import it)
    or its import (then the queue, with what it did); problems listed, located."""
    try:
        summary = uploads.import_staged(
            here.app, by=me.username, ref=ref, dry_run=dry_run, as_of=here.today(),
            today=here.today(),
        )  # fmt: skip
    except StatementRejected as exc:
        problems = [p.message(exc.file) for p in exc.problems]
        return statement_page(here, me, problems=problems, confirming=not dry_run)
    except ServiceError as exc:
        return statement_page(here, me, error=said(str(exc)))
    if dry_run:
        return statement_page(here, me, summary=dict(summary), ref=ref)
    return RedirectResponse(f"/payments?imported={ref}", status_code=303)


@router.post("/payments/statements", response_class=HTMLResponse, dependencies=MANAGERS)
def check_statement(
    *, request: Request, here: SiteDep, file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Upload a bank statement (camt.053 or MT940): its dry run."""
    me: Person = request.state.person
    if file is None or not file.filename:
        return statement_page(
            here, me, error="Choose a bank statement file (camt.053 XML or MT940) to upload."
        )
    try:
        ref = uploads.stage_statement(
            here.app, by=me.username, filename=file.filename, data=file.file
        )
    except ServiceError as exc:
        return statement_page(here, me, error=said(str(exc)))
    return run_statement(here, me, ref=ref, dry_run=True)


@router.post("/payments/statements/import", response_class=HTMLResponse, dependencies=MANAGERS)
def import_statement(
    *, request: Request, here: SiteDep, ref: Annotated[str, Form()] = ""
) -> Response:
    """Import the statement whose dry run was shown."""
    return run_statement(here, request.state.person, ref=ref.strip(), dry_run=False)
