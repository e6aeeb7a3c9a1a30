"""Tables of dunning profiles, courtesy reminders, minimum amounts per level."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CustomerDunningProfile(SQLModel, table=True):
    """A customer's dunning settings beside its row: the profile assigned to it (None: the
    policy's rules decide) and its segment (what profile rules may match)."""

    __tablename__ = "customer_dunning_profile"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", unique=True)
    profile: str | None = Field(default=None, max_length=40)
    segment: str | None = Field(default=None, max_length=40)
    set_by: str = Field(max_length=60)
    reason: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = Field(default_factory=_utcnow)


class CourtesyReminder(SQLModel, table=True):
    """An invoice a courtesy reminder was sent for before its due date: once per invoice."""

    __tablename__ = "courtesy_reminder"
    __table_args__ = (UniqueConstraint("customer_id", "invoice_number", "due_date"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    invoice_number: str = Field(max_length=60)
    due_date: date
    sent_on: date
    profile: str = Field(max_length=40)
    notice_key: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=_utcnow)
