"""A customer letter as a PDF, made from what its notice stored when it was queued: the sender
block and window address, date, customer number and RF reference, the subject, the body, the
items with their totals across pages, the payment block (the account for the letter's currency,
the amount, the reference; the EPC QR code in euro) and the signature."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fpdf.enums import XPos

from credit.domain import epc_qr
from credit.notices.document import STATEMENT_MARK, Letter
from credit.notices.formats import date_text, money_text
from credit.notices.pdf import WIDTH, Column, Document, build
from credit.notices.pdf_labels import kind_label, labels

log = logging.getLogger(__name__)


def letter_pdf(letter: Letter, *, company: Mapping[str, Any]) -> bytes:
    """The letter's PDF (the same letter gives the same bytes)."""
    # The subject and the body are set whole (a character beyond the built-in fonts in them
    # makes the letter a DejaVu one).
    return build(
        lambda builtin: _letter_pdf(letter, company=company, builtin=builtin),
        shown=letter.subject + letter.body.replace(STATEMENT_MARK, ""),
    )


def _letter_pdf(letter: Letter, *, company: Mapping[str, Any], builtin: bool) -> bytes:
    ctx, locale = letter.context, letter.locale
    pdf = Document(
        company=company,
        locale=locale,
        title=letter.subject,
        created=letter.created_at,
        text=letter.body + str(ctx.get("customer")) + labels(locale)["department"],
        builtin=builtin,
    )
    words = pdf.words
    customer = ctx["customer"]
    day = ctx.get("as_of") or letter.created_at.date()
    info = [
        (words["date"], date_text(day, locale, "long")),
        (words["customer_no"], str(customer["code"])),
    ]
    remit = letter.remittance
    if remit is not None:
        info.append((words["reference"], remit["rf_grouped"]))
    pdf.add_page()
    pdf.letterhead(recipient_lines(customer), info)
    pdf.subject_line(letter.subject)
    before, marked, after = letter.body.partition(STATEMENT_MARK)
    pdf.paragraphs(before)
    if marked:
        _items(pdf, ctx)
        if remit is not None:
            payment_details(pdf, remit)
    pdf.paragraphs(after)
    _signature(pdf, company, letter.body)
    return pdf.render()


def recipient_lines(customer: Mapping[str, Any]) -> list[str]:
    """The name and postal address, a first address line that repeats the name left out."""
    address = [str(line) for line in customer.get("postal_address") or []]
    name = str(customer["name"])
    if address and address[0].strip().lower() == name.strip().lower():
        address = address[1:]
    return [name, *address]


def _items(pdf: Document, ctx: Mapping[str, Any]) -> None:
    """The overdue items and charges, the credits that reduce them and the total."""
    invoices, currency, locale = ctx.get("invoices"), ctx.get("currency", ""), pdf.locale
    if invoices is None:
        return
    words = pdf.words

    def money(value: Any) -> str:
        return money_text(value, currency, locale)

    # Item-level dunning gives each item its own level (0: a charge, which carries none).
    leveled = any("level" in i for i in invoices)
    level = [Column(words["level"], 14, "R")] if leveled else []
    pdf.items_table(
        [
            Column(words["number"], 46),
            Column(words["type"], 27),
            Column(words["due_date"], 28),
            Column(words["days_overdue"], 25, "R"),
            *level,
            Column(words["open_amount"], WIDTH - 126 - 14 * len(level), "R"),
        ],
        [
            [
                i["number"],
                kind_label(words, i["kind"]),
                date_text(i["due_date"], locale),
                str(i["days_overdue"]) if i["days_overdue"] > 0 else "–",
                *([str(i.get("level") or "–")] if leveled else []),
                money(i["open_amount"]),
            ]
            for i in invoices
        ],
    )
    lines: list[tuple[str, str, bool]] = []
    credits = ctx.get("credits") or []
    if credits:
        subtotal = sum((i["open_amount"] for i in invoices), Decimal(0))
        lines.append((words["subtotal"], money(subtotal), False))
        for c in credits:
            label = f"{kind_label(words, c['kind'], True)} {c['number']} ({date_text(c['date'], locale)})"
            lines.append((label, money(c["amount"]), False))
    lines.append((words["total_overdue"], money(ctx["overdue_total"]), True))
    pdf.totals(lines)


def payment_details(pdf: Document, remit: Mapping[str, Any]) -> None:
    """Where and how to pay: account, amount, reference, and the EPC QR code in euro."""
    words, locale = pdf.words, pdf.locale
    account = remit.get("account")
    rows: list[tuple[str, str]] = []
    if account:
        rows += [
            (words["beneficiary"], account["holder"]),
            (words["iban"], account["iban_grouped"]),
            (words["bic"], f"{account['bic']} ({account['bank']})"),
        ]
    if remit.get("amount") is not None:
        rows.append((words["amount"], money_text(remit["amount"], remit["currency"], locale)))
    rows.append((words["pay_reference"], remit["rf_grouped"]))
    note = words["quote"].format(rf=remit["rf_grouped"])
    pdf.payment_block(rows, note, epc_modules(remit))


def epc_payload(remit: Mapping[str, Any]) -> str | None:
    """The EPC QR payload of the letter's transfer, or None (not euro, no account or amount, or
    beyond what the standard allows: the letter then goes without a QR code)."""
    account = remit.get("account")
    if not remit.get("qr") or not account or remit.get("amount") is None:
        return None
    amount = Decimal(remit["amount"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    try:
        return epc_qr.payload(
            bic=account["bic"],
            name=account["holder"],
            iban=account["iban"],
            amount=amount,
            reference=remit["rf"],
        )
    except epc_qr.EpcError as exc:
        log.warning("no EPC QR code on the letter with reference %s: %s", remit["rf"], exc)
        return None


def epc_modules(remit: Mapping[str, Any]) -> Any:
    """The letter's EPC QR code as the PDF draws it: its modules, or None
    (:func:`credit.notices.qr.epc_matrix`, shared with the e-mail's PNG)."""
    from credit.notices import qr

    payload = epc_payload(remit)
    return qr.epc_matrix(payload) if payload is not None else None


def _signature(pdf: Document, company: Mapping[str, Any], body: str) -> None:
    """The company and department under the body (unless the body signs itself)."""
    name = str(company.get("name", ""))
    if name and name in body[-300:]:
        return
    if pdf.will_page_break(16):
        pdf.add_page()
    pdf.ln(4)
    pdf.wrapped(WIDTH, 4.6, f"{name}\n{pdf.words['department']}", new_x=XPos.RIGHT, align="J")


def as_of_of(letter: Letter) -> date:
    """The day the letter speaks of (its context's, else the day it was queued)."""
    day = letter.context.get("as_of")
    return day if isinstance(day, date) else letter.created_at.date()
