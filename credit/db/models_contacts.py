"""Tables of customer contacts: dunning contact and CC addresses."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def _utcnow() -> datetime:
    return datetime.now(UTC)


# At most one dunning contact per customer: a partial unique index (the condition literal, so
# that SQLite and PostgreSQL both build it from the same text).
DUNNING_SQL = text("dunning = true")


class CustomerContact(SQLModel, table=True):
    """A person at the customer: name, role, e-mail, phone. ``dunning``: the customer's notices
    about its receivables go to this contact (at most one per customer, for every currency);
    ``cc``: they get a copy (any number)."""

    __tablename__ = "customer_contact"
    __table_args__ = (
        UniqueConstraint("customer_id", "email", name="uq_customer_contact_email"),
        Index(
            "ix_customer_contact_dunning",
            "customer_id",
            unique=True,
            sqlite_where=DUNNING_SQL,
            postgresql_where=DUNNING_SQL,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str = Field(max_length=200)
    role: str | None = Field(default=None, max_length=100)
    email: str = Field(max_length=200)  # stored lower-case: one contact per address
    phone: str | None = Field(default=None, max_length=40)
    dunning: bool = False
    cc: bool = False
    created_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow)


class NoticeCopy(SQLModel, table=True):
    """The CC list of a notice, fixed when it was queued (a later change of the customer's
    contacts does not rewrite it): keyed by the notice's idempotency key, so that a bulk insert
    of notices (which learns no ids) can write it too. Notices without copies have no row."""

    __tablename__ = "notice_copy"

    notice_key: str = Field(primary_key=True, max_length=200, foreign_key="notice.idempotency_key")
    cc: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
