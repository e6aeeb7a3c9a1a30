"""A return (a bounced direct debit, a transfer sent back): the payment it takes back is found and
its payments are marked bounced (they pay nothing; a bounced payment is a risk signal); audited.

Looked for in this order, each only for the same amount: the end-to-end id the payer gave (an
earlier statement entry's, or the reference of a payment imported from a file), the bank's
reference of the original entry, and the latest credit from the same IBAN of the same amount
booked by then. Not found, the return waits unmatched for a collector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import Session, col, select

from credit import audit
from credit.db.locks import lock_customer
from credit.db.models import Customer, Payment
from credit.db.models_cash import BankEntry
from credit.domain import matching
from credit.domain.money import fmt_money
from credit.domain.receivables_status import BankEntryStatus, PaymentStatus
from credit.services.cash import posting


class Stored(Protocol):
    """A return just stored by an import: its entry id and the row it was stored from."""

    id: int
    row: dict[str, Any]


OPEN_TO_RETURN = (BankEntryStatus.MATCHED.value, BankEntryStatus.UNMATCHED.value)


@dataclass
class Found:
    """What a return takes back: an earlier credit entry, or a payment imported from a file."""

    entry: BankEntry | None
    payment: Payment | None
    how: str


def apply_returns(s: Session, parts: Sequence[Stored], *, now: datetime) -> None:
    """Each new return (in file order, after the credits of the same import are stored)."""
    for part in parts:
        entry = s.get(BankEntry, part.id)
        if entry is None:  # pragma: no cover - stored just before
            continue
        steps: list[dict[str, Any]] = []
        found = find_returned(s, entry, steps)
        if found is None:
            steps.append(
                {
                    "rule": matching.RULE_RETURN,
                    "applied": False,
                    "why": "the payment it returns was not found: waits for a collector",
                }
            )
            entry.explanation = steps
            s.add(entry)
        else:
            take_back(s, entry, found, steps=steps, by=posting.MATCHER, now=now)
        part.row["status"] = entry.status
        part.row["matched_rule"] = entry.matched_rule


def find_returned(s: Session, ret: BankEntry, steps: list[dict[str, Any]]) -> Found | None:
    """The credit (or imported payment) ``ret`` takes back; ``steps`` say what was tried."""
    for value, what in (
        (ret.end_to_end, "end-to-end id"),
        (ret.original_ref, "original reference"),
    ):
        if not value:
            continue
        column = BankEntry.end_to_end if what == "end-to-end id" else BankEntry.entry_ref
        found = _credit_where(s, ret, col(column) == value)
        if found is not None:
            return Found(found, None, f"its {what} {value!r} is entry {found.id}'s")
        payment = s.exec(
            select(Payment).where(
                Payment.reference == value,
                Payment.status == PaymentStatus.RECEIVED,
                Payment.amount == ret.amount,
            )
        ).first()
        if payment is not None:
            return Found(None, payment, f"its {what} {value!r} is payment {payment.reference}")
        steps.append(
            {
                "rule": matching.RULE_RETURN,
                "applied": False,
                "why": f"no credit of the same amount has the {what} {value!r}",
            }
        )
    if ret.payer_iban:
        found = _credit_where(
            s,
            ret,
            col(BankEntry.payer_iban) == ret.payer_iban,
            col(BankEntry.booked_on) <= ret.booked_on,
        )
        if found is not None:
            return Found(found, None, f"entry {found.id} came from the same IBAN, same amount")
        steps.append(
            {
                "rule": matching.RULE_RETURN,
                "applied": False,
                "why": f"no credit of {fmt_money(ret.amount, ret.currency)} from {ret.payer_iban}",
            }
        )
    return None


def _credit_where(s: Session, ret: BankEntry, *conditions: Any) -> BankEntry | None:
    return s.exec(
        select(BankEntry)
        .where(
            BankEntry.kind == "credit",
            col(BankEntry.status).in_(OPEN_TO_RETURN),
            BankEntry.amount == ret.amount,
            BankEntry.currency == ret.currency,
            col(BankEntry.id) != ret.id,
            *conditions,
        )
        .order_by(col(BankEntry.booked_on).desc(), col(BankEntry.id).desc())
    ).first()


def take_back(  # noqa: PLR0913  # the return, what it found, and who
    s: Session,
    ret: BankEntry,
    found: Found,
    *,
    steps: list[dict[str, Any]],
    by: str,
    now: datetime,
    reason: str = "",
) -> None:
    """Mark what ``found`` paid bounced and the return matched to it; audited."""
    if found.entry is not None:
        original = found.entry
        customer_id = original.customer_id
        payments = list(
            s.exec(
                select(Payment).where(
                    Payment.bank_entry_id == original.id, Payment.status == PaymentStatus.RECEIVED
                )
            )
        )
        original.status = BankEntryStatus.RETURNED.value
        taken = f"taken back by the bank: return entry {ret.id}"
        original.explanation = [
            *original.explanation,
            {"rule": matching.RULE_RETURN, "applied": True, "why": taken},
        ]
        s.add(original)
        ret.returns_id = original.id
    else:
        assert found.payment is not None
        customer_id = found.payment.customer_id
        payments = [found.payment]
        ret.returns_payment_id = found.payment.id
    if customer_id is not None:
        lock_customer(s, customer_id)
    if payments:
        s.execute(
            update(Payment)
            .where(col(Payment.id).in_([p.id for p in payments]))
            .values(status=PaymentStatus.BOUNCED.value)
        )
    what = ", ".join(p.reference for p in payments) or "nothing (it was not matched)"
    steps.append(
        {"rule": matching.RULE_RETURN, "applied": True, "why": f"{found.how}: bounced {what}"}
    )
    ret.status = BankEntryStatus.MATCHED.value
    ret.matched_rule = matching.RULE_RETURN
    ret.matched_by = by
    ret.matched_at = now
    ret.customer_id = customer_id
    ret.explanation = [*ret.explanation, *steps] if by != posting.MATCHER else steps
    s.add(ret)
    code = s.get(Customer, customer_id).code if customer_id is not None else None  # type: ignore[union-attr]
    audit.record(
        s,
        actor=by,
        action="bank_entry.return",
        entity_type="bank_entry",
        entity_id=ret.id or 0,
        before={"status": BankEntryStatus.UNMATCHED.value},
        after={
            "status": ret.status,
            "customer": code,
            "returns_entry": ret.returns_id,
            "bounced": [p.reference for p in payments],
        },
        reason=reason or found.how,
    )
