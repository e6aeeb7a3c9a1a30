"""What a match writes: one received payment per item a bank entry pays (and one on account for
what is left over), the entry's match, the IBAN learned, and how they read in the audit trail
and on the entry (explanations and suggestions as JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit import audit
from credit.db.models import Payment
from credit.db.models_cash import BankEntry, CustomerBankAccount
from credit.domain import matching
from credit.domain.money import fmt_money
from credit.domain.receivables_status import PaymentStatus
from credit.services.common import table_of

MATCHER = "matcher"  # the actor of a match the rules made
METHOD = "bank_transfer"


def payment_reference(entry_id: int, n: int) -> str:
    """``BE{entry}-{n}``: the n-th payment a bank entry wrote (numbers are never reused: a match
    undone keeps its payments, reversed)."""
    return f"BE{entry_id}-{n}"


def payment_rows(
    entry_id: int,
    *,
    customer_id: int,
    allocations: Sequence[matching.Allocation],
    paid_on: date,
    first: int = 1,
    now: datetime,
) -> list[dict[str, Any]]:
    """The payments of a matched entry, as rows to insert."""
    return [
        {
            "customer_id": customer_id,
            "reference": payment_reference(entry_id, n),
            "paid_on": paid_on,
            "amount": a.amount,
            "currency": a.currency,
            "method": METHOD,
            "status": PaymentStatus.RECEIVED.value,
            "invoice_id": a.invoice_id,
            "created_at": now,
            "bank_entry_id": entry_id,
        }
        for n, a in enumerate(allocations, start=first)
    ]


def write_payments(s: Session, rows: list[dict[str, Any]], chunk: int = 5000) -> None:
    for i in range(0, len(rows), chunk):
        s.execute(insert(table_of(Payment)), rows[i : i + chunk])


def payments_so_far(s: Session, entry_id: int) -> int:
    """How many payments the entry wrote before (their numbers are not reused)."""
    pay = table_of(Payment)
    found = s.execute(
        sa_select(func.count()).select_from(pay).where(pay.c.bank_entry_id == entry_id)
    ).scalar_one()
    return int(found)


def steps_json(steps: Iterable[matching.Step]) -> list[dict[str, Any]]:
    return [{"rule": st.rule, "applied": st.applied, "why": st.why} for st in steps]


def suggestions_json(suggestions: Iterable[matching.Suggestion]) -> list[dict[str, Any]]:
    return [
        {
            "customer": sg.customer,
            "invoices": list(sg.numbers),
            "amount": str(sg.amount),
            "currency": sg.currency,
            "score": sg.score,
            "why": list(sg.why),
        }
        for sg in suggestions
    ]


def allocations_view(allocations: Iterable[matching.Allocation]) -> list[dict[str, Any]]:
    return [
        {"invoice": a.number, "amount": str(a.amount), "currency": a.currency} for a in allocations
    ]


def payments_view(
    allocations: Sequence[matching.Allocation], rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The payments a match wrote, as the audit trail keeps them."""
    return [
        {**v, "reference": r["reference"]}
        for v, r in zip(allocations_view(allocations), rows, strict=True)
    ]


def fx_step(fx: matching.Fx, paid: matching.Incoming) -> dict[str, Any]:
    """The explanation's step for a payment valued in another currency: the conversion and what
    it left short (open) or over (on account) against the items it pays."""
    cur = fx.conversion.currency
    if fx.difference < 0:
        left = f"{fmt_money(-fx.difference, cur)} short of the items (left open)"
    elif fx.difference > 0:
        left = f"{fmt_money(fx.difference, cur)} more than the items (kept on account)"
    else:
        left = "exactly the items' open amount"
    return {
        "rule": "fx",
        "applied": True,
        "why": f"{fx.conversion.describe(paid)}: {left}",
        "fx": fx_view(fx, paid),
    }


def fx_view(fx: matching.Fx | None, paid: matching.Incoming) -> dict[str, Any] | None:
    if fx is None:
        return None
    c = fx.conversion
    return {
        "paid": str(paid.amount),
        "paid_currency": paid.currency,
        "amount": str(c.amount),
        "currency": c.currency,
        "rate": str(c.rate),
        "source": c.source,
        "rate_date": c.rate_date.isoformat() if c.rate_date else None,
        "difference": str(fx.difference),
        "said": c.describe(paid),
    }


def learn_iban(
    s: Session,
    *,
    iban: str,
    customer_id: int,
    customer_code: str,
    entry_id: int,
    by: str,
    now: datetime,
) -> None:
    """Remember the IBAN a customer paid from (audited); the caller checked it is not known."""
    s.execute(
        insert(table_of(CustomerBankAccount)),
        [
            {
                "customer_id": customer_id,
                "iban": iban,
                "learned_from_id": entry_id,
                "learned_by": by,
                "created_at": now,
            }
        ],
    )
    audit.record(
        s,
        actor=by,
        action="customer_bank_account.learn",
        entity_type="customer",
        entity_id=customer_code,
        after={"iban": iban, "bank_entry": entry_id},
        reason=f"paid from it: bank entry {entry_id}",
    )


def entry_view(entry: BankEntry) -> dict[str, Any]:
    """What the audit trail keeps of an entry's match, before and after a change."""
    return {
        "status": entry.status,
        "rule": entry.matched_rule,
        "matched_by": entry.matched_by,
        "customer_id": entry.customer_id,
    }
