"""What the matcher reads of the database, once per statement: the receivables with what is
still open on each, the RF references our letters carry, the IBANs customers pay from, the
customers' codes and names, and the exchange rates (:class:`credit.domain.matching.Ledger`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import func, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit.db.models import Customer, Invoice, Payment
from credit.db.models_cash import CustomerBankAccount, PaymentReference
from credit.db.types import Money
from credit.domain import matching
from credit.domain.money import ZERO
from credit.domain.receivables_status import PaymentStatus
from credit.services.common import table_of
from credit.services.ledger_raw import rate_table

# Settled items are indexed (a payment quoting one is told it is paid already) when they fell due
# this recently; older ones are history the matcher does not need.
SETTLED_KEPT = timedelta(days=400)
CHUNK = 5000


def load_ledger(
    s: Session,
    *,
    base_currency: str,
    as_of: date,
    customer_ids: Iterable[int] | None = None,
) -> matching.Ledger:
    """The matcher's ledger: every receivable still open (or settled within SETTLED_KEPT of
    ``as_of``), whole or for ``customer_ids`` only, in a few set-based queries."""
    ids = None if customer_ids is None else sorted(set(customer_ids))
    return matching.Ledger(
        _items(s, as_of, ids),
        customers=_customers(s),
        references=_references(s, ids),
        ibans=_ibans(s, ids),
        rates=rate_table(s, base_currency),
    )


def _chunks(ids: list[int] | None) -> list[list[int] | None]:
    if ids is None:
        return [None]
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _items(s: Session, as_of: date | None, ids: list[int] | None) -> list[matching.Item]:
    """Receivables (positive invoices, fees, interest) less the payments received for them and
    the credit notes applied to them (whenever made: what is owed now); settled ones only when
    they fell due within SETTLED_KEPT of ``as_of`` (all of them without ``as_of``)."""
    inv, pay = table_of(Invoice), table_of(Payment)
    note = inv.alias("note")
    out: list[matching.Item] = []
    for chunk in _chunks(ids):
        paid = sa_select(pay.c.invoice_id, func.sum(pay.c.amount).label("paid")).where(
            pay.c.invoice_id.is_not(None), pay.c.status == PaymentStatus.RECEIVED
        )
        applied = sa_select(note.c.applies_to_id, func.sum(note.c.amount).label("applied")).where(
            note.c.amount < 0, note.c.applies_to_id.is_not(None)
        )
        if chunk is not None:
            paid = paid.where(pay.c.customer_id.in_(chunk))
            applied = applied.where(note.c.customer_id.in_(chunk))
        p = paid.group_by(pay.c.invoice_id).subquery("paid")
        a = applied.group_by(note.c.applies_to_id).subquery("applied")
        still_open = type_coerce(
            inv.c.amount - func.coalesce(p.c.paid, 0) + func.coalesce(a.c.applied, 0), Money
        )
        query = (
            sa_select(
                inv.c.id,
                inv.c.number,
                inv.c.customer_id,
                inv.c.currency,
                inv.c.due_date,
                still_open.label("still_open"),
            )
            .select_from(
                inv.outerjoin(p, p.c.invoice_id == inv.c.id).outerjoin(
                    a, a.c.applies_to_id == inv.c.id
                )
            )
            .where(inv.c.amount > 0)
        )
        if as_of is not None:
            query = query.where(or_(still_open > 0, inv.c.due_date >= as_of - SETTLED_KEPT))
        if chunk is not None:
            query = query.where(inv.c.customer_id.in_(chunk))
        item = matching.Item
        out.extend(
            item(r[0], r[1], r[2], r[3], r[4], r[5] if r[5] > 0 else ZERO) for r in s.execute(query)
        )
    return out


def _customers(s: Session) -> dict[int, matching.Party]:
    c = table_of(Customer)
    return {
        r.id: matching.Party(r.code, r.name)
        for r in s.execute(sa_select(c.c.id, c.c.code, c.c.name))
    }


def _references(s: Session, ids: list[int] | None) -> list[matching.RfTarget]:
    ref = table_of(PaymentReference)
    out: list[matching.RfTarget] = []
    for chunk in _chunks(ids):
        query = sa_select(ref.c.rf, ref.c.customer_id, ref.c.currency, ref.c.invoice_ids).where(
            ref.c.rf != ""
        )
        if chunk is not None:
            query = query.where(ref.c.customer_id.in_(chunk))
        out.extend(
            matching.RfTarget(r.rf, r.customer_id, r.currency, tuple(r.invoice_ids or ()))
            for r in s.execute(query)
        )
    return out


def _ibans(s: Session, ids: list[int] | None) -> dict[str, int]:
    acc = table_of(CustomerBankAccount)
    out: dict[str, int] = {}
    for chunk in _chunks(ids):
        query = sa_select(acc.c.iban, acc.c.customer_id)
        if chunk is not None:
            query = query.where(acc.c.customer_id.in_(chunk))
        out.update((r.iban, r.customer_id) for r in s.execute(query))
    return out
