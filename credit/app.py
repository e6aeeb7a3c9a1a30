"""The application context handed to services: settings, engine, directory, notice renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from credit.config import load_bank_accounts, load_directory
from credit.db.engine import make_engine
from credit.db.models import CreditPolicy, PolicyStatus
from credit.db.uow import UnitOfWork
from credit.domain.bank_accounts import BankAccounts
from credit.domain.directory import Directory
from credit.domain.policy import PolicyBody
from credit.settings import Settings

if TYPE_CHECKING:
    from credit.notices import NoticeRenderer


class NotInitialised(RuntimeError):
    """The database has no published policy yet: run ``credit init``."""


@dataclass
class App:
    settings: Settings
    _policies: dict[int, PolicyBody] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls) -> App:
        return cls(Settings.load())

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def directory(self) -> Directory:
        return load_directory(self.settings.approvers_path)

    @cached_property
    def bank_accounts(self) -> BankAccounts:
        """The company's bank accounts by currency (read once; a bad file fails here, located)."""
        return load_bank_accounts(self.settings.bank_accounts_path)

    @cached_property
    def renderer(self) -> NoticeRenderer:
        # deliberately lazy: Jinja and Babel, only for commands that render a notice
        from credit.notices import NoticeRenderer

        return NoticeRenderer.for_settings(self.settings)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work; ``read_only`` ones never take SQLite's write lock (and must not write)."""
        return UnitOfWork(self.engine, read_only=read_only)

    def policy_body(self, row: CreditPolicy) -> PolicyBody:
        """The validated body of a stored policy version (cached: versions never change)."""
        if row.version not in self._policies:
            self._policies[row.version] = PolicyBody.model_validate(row.body)
        return self._policies[row.version]

    def policy_body_for(self, session: Session, version: int) -> PolicyBody:
        """The body of a policy version; the row (and its JSON) is read only the first time."""
        if version in self._policies:
            return self._policies[version]
        row = session.exec(select(CreditPolicy).where(CreditPolicy.version == version)).one()
        return self.policy_body(row)

    def published_policy(self, session: Session) -> tuple[int, PolicyBody]:
        row = session.exec(
            select(CreditPolicy).where(CreditPolicy.status == PolicyStatus.PUBLISHED)
        ).first()
        if row is None:
            raise NotInitialised("no published credit policy: run `credit init` first")
        return row.version, self.policy_body(row)
