"""The RF creditor reference a letter carries: issued once per notice (its idempotency key),
resolved by the matcher to the customer and the items it stood for."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

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
    it is.

    Inside :func:`batched`, a notice's reference is inserted with the block's others, in one
    statement, when it ends (the same reference)."""
    ids = sorted(set(invoice_ids))
    book = s.info.get(BOOK)
    if book is not None and notice_key is not None:
        values = {
            "customer_id": customer.id or 0,
            "currency": currency,
            "invoice_ids": ids,
            "amount": amount,
            "purpose": purpose,
            "notice_key": notice_key,
            "issued_on": as_of,
        }
        ready = book.issue(s, customer, notice_key, values)
        if ready is not None:
            return ready
    elif notice_key is not None:
        there = s.exec(select(PaymentReference).where(PaymentReference.notice_key == notice_key))
        found = there.first()
        if found is not None:
            return found.rf
    code = _code(customer)
    row = PaymentReference(
        rf="",
        customer_id=customer.id or 0,
        currency=currency,
        invoice_ids=ids,
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


def _code(customer: Customer) -> str:
    return re.sub(r"[^A-Z0-9]", "", customer.code.upper())[:10]


# A notice key's stored reference, or the reference a key would get, taken (one query).
_TAKEN = sa_select(col(PaymentReference.notice_key), col(PaymentReference.rf)).where(
    or_(
        col(PaymentReference.notice_key) == bindparam("key"),
        col(PaymentReference.rf) == bindparam("rf"),
    )
)


@dataclass
class ReferenceBook:
    """The references a batch (:func:`batched`) issues for its notices, inserted together when it
    ends (:meth:`insert`) instead of one ORM flush each. The reference is the same as :func:`issue`
    gives, found by one query per notice (its key already issued, or its keyed reference taken):
    the key's stored reference when there is one, else the keyed reference, else (taken) a
    numbered one, issued as :func:`issue` does after the batch's rows are inserted (so that its
    number is the one it would have had)."""

    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # notice key -> row
    taken: set[str] = field(default_factory=set)  # the pending rows' references

    def issue(
        self, s: Session, customer: Customer, notice_key: str, row: dict[str, Any]
    ) -> str | None:
        """The reference for the notice (None: numbered, for :func:`issue` to make)."""
        if notice_key in self.pending:
            return str(self.pending[notice_key]["rf"])
        keyed = _keyed(_code(customer), notice_key)
        # Built once, run on the session's connection: nothing of the ORM is needed to read
        # two columns (no reference of this book is pending in the session: they are rows).
        found = s.connection().execute(_TAKEN, {"key": notice_key, "rf": keyed}).all()
        for key, ref in found:
            if key == notice_key:
                return ref
        if found or keyed in self.taken:
            self.insert(s)  # the numbered reference's id comes after the batch's rows
            return None
        self.pending[notice_key] = {**row, "rf": keyed, "created_at": datetime.now(UTC)}
        self.taken.add(keyed)
        return keyed

    def insert(self, s: Session) -> None:
        """Insert the pending references (one multi-row statement per thousand)."""
        rows = list(self.pending.values())
        self.pending.clear()
        self.taken.clear()
        for i in range(0, len(rows), 1000):
            s.execute(insert(PaymentReference), rows[i : i + 1000])


# The session.info key of the ReferenceBook a batched() block collects in.
BOOK = "credit.references.batch"


@contextmanager
def batched(s: Session) -> Generator[None]:
    """Collect the notices' references issued in the block and insert them when it ends (in
    the caller's transaction), with one multi-row insert per thousand."""
    if s.info.get(BOOK) is not None:
        yield
        return
    book = ReferenceBook()
    s.info[BOOK] = book
    try:
        yield
    finally:
        s.info.pop(BOOK, None)
    book.insert(s)


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
