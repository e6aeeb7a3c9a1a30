"""What a customer letter needs to be paid from: its RF reference (issued with the notice, in the
same transaction), the company's account for its currency, whether it carries an EPC QR code; and
the summary an e-mail shows when the items are too many to list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import Customer, Invoice, Notice
from credit.domain import rf
from credit.domain.money import ZERO
from credit.notices.document import Letter, account_problem, stored
from credit.services.cash.references import issue
from credit.services.common import ServiceError

# More overdue items than this: the e-mail summarises them (and lists the oldest), the PDF lists
# them all.
SUMMARY_FROM = 25
SHOWN_IN_SUMMARY = 10
# The Content-ID of the EPC QR code attached to a euro e-mail (its HTML shows it inline).
QR_CONTENT_ID = "epc-qr@credit"


class Remittance(TypedDict):
    """Where and how a letter asks to be paid (the notice context's ``remittance``)."""

    currency: str
    amount: Decimal | None  # what the letter asks for; None: a letter asking for no amount
    rf: str
    rf_grouped: str
    account: dict[str, str] | None  # the company's account for the currency, if it has one
    asks: bool  # the letter asks for money: without an account it is refused at send time
    qr: bool  # an EPC QR code goes on it (euro, an account, an amount)
    inline_qr: bool  # ... and, in an e-mail, inline in its HTML
    qr_cid: str


@dataclass(frozen=True)
class Asked:
    """What a letter asks the customer to pay: the currency, the amount (None: no amount, as in
    a terms letter) and the invoices and charges it lists (their numbers, and their ids when the
    caller has them)."""

    currency: str
    amount: Decimal | None
    invoice_numbers: Sequence[str] = ()
    # their ids, when the caller has them (None: looked up)
    invoice_ids: Sequence[int] | None = None


def remittance(
    app: App,
    s: Session,
    *,
    customer: Customer,
    asked: Asked,
    purpose: str,
    notice_key: str,
    as_of: date,
    channel: str,
) -> Remittance:
    """The payment details of the letter queued under ``notice_key``: its RF reference is issued
    now, in the caller's transaction (the same one again for the same key), for the invoices it
    lists. The account is the company's for ``currency`` as configured now; delivery checks that
    it still is (a currency without one is refused then, never sent with another account)."""
    currency, amount = asked.currency, asked.amount
    ids = (
        list(asked.invoice_ids)
        if asked.invoice_ids is not None
        else invoice_ids_of(s, customer, asked.invoice_numbers)
    )
    ref = issue(
        s,
        customer=customer,
        currency=currency,
        invoice_ids=ids,
        amount=amount if amount is not None else ZERO,
        purpose=purpose,
        notice_key=notice_key,
        as_of=as_of,
    )
    account = app.bank_accounts.for_currency(currency)
    qr = currency == "EUR" and account is not None and amount is not None and amount >= 0.01
    return {
        "currency": currency,
        "amount": amount,
        "rf": ref,
        "rf_grouped": rf.grouped(ref),
        "account": account.view() if account is not None else None,
        "asks": amount is not None,
        "qr": qr,
        "inline_qr": qr and channel == "email",
        "qr_cid": QR_CONTENT_ID,
    }


def invoice_ids_of(s: Session, customer: Customer, numbers: Sequence[str]) -> list[int]:
    """The ids of the customer's invoices (and charges) with these numbers."""
    if not numbers:
        return []
    found: list[int] = []
    wanted = sorted(set(numbers))
    for i in range(0, len(wanted), 500):
        found += [
            int(n)
            for n in s.exec(
                select(Invoice.id).where(
                    Invoice.customer_id == customer.id, col(Invoice.number).in_(wanted[i : i + 500])
                )
            )
            if n is not None
        ]
    return found


def summary(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What an e-mail shows of a long list (None when it lists them all): the count, the oldest
    due date, the largest item and the oldest ``SHOWN_IN_SUMMARY`` items (the list is oldest
    first)."""
    if len(items) <= SUMMARY_FROM:
        return None
    oldest = sorted(items, key=lambda i: (i["due_date"], -i["open_amount"], i["number"]))
    return {
        "count": len(items),
        "oldest_due_date": oldest[0]["due_date"],
        "largest": max(items, key=lambda i: (i["open_amount"], i["number"])),
        "shown": oldest[:SHOWN_IN_SUMMARY],
    }


def rewrite_for_account(app: App, notice: Notice) -> dict[str, Any] | None:
    """Write a failed letter again with the company's account for its currency as configured
    now (it named none, or an old one); what changed, or None when it needs no rewriting. A
    currency that still has no account is refused, naming what to fix."""
    letter = Letter.of(notice)
    if letter is None or account_problem(letter, app.bank_accounts) is None:
        return None
    ctx = letter.context
    remit = ctx["remittance"]
    account = app.bank_accounts.for_currency(remit["currency"])
    if account is None:
        raise ServiceError(f"notice {notice.id}: {app.bank_accounts.missing(remit['currency'])}")
    before = remit["account"]["iban"] if remit["account"] else None
    qr = remit["currency"] == "EUR" and remit["amount"] is not None and remit["amount"] >= 0.01
    remit.update(
        account=account.view(),
        qr=qr,
        inline_qr=qr and notice.channel == "email",
    )
    rendered = app.renderer.render(notice.kind, notice.locale, ctx)
    body = app.renderer.render_letter_body(notice.kind, notice.locale, ctx)
    notice.subject, notice.text, notice.html = rendered.subject, rendered.text, rendered.html
    notice.document = stored(ctx, body)
    return {"currency": remit["currency"], "account_before": before, "account": account.iban}
