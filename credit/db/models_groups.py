"""Tables of customer groups (group exposure) and temporary limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from credit.db.types import Money


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _money(*, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=Money, nullable=nullable, **kw)


class CustomerGroup(SQLModel, table=True):
    """A group of customers (a parent company and its subsidiaries) with a limit of its own:
    the order check compares every member's exposure together against it."""

    __tablename__ = "customer_group"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=40)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    limit: Decimal = _money()
    created_by: str = Field(max_length=60)
    created_on: date
    created_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow)


class CustomerGroupMember(SQLModel, table=True):
    """A customer's membership of a group (a customer is in one group at most)."""

    __tablename__ = "customer_group_member"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="customer_group.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", unique=True)
    added_by: str = Field(max_length=60)
    added_on: date
    created_at: datetime = Field(default_factory=_utcnow)


class TemporaryLimit(SQLModel, table=True):
    """A limit raise that ends on ``until``: asked for with a review (``review_key`` is the
    review's, the assessment's and the request's), in force once the request is published, and
    fallen back to ``previous_limit`` by the first daily run after ``until``.

    status: requested | in_force | expired | superseded | void"""

    __tablename__ = "temporary_limit"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    review_key: str = Field(unique=True, max_length=120)
    request_id: int | None = Field(default=None, foreign_key="credit_request.id")
    until: date
    requested_by: str = Field(max_length=60)
    requested_on: date
    status: str = Field(default="requested", max_length=20, index=True)
    limit: Decimal | None = _money(nullable=True, default=None)  # the temporary one
    previous_limit: Decimal | None = _money(nullable=True, default=None)  # falls back to it
    currency: str | None = Field(default=None, max_length=3)
    started_on: date | None = None
    ended_on: date | None = None
    ended_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=_utcnow)
