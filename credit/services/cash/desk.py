"""What the workspace's payments pages read: the queue of bank entries waiting for a collector
(each with why it waits and its ranked suggestions) and the entries matched last, by the matcher
or by a person, each with what it paid. Reads only: matching and undoing are
:mod:`credit.services.cash.queue`'s, as on the command line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import Customer, Invoice, Payment
from credit.db.models_cash import BankEntry
from credit.domain.receivables_status import BankEntryStatus, PaymentStatus

WAITING_SHOWN = 200
RECENT_SHOWN = 25

# The rules (and the other steps of an explanation) in words.
RULE_WORDS = {
    "rf": "RF reference",
    "invoice_number": "invoice number",
    "iban_amount": "IBAN and amount",
    "iban_items": "IBAN and items",
    "manual": "by hand",
    "return": "return",
    "fx": "exchange rate",
    "unmatched": "waiting",
    "unmatch": "match undone",
    "debit": "money out",
}


def rule_words(rule: str | None) -> str:
    return RULE_WORDS.get(rule or "", rule or "")


def waits_because(explanation: Iterable[dict[str, Any]]) -> list[str]:
    """Why an entry waits, in a line or three: the person who undid its match and why, or each
    rule the matcher tried and why it did not apply."""
    steps = list(explanation)
    undone = [st for st in steps if st.get("rule") == "unmatch"]
    if undone:
        return [str(undone[-1].get("why", ""))]
    return [
        str(st.get("why", ""))
        for st in steps
        if not st.get("applied") and st.get("rule") != "unmatched"
    ]


def payments_desk(
    app: App, *, waiting: int = WAITING_SHOWN, recent: int = RECENT_SHOWN
) -> dict[str, Any]:
    """The queue (oldest booking first, at most ``waiting``) and the ``recent`` entries matched
    last (newest first)."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        unmatched = BankEntry.status == BankEntryStatus.UNMATCHED
        total = s.exec(select(func.count()).select_from(BankEntry).where(unmatched)).one()
        queue = s.exec(
            select(BankEntry)
            .where(unmatched)
            .order_by(col(BankEntry.booked_on), col(BankEntry.id))
            .limit(waiting)
        ).all()
        matched = s.exec(
            select(BankEntry)
            .where(BankEntry.status == BankEntryStatus.MATCHED)
            .order_by(col(BankEntry.matched_at).desc(), col(BankEntry.id).desc())
            .limit(recent)
        ).all()
        codes = _codes(s, {e.customer_id for e in matched if e.customer_id})
        paid = _paid(s, [e.id for e in matched if e.id is not None])
        bounced = _references(s, {e.returns_payment_id for e in matched if e.returns_payment_id})
        return {
            "waiting": [{**_entry_view(e), "waits": waits_because(e.explanation)} for e in queue],
            "waiting_total": int(total),
            "recent": [
                {
                    **_entry_view(e),
                    "customer": codes.get(e.customer_id or 0),
                    "rule": e.matched_rule,
                    "rule_words": rule_words(e.matched_rule),
                    "matched_by": e.matched_by,
                    "matched_at": e.matched_at,
                    "paid": paid.get(e.id or 0, []),
                    "took_back": f"entry {e.returns_id}"
                    if e.returns_id
                    else f"payment {bounced.get(e.returns_payment_id or 0, '?')}"
                    if e.returns_payment_id
                    else None,
                }
                for e in matched
            ],
        }


def _entry_view(e: BankEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "status": e.status,
        "booked_on": e.booked_on,
        "amount": e.amount,
        "currency": e.currency,
        "payer_name": e.payer_name,
        "payer_iban": e.payer_iban,
        "reference": e.structured_ref,
        "remittance": e.remittance,
        "suggestions": e.suggestions,
    }


def _codes(s: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = s.exec(select(Customer.id, Customer.code).where(col(Customer.id).in_(ids))).all()
    return {cid: code for cid, code in rows if cid is not None}


def _references(s: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = s.exec(select(Payment.id, Payment.reference).where(col(Payment.id).in_(ids))).all()
    return {pid: ref for pid, ref in rows if pid is not None}


def _paid(s: Session, entry_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The received payments of each entry: (invoice number or None = on account, amount)."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not entry_ids:
        return found
    rows = s.exec(
        select(Payment, Invoice.number)
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id), isouter=True)
        .where(col(Payment.bank_entry_id).in_(entry_ids), Payment.status == PaymentStatus.RECEIVED)
        .order_by(col(Payment.id))
    ).all()
    for p, number in rows:
        found.setdefault(p.bank_entry_id or 0, []).append(
            {"invoice": number, "amount": p.amount, "currency": p.currency}
        )
    return found
