"""Tables of instalment plans and write-offs.

An instalment plan is a promise to pay (``payment_promise``) with several dated amounts: its
instalments are rows here, judged one by one on their dates by the collections run. A write-off
is a credit decision taken through the approval engine (subject ``write_off``); approved, it is
booked as one credit note per written-off invoice (``write_off_item.credit_note_id``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from credit.db.types import Money


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _money(*, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=Money, nullable=nullable, **kw)


class PromiseInstalment(SQLModel, table=True):
    """One dated amount of an instalment plan: open until the run judges it on its date (plus
    the policy's ``promise_grace_days``); kept when what the customer paid since the plan was
    recorded covers every instalment due so far."""

    __tablename__ = "promise_instalment"
    __table_args__ = (UniqueConstraint("promise_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    promise_id: int = Field(foreign_key="payment_promise.id", index=True)
    seq: int  # 1, 2, ... in date order
    due_on: date
    amount: Decimal = _money()
    status: str = Field(default="open", max_length=20)  # open | kept | broken
    settled_on: date | None = None
    paid: Decimal | None = _money(nullable=True, default=None)  # paid since the plan began


class WriteOff(SQLModel, table=True):
    """A proposal to write off what a customer owes in one currency (some or all of its open
    invoices), decided through the approval engine."""

    __tablename__ = "write_off"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    amount: Decimal = _money()
    base_amount: Decimal | None = _money(nullable=True, default=None)  # None: no rate known
    reason: str = Field(sa_column=Column(Text, nullable=False))
    proposed_by: str = Field(max_length=60)
    proposed_on: date
    policy_version: int
    # in_approval | approved (booked) | rejected
    status: str = Field(default="in_approval", max_length=20, index=True)
    decided_on: date | None = None
    booked: Decimal | None = _money(nullable=True, default=None)  # what the credit notes took
    created_at: datetime = Field(default_factory=_utcnow)


class WriteOffItem(SQLModel, table=True):
    """An invoice a write-off names, with its open amount when proposed and, once booked, the
    credit note that wrote it off."""

    __tablename__ = "write_off_item"
    __table_args__ = (UniqueConstraint("write_off_id", "invoice_id"),)

    id: int | None = Field(default=None, primary_key=True)
    write_off_id: int = Field(foreign_key="write_off.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount: Decimal = _money()  # open when proposed
    credit_note_id: int | None = Field(default=None, foreign_key="invoice.id")
