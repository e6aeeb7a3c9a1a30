"""Unit of work: one transaction that a service commits whole or not at all."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import Engine
from sqlmodel import Session


class UnitOfWork:
    """``with app.uow() as uow: ...; uow.commit()`` - leaving without commit rolls back."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        from credit.db.engine import READ_ONLY

        bind = self.engine.execution_options(**{READ_ONLY: True}) if self.read_only else self.engine
        self.session = Session(bind, expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches objects without expiring
        # them, so values read inside the unit of work stay readable after it.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
