"""Tables of order releases and order-check exemptions.

A release lets one held order (a reference, an amount, a currency) ship on credit once, after the
approval engine approved it (subject ``order_release``); an exemption lets every order of a
customer ship on credit until a date (prepaid, guaranteed, a letter of credit)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from credit.db.types import Money


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _money(*, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=Money, nullable=nullable, **kw)


class OrderRelease(SQLModel, table=True):
    """A request to let one held order ship on credit, decided through the approval engine.

    ``status``: in_approval, approved, rejected, used. An approved release covers the order
    ``order_ref`` of up to ``amount`` in ``currency`` until ``valid_until`` (inclusive), once: the
    check that uses it records ``used_on``."""

    __tablename__ = "order_release"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    order_ref: str = Field(max_length=80, index=True)
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    base_amount: Decimal | None = _money(nullable=True, default=None)  # None: no rate known
    reason: str = Field(sa_column=Column(Text, nullable=False))
    hold_reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    requested_by: str = Field(max_length=60)
    requested_on: date
    policy_version: int
    status: str = Field(default="in_approval", max_length=20, index=True)
    decided_on: date | None = None
    approved_by: str | None = Field(default=None, max_length=200)
    valid_until: date | None = None
    used_on: date | None = None
    created_at: datetime = Field(default_factory=_utcnow)


class OrderExemption(SQLModel, table=True):
    """Every order check of the customer says ALLOW until ``valid_until`` (inclusive), on the
    stated basis, unless revoked earlier. A newer exemption ends the one before it."""

    __tablename__ = "order_exemption"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    basis: str = Field(max_length=20)  # prepaid | guarantee | letter_of_credit
    valid_from: date
    valid_until: date
    reason: str = Field(sa_column=Column(Text, nullable=False))
    granted_by: str = Field(max_length=60)
    policy_version: int
    revoked_on: date | None = None
    revoked_by: str | None = Field(default=None, max_length=60)
    revoke_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=_utcnow)
