"""What dunning reads of a batch of customers once their locks are taken, and the named pieces
each step works with: a customer's position in one currency and the run it belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import CreditLine, Customer, DunningAction, Invoice, PaymentPromise
from credit.db.models_contacts import CustomerContact
from credit.db.models_dunning_items import DunningItemLevel
from credit.db.models_dunning_profiles import CustomerDunningProfile
from credit.domain import dunning
from credit.domain.dunning import DunningState
from credit.domain.dunning_items import ItemBook
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import PromiseStatus
from credit.services.collections.errors import AlreadyTaken
from credit.services.collections.item_state import Books, item_books
from credit.services.common import saved_id
from credit.services.contacts import Addressed, collections_addresses, contacts_many
from credit.services.ledger import open_items_many
from credit.services.letters import invoice_ids_of
from credit.services.receivables.dunning_profiles import dunning_settings


@dataclass(frozen=True)
class CustomerPosition:
    """One customer in one currency as dunning sees it after the lock: what is overdue (net of
    unallocated credits, disputed invoices apart), where dunning stands, the promises to pay and
    the credit line."""

    customer: Customer
    currency: str
    owed: dunning.DunningPosition
    state: DunningState
    promises: list[PaymentPromise]  # open, kept and broken; newest first
    line: CreditLine | None
    items: ItemBook = ItemBook()  # each overdue item's own level in the episode

    @property
    def customer_id(self) -> int:
        return saved_id(self.customer)

    @property
    def episode_key(self) -> str:
        """``CODE:CUR:eN``: what the idempotency keys of this episode's notices start with."""
        return f"{self.customer.code}:{self.currency}:e{self.state.episode}"

    def open_promise(self) -> PaymentPromise | None:
        return next((p for p in self.promises if p.status == PromiseStatus.OPEN), None)

    def broken_since_last_step(self) -> bool:
        """Whether the latest settled promise was broken after the last dunning step: the next
        level is then due at once, whatever its trigger says (a newer promise, kept or open,
        lifts that)."""
        latest = next(iter(self.promises), None)
        if latest is None or latest.status != PromiseStatus.BROKEN:
            return False
        if self.state.last_day is None:
            return True
        assert latest.settled_on is not None  # a broken promise is settled on the day it broke
        return latest.settled_on > self.state.last_day


