"""Row locks that serialise writers of one customer's receivables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    lock_row(session, Customer, ids[0], col(Customer.name))


def lock_customer(session: Session, customer_id: int) -> None:
    """Take one customer's write lock (see :func:`lock_customers`): what the collections desk
    takes before it records a dispute or a promise, and dunning before it re-reads a balance."""
    lock_customers(session, [customer_id])


def lock_row(session: Session, model: Any, row_id: int, unchanged: Any) -> None:
    """Take the write lock on one row with an ``UPDATE`` that sets ``unchanged`` (a column that no
    other table references and no index holds) to itself: a row lock on PostgreSQL, the database
    write lock on SQLite. Nothing in the session needs refreshing after it.

    Not the id set to itself: SQLite then looks up the rows of every table that references the
    row, reading those without an index on the reference whole (2.2 ms a credit request at
    10,000 requests, growing with the tables; 0.003 ms with another column)."""
    session.execute(
        update(model)
        .where(model.id == row_id)
        .values({unchanged: unchanged})
        .execution_options(synchronize_session=False)
    )
