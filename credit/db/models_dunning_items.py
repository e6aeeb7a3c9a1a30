"""Tables of item-level dunning: each open item's own dunning level."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DunningItemLevel(SQLModel, table=True):
    """A dunning level one open item reached in a customer's episode in one currency.

    One row per level an item climbs to (never skipping one): an item's level is its highest row in
    the current episode, and its last step the day of that row. A new episode starts every item
    at level 0 again; the rows of earlier episodes stay as history.
    """

    __tablename__ = "dunning_item_level"
    __table_args__ = (
        UniqueConstraint(
            "customer_id",
            "currency",
            "episode",
            "item_number",
            "level",
            name="uq_dunning_item_level",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    episode: int
    item_number: str = Field(max_length=60)
    level: int
    as_of: date  # the day the item reached the level (its last step)
    created_at: datetime = Field(default_factory=_utcnow)