@dataclass
class Batch:
    """What dunning a batch of customers reads, loaded set-based after their locks are taken (a
    handful of queries per batch, not per customer) and kept current as steps are taken."""

    customers: dict[int, Customer]
    items: dict[int, dict[str, list[dunning.OpenItem]]]
    state: dict[int, dict[str, DunningState]]  # customer -> currency -> state
    promises: dict[int, dict[str, list[PaymentPromise]]]  # newest first
    lines: dict[int, CreditLine]
    careful: bool  # one customer, each step in its own savepoint
    steps: list[dict[str, Any]] = field(default_factory=list)  # taken in this batch
    books: Books = field(default_factory=dict)  # customer -> currency -> its items' levels
    item_steps: list[dict[str, Any]] = field(default_factory=list)  # items climbed in this batch
    profiles: dict[int, CustomerDunningProfile] = field(default_factory=dict)  # assigned, segment
    contacts: dict[int, list[CustomerContact]] = field(default_factory=dict)  # where notices go
    # (customer, invoice number) -> invoice id for the batch's customers, read at the first letter.
    _invoice_ids: dict[tuple[int, str], int] | None = None

    @classmethod
    def load(cls, s: Session, ids: list[int], as_of: date, *, careful: bool) -> Batch:
        state = _states(s, ids)
        return cls(
            customers={
                saved_id(c): c for c in s.exec(select(Customer).where(col(Customer.id).in_(ids)))
            },
            items=open_items_many(s, ids, as_of),
            state=state,
            promises=_promises(s, ids),
            lines=_lines(s, ids),
            careful=careful,
            books=item_books(s, ids, state),
            profiles=dunning_settings(s, ids),
            contacts=contacts_many(s, ids),
        )

    def addresses(self, s: Session, customer: Customer, channel: str = "email") -> Addressed:
        """Where a collections notice to a customer of the batch goes (its contacts were read
        with the batch)."""
        cid = saved_id(customer)
        known = self.contacts.get(cid, []) if cid in self.customers else None
        return collections_addresses(s, customer, channel=channel, contacts=known)

    def dunning_state(self, customer_id: int, currency: str) -> DunningState:
        return self.state.get(customer_id, {}).get(currency, DunningState())

    def currencies(self, customer_id: int) -> set[str]:
        """Currencies with open items, a dunning history or an open promise."""
        return (
            set(self.items.get(customer_id, {}))
            | set(self.state.get(customer_id, {}))
            | {
                cur
                for cur, ps in self.promises.get(customer_id, {}).items()
                if any(p.status == PromiseStatus.OPEN for p in ps)
            }
        )

    def position(
        self, customer: Customer, currency: str, *, as_of: date, tolerance: Decimal
    ) -> CustomerPosition:
        """The customer's position in ``currency`` on ``as_of`` (``tolerance``: the policy's, what
        may be left unpaid)."""
        cid = saved_id(customer)
        items = self.items.get(cid, {}).get(currency, [])
        return CustomerPosition(
            customer=customer,
            currency=currency,
            owed=dunning.dunning_position(items, as_of, tolerance),
            state=self.dunning_state(cid, currency),
            promises=self.promises.get(cid, {}).get(currency, []),
            line=self.lines.get(cid),
            items=self.books.get(cid, {}).get(currency, ItemBook()),
        )

    def invoice_ids(self, s: Session, customer: Customer, numbers: Sequence[str]) -> list[int]:
        """The ids of the customer's invoices with these numbers (:func:`invoice_ids_of`): read
        for the whole batch at its first letter; a number not read then (a charge booked since)
        is looked up."""
        if self._invoice_ids is None:
            self._invoice_ids = {
                (cid, number): iid
                for cid, number, iid in s.execute(
                    sa_select(col(Invoice.customer_id), col(Invoice.number), col(Invoice.id)).where(
                        col(Invoice.customer_id).in_(list(self.customers))
                    )
                )
            }
        cid = saved_id(customer)
        known = self._invoice_ids
        ids = [known[(cid, n)] for n in numbers if (cid, n) in known]
        missing = [n for n in numbers if (cid, n) not in known]
        return ids + (invoice_ids_of(s, customer, missing) if missing else [])

    def savepoint(self, s: Session) -> AbstractContextManager[Any]:
        # Only the careful path uses savepoints, and there a step that rolls back (AlreadyTaken)
        # raises in record_step before any audit event or notice of it is buffered: the
        # buffers of audit.batched and notices.batched never hold rolled-back work.
        return s.begin_nested() if self.careful else nullcontext()

    def record_step(self, s: Session, row: dict[str, Any]) -> None:
        """Insert a dunning step; the unique (customer, currency, day) key makes a second run for
        the same day a no-op. Any other integrity error is a bug and propagates.

        In a batch the customers are locked and their state was read after the lock, so no other
        run can hold the key: the row is simply added (flushed with the batch). Should the key be
        taken all the same, the batch fails as a whole and is redone customer by customer,
        carefully."""
        if self.careful:
            try:
                with s.begin_nested():
                    s.add(DunningAction(**row))
                    s.flush()
            except IntegrityError as exc:
                raise AlreadyTaken from exc
        else:
            self.steps.append(row)  # inserted with the batch, in one statement
        self.state.setdefault(row["customer_id"], {})[row["currency"]] = DunningState.after_step(
            episode=row["episode"], level=row["level"], on=row["as_of"]
        )

    def record_items(self, s: Session, rows: list[dict[str, Any]]) -> None:
        """Insert the levels the step's items climbed to (after :meth:`record_step`, whose key
        already made a rerun a no-op): added in the step's savepoint, or with the batch."""
        if self.careful:
            s.add_all(DunningItemLevel(**row) for row in rows)
            s.flush()
        else:
            self.item_steps.extend(rows)


@dataclass(frozen=True)
class DunningRun:
    """What every step of a batch shares: the app and its session, the batch's state, the
    published policy (and its version) and the run's day."""

    app: App
    session: Session
    batch: Batch
    policy: PolicyBody
    version: int
    as_of: date
    dry_run: bool
    profile: str | None = None  # the dunning profile followed (None: the policy has none)


def _states(s: Session, ids: list[int]) -> dict[int, dict[str, DunningState]]:
    state: dict[int, dict[str, DunningState]] = {}
    for cid, cur, episode, level, day in s.execute(
        sa_select(  # five columns: SQLModel's select types up to four
            col(DunningAction.customer_id),
            col(DunningAction.currency),
            col(DunningAction.episode),
            col(DunningAction.level),
            col(DunningAction.as_of),
        )
        .where(col(DunningAction.customer_id).in_(ids))
        .order_by(col(DunningAction.id))
    ):
        state.setdefault(cid, {})[cur] = DunningState.after_step(
            episode=episode, level=level, on=day
        )
    return state


def _promises(s: Session, ids: list[int]) -> dict[int, dict[str, list[PaymentPromise]]]:
    promises: dict[int, dict[str, list[PaymentPromise]]] = {}
    for p in s.exec(
        select(PaymentPromise)
        .where(
            col(PaymentPromise.customer_id).in_(ids),
            col(PaymentPromise.status).in_(
                [PromiseStatus.OPEN, PromiseStatus.KEPT, PromiseStatus.BROKEN]
            ),
        )
        .order_by(col(PaymentPromise.id).desc())
    ):
        promises.setdefault(p.customer_id, {}).setdefault(p.currency, []).append(p)
    return promises


def _lines(s: Session, ids: list[int]) -> dict[int, CreditLine]:
    lines: dict[int, CreditLine] = {}
    for line in s.exec(
        select(CreditLine).where(col(CreditLine.customer_id).in_(ids)).order_by(col(CreditLine.id))
    ):
        lines.setdefault(line.customer_id, line)
    return lines
