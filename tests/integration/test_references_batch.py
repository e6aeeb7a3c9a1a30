"""A batch of the collections run issues its letters' RF references together (one query per
notice, one insert for the batch): the references, their items and amounts are the ones issued
one notice at a time; a key already issued finds its reference again; a keyed reference that is
taken gives a numbered one, numbered after the batch's earlier references."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import Customer, Notice
from credit.db.models_cash import PaymentReference
from credit.domain import rf
from credit.services.cash import references
from credit.services.collections import dun_customers
from credit.settings import Settings
from tests.conftest import STORY_STARTS


def _references(a: App) -> list[tuple]:
    with a.uow() as uow:
        rows = uow.session.exec(select(PaymentReference).order_by(col(PaymentReference.id)))
        return [
            (r.id, r.notice_key, r.rf, r.customer_id, r.currency, r.invoice_ids, r.amount,
             r.purpose, r.issued_on)
            for r in rows
        ]  # fmt: skip


def test_a_batch_issues_the_references_one_notice_at_a_time_would(
    story: App, credit_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_by_one_db = credit_env / "one_by_one.db"
    with sqlite3.connect(credit_env / "credit.db") as src, sqlite3.connect(one_by_one_db) as dst:
        src.backup(dst)  # the same ledger, for the run one customer at a time
    ids = services.collection_candidates(story, as_of=STORY_STARTS)
    dun_customers(story, customer_ids=ids, as_of=STORY_STARTS, dry_run=False)  # batched
    monkeypatch.setenv("CREDIT_DATABASE_URL", f"sqlite:///{one_by_one_db}")
    careful = App(Settings.load())
    for cid in ids:  # each customer in its own transaction: references issued one by one
        services.dun_customer(careful, customer_id=cid, as_of=STORY_STARTS, dry_run=False)
    batched = _references(story)
    assert batched and batched == _references(careful)
    with story.uow() as uow:
        s = uow.session
        for _, key, ref, cid, *_ in batched:
            customer = s.exec(select(Customer).where(Customer.id == cid)).one()
            # derived from the notice key, and printed on that notice
            assert ref == references._keyed(references._code(customer), key)
            notice = s.exec(select(Notice).where(Notice.idempotency_key == key)).one()
            assert rf.grouped(ref) in notice.text and customer.code in notice.text
    careful.engine.dispose()
    # A rerun of the day changes nothing: every reference is found again.
    dun_customers(story, customer_ids=ids, as_of=STORY_STARTS, dry_run=False)
    assert _references(story) == batched


def test_in_a_batch_a_key_finds_its_reference_and_a_taken_one_is_numbered(story: App) -> None:
    def issue(s, customer, key):
        return references.issue(
            s, customer=customer, currency="EUR", invoice_ids=[3, 1, 3], amount=Decimal("10.00"),
            purpose="dunning", notice_key=key, as_of=STORY_STARTS,
        )  # fmt: skip

    with story.uow() as uow:
        s = uow.session
        customer = s.exec(select(Customer).order_by(col(Customer.id)).limit(1)).one()
        before = issue(s, customer, "dunning:old")  # issued earlier, one by one
        code = references._code(customer)
        # Another reference already holds the one "dunning:clash" would get.
        s.add(PaymentReference(
            rf=references._keyed(code, "dunning:clash"), customer_id=customer.id or 0, currency="EUR",
            invoice_ids=[], amount=Decimal(0), purpose="terms", notice_key="other",
            issued_on=STORY_STARTS,
        ))  # fmt: skip
        s.flush()
        with references.batched(s):
            first = issue(s, customer, "dunning:a")
            assert issue(s, customer, "dunning:old") == before
            assert issue(s, customer, "dunning:a") == first  # pending in the batch
            clash = issue(s, customer, "dunning:clash")
            last = issue(s, customer, "dunning:b")
        uow.commit()
    rows = {r[1]: r for r in _references(story)}
    assert first == references._keyed(code, "dunning:a") == rows["dunning:a"][2]
    assert last == references._keyed(code, "dunning:b") == rows["dunning:b"][2]
    # numbered after the batch's reference issued before it, as one by one
    assert rows["dunning:clash"][0] == rows["dunning:a"][0] + 1
    number = f"{rows['dunning:clash'][0]:08d}"
    assert clash == rf.make(f"{code[: min(10, 21 - len(number))]}{number}")
    assert rows["dunning:a"][5] == [1, 3] and len(rows) == 5
