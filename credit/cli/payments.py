"""Money in: `credit import statement FILE` (a bank statement, camt.053 or MT940) and `credit
payments unmatched|show|match|unmatch` (the collector's queue of payments no rule matched)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from credit.cli.output import (
    AsOpt,
    JsonOpt,
    UserOpt,
    clear_errors,
    console,
    err,
    fail,
    fmt_amount,
    get_app,
    parse_date,
    print_json,
    table,
)
from credit.domain.words import counted

app = typer.Typer(
    help="Bank payments: the queue of unmatched payments, matches confirmed and undone.",
    no_args_is_help=True,
)

RULE_WORDS = {
    "rf": "RF reference",
    "invoice_number": "invoice number",
    "iban_amount": "IBAN and amount",
    "iban_items": "IBAN and items",
    "manual": "by hand",
    "return": "return",
}


@contextmanager
def statement_errors() -> Generator[None, None, None]:
    """A statement the parser (or the import) refuses: each problem on its own line, exit 2."""
    try:
        yield
    except ValueError as exc:
        problems = getattr(exc, "problems", None)
        if problems is None or not hasattr(exc, "file"):
            raise
        for p in problems:
            err.print(p.message(exc.file), highlight=False, markup=False, soft_wrap=True)
        fail(f"{counted(len(problems), 'problem')}; nothing was imported")


def import_statement(
    file: Annotated[Path, typer.Argument(help="The statement: camt.053 XML or MT940.")],
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Match everything and show it; write nothing.")
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Who imports (audited; a person in the directory)."),
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a bank statement (camt.053 or MT940) and match its payments.

    Each new payment is matched to the open items it pays (RF reference, invoice numbers, known
    IBAN and amount) or waits in `credit payments unmatched`; returns bounce what they take
    back. Importing the same file again adds nothing."""
    from credit import services
    from credit.cli.running import progress_display

    a = get_app()
    day = parse_date(as_of)
    with clear_errors():
        who = "import" if actor is None else services.known_user(a, actor)
    with clear_errors(), statement_errors():
        shown = progress_display(f"Importing {file.name}") if not as_json else _quiet()
        with shown:
            summary = services.import_statement(
                a, path=file, actor=who, as_of=day, dry_run=dry_run, today=a.settings.today()
            )
    if as_json:
        print_json(summary)
        return
    _print_summary(summary)


@contextmanager
def _quiet() -> Generator[None, None, None]:
    yield


def _print_summary(summary: Any) -> None:
    verb = "would import" if summary["dry_run"] else "imported"
    matched = summary["matched"]
    by_rule = ", ".join(f"{n} by {RULE_WORDS.get(r, r)}" for r, n in matched.items())
    console.print(
        f"{summary['file']}: {counted(summary['read'], 'payment')} read, {summary['new']} new, "
        f"{summary['skipped']} skipped as already imported"
        + (" (dry run: nothing written)" if summary["dry_run"] else ""),
        highlight=False,
    )
    if not summary["new"]:
        console.print("nothing new: every payment in it was imported before", highlight=False)
        return
    console.print(
        f"{verb}: {sum(matched.values())} matched"
        + (f" ({by_rule})" if by_rule else "")
        + f", {summary['unmatched']} unmatched, "
        + f"{counted(summary['returns'], 'return')} applied"
        + (
            f", {summary['returns_unmatched']} return(s) unmatched"
            if summary["returns_unmatched"]
            else ""
        )
        + (f", {summary['ignored']} debit(s) ignored" if summary["ignored"] else ""),
        highlight=False,
    )
    if summary["waiting"] and not summary["dry_run"]:
        console.print(
            "waiting for a collector: entries "
            + ", ".join(map(str, summary["waiting"][:20]))
            + (" ..." if len(summary["waiting"]) > 20 else "")
            + " (credit payments unmatched)",
            highlight=False,
        )


def _suggestion_text(sg: dict[str, Any]) -> str:
    items = ", ".join(sg["invoices"]) or "on account"
    return f"{sg['customer']} {items} ({sg['score']})"


