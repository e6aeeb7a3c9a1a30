"""Row locks that serialise writers of one customer's receivables."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlmodel import Session, col

from credit.db.models import Customer


def lock_customers(session: Session, customer_ids: Iterable[int]) -> None:
    """Take the customers' write locks, in id order (no deadlocks): a row lock on PostgreSQL, the
    database write lock on SQLite. Dunning takes the same lock before it re-reads a customer's
    balance, so a payment, dispute or promise is either seen by the run or committed after it."""
    for cid in sorted(set(customer_ids)):
        session.execute(update(Customer).where(col(Customer.id) == cid).values(id=Customer.id))
