"""The RF creditor reference a letter carries: issued once per notice (its idempotency key),
resolved by the matcher to the customer and the items it stood for."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from credit.db.models import Customer
from credit.db.models_cash import PaymentReference
from credit.domain import rf


def issue(
    s: Session,
    *,
    customer: Customer,
    currency: str,
    invoice_ids: Iterable[int],
    amount: Decimal,
    purpose: str,
    notice_key: str | None,
    as_of: date,
) -> str:
    """The RF reference for a letter (the same one again for the same ``notice_key``). Its body
    is the customer's code (letters and digits, at most 10), then, for a notice, 11 characters
    of its key's SHA-256 (so the same notice gets the same reference however runs are split
    across processes), else the reference's number: a person reading a statement sees whose
    it is."""
    if notice_key is not None:
        there = s.exec(select(PaymentReference).where(PaymentReference.notice_key == notice_key))
        found = there.first()
        if found is not None:
            return found.rf
    code = re.sub(r"[^A-Z0-9]", "", customer.code.upper())[:10]
    row = PaymentReference(
        rf="",
        customer_id=customer.id or 0,
        currency=currency,
        invoice_ids=sorted(set(invoice_ids)),
        amount=amount,
        purpose=purpose,
        notice_key=notice_key,
        issued_on=as_of,
    )
    keyed = _keyed(code, notice_key) if notice_key is not None else None
    if keyed is not None and _taken(s, keyed):
        keyed = None  # two keys with the same 11 characters: numbered instead
    row.rf = keyed or ""
    s.add(row)
    s.flush()  # its id
    if not row.rf:
        number = f"{row.id:08d}"
        row.rf = rf.make(f"{code[: min(10, 21 - len(number))]}{number}")
        s.add(row)
        s.flush()
    return row.rf


def _keyed(code: str, notice_key: str) -> str:
    digest = int(hashlib.sha256(notice_key.encode()).hexdigest(), 16)
    chars: list[str] = []
    while digest and len(chars) < 11:
        digest, rest = divmod(digest, 36)
        chars.append("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest])
    return rf.make(code + "".join(chars))


def _taken(s: Session, reference: str) -> bool:
    return (
        s.exec(select(PaymentReference.id).where(PaymentReference.rf == reference)).first()
        is not None
    )


def resolve(s: Session, reference: str) -> PaymentReference | None:
    """What a quoted RF reference stands for (None: not one of ours, or its check digits are
    wrong)."""
    ref = rf.normalize(reference)
    if not rf.is_valid(ref):
        return None
    return s.exec(select(PaymentReference).where(PaymentReference.rf == ref)).first()