@app.command("unmatched")
def payments_unmatched(as_json: JsonOpt = False) -> None:
    """The payments no rule matched, oldest first, with suggestions."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.unmatched_payments(a)
    if as_json:
        print_json(rows)
        return
    table(
        "Payments waiting for a collector",
        ["entry", "booked", "amount", "payer", "remittance", "best suggestions"],
        [
            [
                f"{r['id']}" + (" (return)" if r["kind"] == "return" else ""),
                r["booked_on"],
                fmt_amount(r["amount"], r["currency"]),
                r["payer_name"] or r["payer_iban"] or "",
                " ".join(x for x in (r["reference"] or "", r["remittance"] or "") if x)[:60],
                "; ".join(
                    f"{n}. {_suggestion_text(sg)}" for n, sg in enumerate(r["suggestions"][:2], 1)
                ),
            ]
            for r in rows
        ],
    )
    if not rows:
        console.print("No payment is waiting.")


@app.command("show")
def payments_show(
    entry: Annotated[int, typer.Argument(help="The bank entry (its number in the queue).")],
    as_json: JsonOpt = False,
) -> None:
    """One bank entry: each rule tried and why, suggestions, payments."""
    from credit import services

    a = get_app()
    with clear_errors():
        e = services.payment_entry(a, entry_id=entry)
    if as_json:
        print_json(e)
        return
    status = e["status"] + (
        f" ({RULE_WORDS.get(e['rule'], e['rule'])}, by {e['matched_by']})" if e["rule"] else ""
    )
    console.print(
        f"Entry {e['id']}: {e['kind']} of {fmt_amount(e['amount'], e['currency'])} booked "
        f"{e['booked_on']} - {status}" + (f" - {e['customer']}" if e["customer"] else ""),
        highlight=False,
    )
    for label, value in (
        ("payer", " ".join(x for x in (e["payer_name"] or "", e["payer_iban"] or "") if x)),
        ("reference", e["reference"]),
        ("remittance", e["remittance"]),
        ("end-to-end", e["end_to_end"]),
        ("statement", e["statement"] and f"{e['statement']['file']} ({e['statement']['format']})"),
    ):
        if value:
            console.print(f"  {label}: {value}", highlight=False, markup=False)
    console.print("How it was matched:")
    for st in e["explanation"]:
        mark = "+" if st.get("applied") else "-"
        console.print(f"  {mark} {st['rule']}: {st['why']}", highlight=False, markup=False)
    if e["suggestions"] and e["status"] == "unmatched":
        console.print("Suggestions (credit payments match ENTRY --suggestion N --as USER):")
        for n, sg in enumerate(e["suggestions"], 1):
            console.print(
                f"  {n}. {_suggestion_text(sg)}: {fmt_amount(sg['amount'], sg['currency'])} open"
                f" - {'; '.join(sg['why'])}",
                highlight=False,
                markup=False,
            )
    if e["payments"]:
        table(
            "Payments",
            ["reference", "invoice", "amount", "status"],
            [
                [
                    p["reference"],
                    p["invoice"] or "on account",
                    fmt_amount(p["amount"], p["currency"]),
                    p["status"],
                ]
                for p in e["payments"]
            ],
        )


@app.command("match")
def payments_match(
    entry: Annotated[int, typer.Argument(help="The bank entry to match.")],
    *,
    actor: UserOpt,
    invoice: Annotated[
        list[str] | None,
        typer.Option("--invoice", help="An invoice it pays (repeat for several); oldest first."),
    ] = None,
    suggestion: Annotated[
        int | None, typer.Option("--suggestion", min=1, help="Confirm the N-th suggestion.")
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="The customer (alone: keep it all on account)."),
    ] = None,
    returns: Annotated[
        int | None, typer.Option("--returns", help="A return: the credit entry it takes back.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Match a payment by hand, or confirm a suggestion.

    It pays the invoices oldest first; the rest is kept on account. Audited."""
    from credit import services

    a = get_app()
    with clear_errors():
        e = services.match_payment(
            a,
            entry_id=entry,
            by=actor,
            invoices=list(invoice or []),
            customer=customer,
            suggestion=suggestion,
            returns=returns,
            reason=reason,
        )
    if as_json:
        print_json(e)
        return
    paid = ", ".join(
        f"{p['invoice'] or 'on account'} {fmt_amount(p['amount'], p['currency'])}"
        for p in e["payments"]
        if p["status"] == "received"
    )
    console.print(
        f"Entry {e['id']} matched to {e['customer']}" + (f": {paid}" if paid else "") + ".",
        highlight=False,
    )


@app.command("unmatch")
def payments_unmatch(
    entry: Annotated[int, typer.Argument(help="The bank entry whose match is wrong.")],
    *,
    actor: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why the match is wrong (audited).")],
    as_json: JsonOpt = False,
) -> None:
    """Undo a wrong match.

    Its payments are reversed (kept, paying nothing) and the entry waits in the queue again.
    Audited."""
    from credit import services

    a = get_app()
    with clear_errors():
        e = services.unmatch_payment(a, entry_id=entry, by=actor, reason=reason)
    if as_json:
        print_json(e)
        return
    console.print(
        f"Entry {e['id']}'s match undone: it waits in the queue again "
        f"({counted(len(e['suggestions']), 'suggestion')}).",
        highlight=False,
    )
