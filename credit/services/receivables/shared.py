"""What the collections desk's services share: dates that may not lie ahead, invoices by number,
the published policy's version."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from credit.app import App
from credit.db.models import (
    Invoice,
)
from credit.services.common import ServiceError


def not_in_future(as_of: date, today: date | None, what: str) -> None:
    """What the collections desk records happened by ``today`` (the company's, given by the edge
    where a person types the date): dated later, it would hold back every collections run until
    that day (a run may not ignore what is recorded)."""
    if today is not None and as_of > today:
        raise ServiceError(
            f"{what} dated {as_of.isoformat()} is in the future (today is {today.isoformat()})"
        )


def invoice_by_number(s: Session, number: str) -> Invoice:
    inv = s.exec(select(Invoice).where(Invoice.number == number.strip())).first()
    if inv is None:
        raise ServiceError(f"no invoice with number {number!r}")
    return inv


def policy_version(app: App, s: Session) -> int:
    return app.published_policy(s)[0]
