"""`credit customers show|list|statement`: a customer's profile, rating, credit line and
exposure; the statement of account as a PDF."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credit.cli import contacts
from credit.cli.output import (
    AsOpt,
    JsonOpt,
    as_code,
    clear_errors,
    console,
    fail,
    fmt_amount,
    fmt_figure,
    get_app,
    parse_date,
    print_json,
    require_company,
    table,
)
from credit.domain.words import counted, said

if TYPE_CHECKING:
    from credit.services.queries import CustomerOverview

app = typer.Typer(help="Look up customers.", no_args_is_help=True)


def say(text: str) -> None:
    """A line of the customer's view, printed as written (no markup, no highlighting)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def amt(value: Any, cur: str) -> str:
    """'EUR 120,000.00' in the currency's minor units; '-' for no amount."""
    return fmt_amount(value, cur) or "-"


def num(value: Any, cur: str) -> str:
    """'120,000.00': an amount without its currency."""
    return amt(value, cur).split(" ", 1)[-1]


@app.command("show")
def customers_show(
    customer_code: Annotated[str, typer.Argument(help="Customer code.")],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Profile, rating and score breakdown with the risk effects, what a proposal changes,
    credit line, exposure (open items and open orders), aging and dunning level."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        view = services.customer_overview(a, code=as_code(customer_code), as_of=day)
    if as_json:
        print_json(view)
        return
    c = view["customer"]
    console.print(
        f"[bold]{c['name']}[/] ({c['code']}) - {c['country']}, {c['currency']}, {c['email']}, "
        f"sales: {c['sales_owner_email']}"
    )
    asm = view["assessment"]
    if asm:
        show_assessment(asm, currency=c["currency"])
    else:
        say("Not assessed yet.")
    if view["change"]:
        show_change(view["change"])
    show_line_and_exposure(view)
    show_open_items(view["open_items"])
    contacts.show_contacts(view["contacts"])
    for p in view["promises"]:
        say(
            f"Promise: {amt(p['amount'], p['currency'])} by {p['promised_for']} "
            f"({p['recorded_by']}): {p['status']}"
        )


app.command("contacts")(contacts.customers_contacts)


def show_assessment(asm: dict[str, Any], *, currency: str) -> None:
    """The latest assessment: its rating and risk effects, scorecards, cleaning and override."""
    from credit.db.models import AssessmentStatus

    if asm["status"] != AssessmentStatus.COMPLETE:
        say(
            f"Assessment {asm['id']} as of {asm['as_of']} is {asm['status'].replace('_', ' ')} "
            f"(analyst {asm['analyst']}); quantitative score {asm['quantitative_score']}"
        )
    else:
        show_rating(asm, currency=currency)
    show_scorecards(asm)
    show_cleaning(asm)
    if asm["override_reason"]:
        say(
            f"Requested limit {amt(asm['requested_limit'], currency)} overrides the "
            f"recommendation: {asm['override_reason']}"
        )


def show_rating(asm: dict[str, Any], *, currency: str) -> None:
    """A complete assessment's rating, recommendation and the risk effects in force."""
    say(
        f"Rating {asm['rating']} (combined score {asm['score']} = quantitative "
        f"{asm['quantitative_score']} and qualitative {asm['qualitative_score'] or '-'}; policy "
        f"v{asm['policy_version']}, as of {asm['as_of']}); recommended limit "
        f"{amt(asm['recommended_limit'], currency)} ({asm['limit_basis']}), "
        f"{asm['terms_days']} days, conditions: {', '.join(asm['conditions']) or 'none'}"
    )
    effects = asm["risk_effects"]
    if effects is None:
        return
    say("Risk effects:" + ("" if effects["lines"] else " none"))
    for line in effects["lines"]:
        say(f"  {line}")
    for sig in effects["signals"]:
        since = (
            "found by this research"
            if sig["source"] == "research"
            else f"open since {sig['detected_on']}"
        )
        say(f"  in force ({sig['severity']}): {sig['kind']} ({since}): {sig['detail']}")


def show_scorecards(asm: dict[str, Any]) -> None:
    """The quantitative scorecard and, when rated, the qualitative one."""
    table(
        "Quantitative scorecard",
        ["factor", "value", "band", "points", "weight", "weighted"],
        [
            [f["label"], fmt_figure(f["value"]), f["band"], f["points"], f["weight"], f["weighted"]]
            for f in asm["factors"]
        ],
    )
    q = asm["qualitative"]
    if q["factors"]:
        source = (
            f"carried over from assessment {q['carried_over_from']}"
            if q["carried_over_from"]
            else f"by {q['by']}"
        )
        table(
            f"Qualitative assessment ({source}): {q['comment']}",
            ["factor", "score", "weight", "weighted"],
            [[f["label"], f["score"], f["weight"], f["weighted"]] for f in q["factors"]],
        )


def show_cleaning(asm: dict[str, Any]) -> None:
    """What cleaning the data fixed, rejected and flagged (and an older assessment's signals)."""
    cleaning = asm["cleaning"]
    say(
        f"Cleaning: {counted(len(cleaning['fixes']), 'fix', 'fixes')}, "
        f"{counted(len(cleaning['rejected']), 'rejected value')}, "
        f"{counted(len(cleaning['flags']), 'flag')}"
    )
    for kind, label in (("fixes", "fix"), ("rejected", "rejected"), ("flags", "flag")):
        for e in cleaning[kind]:
            say(f"  {label}: {e['item']} {e['field']} '{e['value']}': {e['reason']}")
    if asm.get("risk_effects") is None:  # made before risk effects: its signals as found
        for sig in asm["signals"]:
            say(f"  risk signal ({sig['severity']}): {sig['kind']}: {sig['detail']}")


def show_change(change: dict[str, Any]) -> None:
    """What a proposal changes against the line as it stands and the previous assessment."""
    against = (
        "no credit line yet (a new line)" if change["new_line"] else "the credit line as it stands"
    )
    previous = (
        f"assessment {change['previous']['assessment_id']} as of {change['previous']['as_of']}"
        if change["previous"]
        else "no earlier assessment"
    )
    subject = change["subject"] + (" (in approval)" if "request" in change["subject"] else "")
    say(f"Changes: {subject} against {against} and {previous}:")
    for line in change["lines"]:
        say(f"  {line}")


def show_line_and_exposure(view: CustomerOverview) -> None:
    """The credit line, open items with their aging per currency, and the exposure."""
    line = view["credit_line"]
    if line:
        say(
            f"Credit line: {amt(line['limit'], line['currency'])}, {line['terms_days']} days, "
            f"conditions: {', '.join(line['conditions']) or 'none'}, {said(line['status'])}"
            f"{' (' + line['hold_reason'] + ')' if line['hold_reason'] else ''}, "
            f"next review {line['next_review_on']}"
        )
    else:
        say("No credit line.")
    show_limits(view)
    for cur, amount in view["exposure"].items():
        aging = ", ".join(f"{k}: {num(v, cur)}" for k, v in view["aging"][cur].items())
        say(
            f"Open items {amt(amount, cur)} ({aging}); dunning level "
            f"{view['dunning_level'].get(cur, 0)}"
        )
    if profile := view.get("dunning_profile"):
        say(f"Dunning profile: {profile['profile']} ({profile['why']})")
    ex = view["credit_exposure"]
    cur = ex["currency"]
    say(
        f"Exposure {amt(ex['exposure'], cur)} (what `credit orders check` counts: open items "
        f"{amt(ex['receivables'], cur)} + open orders {amt(ex['open_orders'], cur)})"
        + (
            f" against the limit {amt(ex['limit'], cur)}: headroom {amt(ex['headroom'], cur)}"
            if ex["limit"] is not None
            else ""
        )
    )
    for o in ex["orders"]:
        say(f"  open order {o['number']} of {o['order_date']}: {amt(o['amount'], o['currency'])}")
    for why in ex["unvalued"]:
        say(f"  not counted: {why}")


def show_limits(view: CustomerOverview) -> None:
    """A temporary limit on the line, and the customer's group against its own limit."""
    temp = view.get("temporary_limit")
    if temp:
        say(
            f"  temporary until {temp['until']}, then {amt(temp['then'], temp['currency'])} "
            f"(request {temp['request_id']})"
        )
    group = view.get("group")
    if group:
        cur = group["currency"]
        say(
            f"Group {group['code']} ({group['name']}, {len(group['members'])} members): exposure "
            f"{amt(group['exposure'], cur)} of group limit {amt(group['limit'], cur)}, headroom "
            f"{amt(group['headroom'], cur)}{' - OVER ITS LIMIT' if group['over_limit'] else ''}"
        )


def show_open_items(open_items: dict[str, list[dict[str, Any]]]) -> None:
    rows = [
        [
            cur,
            i["number"],
            i["kind"] + (" (disputed)" if i["disputed"] else ""),
            i["due_date"],
            i["days_overdue"],
            num(i["open_amount"], cur),
        ]
        for cur, items in open_items.items()
        for i in items
    ]
    if rows:
        table("Open items", ["currency", "document", "kind", "due", "days overdue", "open"], rows)


@app.command("list")
def customers_list(as_json: JsonOpt = False) -> None:
    """Every customer with rating, credit line and status."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.customer_list(a)
    if as_json:
        print_json(rows)
        return
    table(
        "Customers",
        ["code", "name", "currency", "rating", "limit", "terms", "line status", "next review"],
        [
            [
                r["code"],
                r["name"],
                r["currency"],
                r["rating"] or "-",
                f"{r['currency']} {Decimal(r['limit']):,.2f}" if r["limit"] else "-",
                r["terms_days"] if r["terms_days"] is not None else "-",
                r["status"] or "-",
                r["next_review_on"] or "-",
            ]
            for r in rows
        ],
    )


@app.command("statement")
def customers_statement(
    customer_code: Annotated[str, typer.Argument(help="Customer code.")],
    as_of: AsOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The PDF file to write (default: statement-CODE-DATE.pdf in the reports folder).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The customer's statement of account as a PDF: every open item and credit, and the balance
    per currency (in the customer's language, with the company's account for each currency)."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    require_company(a.settings, "a statement of account")
    code = as_code(customer_code)
    with clear_errors():
        statement = services.customer_statement(a, customer_code=code, as_of=day)
        from credit.notices.pdf_statement import statement_pdf

        data = statement_pdf(
            statement, company=a.settings.company, locale=statement["customer"]["locale"]
        )
    target = out or a.settings.reports_dir / f"statement-{code}-{day.isoformat()}.pdf"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        fail(f"--out: cannot write {target}: {exc.strerror}")
    if as_json:
        print_json({**statement, "file": str(target)})
        return
    balances = "; ".join(
        f"{c['currency']} {counted(len(c['items']), 'open item')}, "
        f"{counted(len(c['credits']), 'credit')}, balance {amt(c['balance'], c['currency'])}"
        for c in statement["currencies"]
    )
    say(
        f"Statement of account of {code} as of {day.isoformat()}: "
        f"{balances or 'nothing open'}. Written to {target}"
    )
