"""Row locks that serialise writers of one customer's receivables."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlmodel import Session, col

from credit.db.models import Customer
from credit.db.tables import among

CHUNK = 1000


def lock_customers(session: Session, customer_ids: Iterable[int]) -> None:
    """Take the customers' write locks, in id order (no deadlocks): row locks on PostgreSQL, the
    database write lock on SQLite. Dunning takes the same lock before it re-reads a customer's
    balance, so a payment, dispute or promise is either seen by the run or committed after it.

    One statement per thousand customers: ``SELECT ... ORDER BY id FOR NO KEY UPDATE`` locks the
    rows in id order on PostgreSQL (the strength of the ``UPDATE`` it replaces: rows that merely
    reference a customer can still be inserted); on SQLite any write takes the database lock."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        for i in range(0, len(ids), CHUNK):
            session.execute(
                select(col(Customer.id))
                .where(among(session, col(Customer.id), ids[i : i + CHUNK]))
                .order_by(col(Customer.id))
                .with_for_update(key_share=True)
            ).all()
        return
    session.execute(update(Customer).where(col(Customer.id).in_(ids[:1])).values(id=Customer.id))


def lock_customer(session: Session, customer_id: int) -> None:
    """Take one customer's write lock (see :func:`lock_customers`): what the collections desk
    takes before it records a dispute or a promise, and dunning before it re-reads a balance."""
    lock_customers(session, [customer_id])
