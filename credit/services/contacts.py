"""A customer's contacts (``credit import contacts``) and where its notices about receivables
go: to the dunning contact (else the customer's e-mail, as before contacts existed), with a copy
to every contact on CC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import Customer
from credit.db.models_contacts import CustomerContact
from credit.notices.base import Channel
from credit.services.common import get_customer, saved_id


@dataclass(frozen=True)
class Addressed:
    """Who a notice to the customer about its receivables goes to, and who gets a copy."""

    recipients: list[str]
    cc: list[str]


def _in_order(contacts: list[CustomerContact]) -> list[CustomerContact]:
    return sorted(contacts, key=lambda c: (not c.dunning, c.name.lower(), c.email))


def contacts_of(session: Session, customer_id: int) -> list[CustomerContact]:
    """The customer's contacts: the dunning contact first, then by name."""
    return _in_order(
        list(
            session.exec(
                select(CustomerContact)
                .where(CustomerContact.customer_id == customer_id)
                .order_by(col(CustomerContact.id))
            )
        )
    )


def contacts_many(session: Session, customer_ids: list[int]) -> dict[int, list[CustomerContact]]:
    """The contacts of many customers in one query (a batch of a collections run), each
    customer's in :func:`contacts_of`'s order; a customer without any is left out."""
    found: dict[int, list[CustomerContact]] = {}
    for c in session.exec(
        select(CustomerContact)
        .where(col(CustomerContact.customer_id).in_(customer_ids))
        .order_by(col(CustomerContact.id))
    ):
        found.setdefault(c.customer_id, []).append(c)
    return {cid: _in_order(cs) for cid, cs in found.items()}


def addressed(contacts: list[CustomerContact], customer: Customer) -> Addressed:
    """The dunning contact (else the customer's e-mail) and the CC list, sorted."""
    dunning = next((c.email for c in contacts if c.dunning), customer.email)
    cc = sorted({c.email for c in contacts if c.cc} - {dunning})
    return Addressed(recipients=[dunning], cc=cc)


def collections_addresses(
    session: Session,
    customer: Customer,
    *,
    channel: str = Channel.EMAIL,
    contacts: list[CustomerContact] | None = None,
) -> Addressed:
    """Where a collections notice to ``customer`` goes, read now (the outbox row keeps it: a
    later change of contacts does not rewrite a queued notice). A posted letter has no copies.
    ``contacts``: the customer's, already read (with the batch)."""
    if contacts is None:
        contacts = contacts_of(session, saved_id(customer))
    found = addressed(contacts, customer)
    return found if channel == Channel.EMAIL else Addressed(found.recipients, [])


def contact_view(c: CustomerContact) -> dict[str, Any]:
    return {
        "name": c.name,
        "role": c.role,
        "email": c.email,
        "phone": c.phone,
        "dunning": c.dunning,
        "cc": c.cc,
    }


def contacts_view(session: Session, customer: Customer) -> dict[str, Any]:
    """The contacts as pages and commands show them, with where dunning notices go."""
    contacts = contacts_of(session, saved_id(customer))
    to = addressed(contacts, customer)
    return {
        "contacts": [contact_view(c) for c in contacts],
        "notices_to": to.recipients[0],
        "notices_cc": to.cc,
    }


def customer_contacts(app: App, *, code: str) -> dict[str, Any]:
    """``credit customers contacts CODE``: the customer's contacts and where its notices about
    receivables go."""
    with app.uow(read_only=True) as uow:
        customer = get_customer(uow.session, code)
        return {
            "customer": customer.code,
            "name": customer.name,
            "email": customer.email,
            **contacts_view(uow.session, customer),
        }
