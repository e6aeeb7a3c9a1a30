"""Errors, small helpers and the views that notices and the CLI show."""

from __future__ import annotations

import logging
from typing import Protocol, cast

from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import (
    Customer,
    Notice,
)
from credit.db.tables import table_of as table_of  # re-exported: the services use it from here
from credit.domain.calendar import add_months as add_months  # re-exported for the services
from credit.domain.directory import Approver

log = logging.getLogger(__name__)


SUBJECT_REQUEST = "credit_request"


SUBJECT_POLICY = "credit_policy"


class ServiceError(ValueError):
    """A request the product refuses, with a message for the person who made it."""


class DecisionRefused(ServiceError):
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


class _Stored(Protocol):
    id: int | None


def saved_id(row: _Stored) -> int:
    """The id of a row that is in the database (read from it, or added and flushed). SQLModel
    types every id ``int | None``, for rows not inserted yet."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: it is not in the database yet")
    return row.id


def id_col(model: type[_Stored]) -> Mapped[int]:
    """A table's ``id`` column, typed as what it reads: a primary key is never NULL (SQLModel
    types ``id`` ``int | None`` for rows not inserted yet)."""
    return cast("Mapped[int]", col(model.id))


def enqueued_id(notice: Notice | None) -> int:
    """The id of the notice :func:`credit.notices.enqueue` returned: always a row outside
    :func:`credit.notices.batched` (inside it, the row and its id come when the block ends)."""
    if notice is None:
        raise RuntimeError("a notice enqueued inside notices.batched has no id yet")
    return saved_id(notice)


def get_customer(session: Session, code: str) -> Customer:
    customer = session.exec(select(Customer).where(Customer.code == code)).first()
    if customer is None:
        raise ServiceError(f"no customer with code {code!r}")
    return customer


def person_email(app: App, username: str) -> str:
    """The e-mail of a person in the directory; anyone else is refused by name."""
    return known_person(app, username).email


def known_person(app: App, username: str) -> Approver:
    """The directory's entry for someone named as acting or asked (``config/approvers.yaml``:
    approvers, analysts, collectors, sales); a name nobody holds is refused."""
    name = (username or "").strip()
    person = app.directory.get(name)
    if person is None:
        raise ServiceError(
            f"{name!r} is not in the approver directory ({app.settings.approvers_path}); "
            "every person who acts or is asked must be listed there"
        )
    return person


def known_user(app: App, username: str) -> str:
    """The username of someone in the directory (see :func:`known_person`)."""
    return known_person(app, username).username


def required_text(value: str | None, what: str, limit: int = 2000) -> str:
    """A free text a person must give (a reason, a note), stripped and bounded."""
    text = (value or "").strip()
    if not text:
        raise ServiceError(f"{what} is required")
    if len(text) > limit:
        raise ServiceError(f"{what} is longer than {limit} characters")
    return text
