"""Cash application on SQLite and PostgreSQL: a day's bank statement imported onto the sample
ledger, every payment matched to the expected items or waiting with the expected suggestions;
re-imports that change nothing; matches made, confirmed and undone by people, audited; returns;
and a matched payment that the collections run turns into a cleared episode and a released hold.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, CreditLine, Customer, Invoice, Notice, Payment
from credit.db.models_cash import BankEntry, CustomerBankAccount
from credit.domain.statements import Entry, EntryKind, Remittance, Statement
from credit.importers import import_file
from credit.resources import resource_dir
from credit.services.cash import references
from credit.services.cash.statements import read_statements
from credit.settings import Settings
from tests.conftest import STORY_STARTS, import_sample, scratch_postgres
from tests.integration.test_lifecycle_services import collect, decide, review

CAMT = resource_dir("sample_data") / "statements" / "camt053_day1.xml"
MT940 = resource_dir("sample_data") / "statements" / "mt940_day1.sta"
DAY = date(2026, 12, 2)
EUR_ACCOUNT = "DE89370400440532013000"  # config/bank_accounts.yaml's EUR account


@contextlib.contextmanager
def database(kind: str, monkeypatch: pytest.MonkeyPatch):
    with contextlib.ExitStack() as stack:
        if kind == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch):
    """The sample ledger with the payments made by 1 December 2026, and the RF references our
    letters carried: Helios' reminder (1), a terms letter to Nordwind (2), Granite's reminder (3)."""
    with database(request.param, monkeypatch) as a:
        import_sample(a, payments_until=date(2026, 12, 1))
        with a.uow() as uow:
            import_file(
                uow.session, kind="fx-rates", path=resource_dir("sample_data") / "fx_rates.csv",
                actor="test", dry_run=False,
            )  # fmt: skip
            uow.commit()
        with a.uow() as uow:
            s = uow.session
            numbers = ("INV-1005-OPEN1", "INV-1001-OPEN2", "INV-1012-OPEN1")
            for number in numbers:
                inv = s.exec(select(Invoice).where(Invoice.number == number)).one()
                customer = s.get(Customer, inv.customer_id)
                references.issue(
                    s, customer=customer, currency="EUR", invoice_ids=[inv.id],
                    amount=inv.amount, purpose="dunning", notice_key=None, as_of=DAY,
                )  # fmt: skip
            uow.commit()
        yield a


def imported(a: App, path: Path = CAMT, **kw) -> dict:
    return services.import_statement(a, path=path, actor="import", as_of=DAY, **kw)


def entries(a: App) -> list[BankEntry]:
    with a.uow() as uow:
        return list(uow.session.exec(select(BankEntry).order_by(col(BankEntry.id))))


def payments_of(a: App, entry_id: int) -> list[tuple[str | None, str, str, str]]:
    """(invoice number or None, amount, currency, status) of an entry's payments."""
    with a.uow() as uow:
        rows = uow.session.exec(
            select(Payment, Invoice.number)
            .join(Invoice, col(Invoice.id) == col(Payment.invoice_id), isouter=True)
            .where(Payment.bank_entry_id == entry_id)
            .order_by(col(Payment.id))
        ).all()
        return [(n, f"{p.amount:.2f}", p.currency, p.status) for p, n in rows]


def counts(a: App) -> tuple[int, int, int]:
    with a.uow() as uow:
        s = uow.session
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(t)).one()
            for t in (BankEntry, Payment, AuditEvent)
        )


def open_on(a: App, code: str, number: str) -> Decimal:
    """What the ledger (as every balance, dunning and hold rule reads it) has open on an item."""
    from credit.services.ledger import open_items

    with a.uow() as uow:
        cid = uow.session.exec(select(Customer.id).where(Customer.code == code)).one()
        found = open_items(uow.session, cid, DAY)
    items = [i for its in found.values() for i in its if i.number == number]
    return items[0].open_amount if items else Decimal(0)


# (kind, status, rule, customer, payments, first suggestion) in the file's order
EXPECTED = [
    ("credit", "matched", "invoice_number", "C-1001",
     [("INV-1001-OPEN2", "9600.00", "EUR", "received")], None),
    ("credit", "unmatched", None, None, [], ("C-1012", ["INV-1012-OPEN1"])),
    ("credit", "matched", "rf", "C-1005", [("INV-1005-OPEN1", "5400.00", "EUR", "received")], None),
    ("credit", "matched", "invoice_number", "C-1010",
     [("INV-1010-OPEN1", "8.40", "EUR", "received"), (None, "1.60", "EUR", "received")], None),
    ("credit", "unmatched", None, None, [], None),
    ("credit", "matched", "invoice_number", "C-1009",
     [("INV-1009-OPEN1", "12500.00", "USD", "received")], None),
    ("return", "matched", "return", "C-1003", [], None),
    ("debit", "ignored", None, None, [], None),
]  # fmt: skip


def test_a_days_statement_matches_most_payments_and_two_wait_with_suggestions(bank):
    summary = imported(bank)
    assert (summary["read"], summary["new"], summary["skipped"]) == (8, 8, 0)
    assert summary["matched"] == {"invoice_number": 3, "rf": 1}
    assert (summary["unmatched"], summary["returns"], summary["ignored"]) == (2, 1, 1)
    got = entries(bank)
    with bank.uow() as uow:
        codes = dict(uow.session.exec(select(Customer.id, Customer.code)).all())
    for e, (kind, status, rule, customer, pays, suggestion) in zip(got, EXPECTED, strict=True):
        why = [st["why"] for st in e.explanation]
        assert (e.kind, e.status, e.matched_rule) == (kind, status, rule), why
        assert codes.get(e.customer_id) == customer, why
        assert payments_of(bank, e.id) == pays, why
        if suggestion is not None:
            assert (e.suggestions[0]["customer"], e.suggestions[0]["invoices"]) == suggestion
    # what each rule said, on the entries themselves
    assert "RF28NW2026114711 is not a reference we issued" in str(got[0].explanation)
    assert "check digits are wrong" in str(got[1].explanation)
    assert got[5].fx_currency == "USD" and got[5].fx_difference == Decimal("0")
    assert "0.915 EUR/USD" in str(got[5].explanation)
    # the payments count in the ledger like any other: partial, overpaid, bounced
    assert open_on(bank, "C-1005", "INV-1005-OPEN1") == Decimal("4000.00")
    assert open_on(bank, "C-1001", "INV-1001-OPEN2") == Decimal("0")
    assert open_on(bank, "C-1003", "INV-1003-OPEN2") == Decimal("6200.00")  # its debit bounced
    with bank.uow() as uow:
        s = uow.session
        assert s.exec(
            select(Payment.status).where(Payment.reference == "PAY-1003-LATE2")
        ).one() == ("bounced")
        learned = s.exec(select(CustomerBankAccount.iban)).all()
        actions = s.exec(select(AuditEvent.action, AuditEvent.actor)).all()
    # IBANs learned from payments matched by a reference (not from the return)
    assert sorted(learned) == ["DE75512108001245126199", "HU42117730161111101800000000",
                               "IT60X0542811101000000123456"]  # fmt: skip
    assert actions.count(("bank_entry.match", "matcher")) == 4
    assert ("bank_entry.return", "matcher") in actions
    assert ("bank_statement.import", "import") in actions
    assert services.verify_audit(bank)["ok"]


def test_an_mt940_statement_pays_two_invoices_less_a_credit_and_a_recall_takes_back_a_payment(
    bank,
):
    summary = imported(bank, MT940)
    assert (summary["new"], summary["matched"], summary["returns"]) == (4, {"invoice_number": 1}, 1)
    bricks, fjord, recall, charges = entries(bank)
    assert (bricks.status, bricks.matched_rule) == ("matched", "invoice_number")
    assert payments_of(bank, bricks.id) == [
        ("INV-1007-OPEN1", "7300.00", "EUR", "received"),
        ("INV-1007-OPEN2", "2500.00", "EUR", "received"),  # less CN-1007-001, on account
    ]
    assert "INV-1007-001" not in str(bricks.explanation)  # CN-1007-001 is not that invoice
    assert "INV-1006-009 (C-1006) is paid already" in str(fjord.explanation)
    assert (fjord.status, recall.status, recall.returns_id) == ("returned", "matched", fjord.id)
    assert services.unmatched_payments(bank) == []
    assert charges.status == "ignored"


def test_importing_the_same_statement_again_changes_nothing(bank):
    imported(bank)
    before = counts(bank)
    again = imported(bank)
    assert (again["new"], again["skipped"], again["matched"]) == (0, 8, {})
    assert counts(bank) == before


def test_a_statement_sent_again_with_more_entries_adds_only_those(bank):
    [st] = read_statements(CAMT)
    first = dataclasses.replace(st, entries=st.entries[:2])
    services.apply_statements(
        bank, [first], file_name="part.xml", sha256="x", actor="import", as_of=DAY
    )
    assert len(entries(bank)) == 2
    summary = services.apply_statements(
        bank, [st], file_name="whole.xml", sha256="y", actor="import", as_of=DAY
    )
    assert (summary["new"], summary["skipped"]) == (6, 2)
    assert len(entries(bank)) == 8


def test_an_entry_that_changed_since_its_import_refuses_the_whole_file(bank):
    from credit.importers.statements import StatementRejected

    [st] = read_statements(CAMT)
    imported(bank)
    before = counts(bank)
    changed = dataclasses.replace(st.entries[0], amount=Decimal("9700.00"))
    extra = dataclasses.replace(st.entries[-1], ref="NEW-1")
    with pytest.raises(StatementRejected) as refused:
        services.apply_statements(
            bank,
            [dataclasses.replace(st, entries=(changed, *st.entries[1:], extra))],
            file_name="changed.xml", sha256="z", actor="import", as_of=DAY,
        )  # fmt: skip
    [problem] = refused.value.problems
    assert "was imported before as a credit of 9600.00" in problem.reason
    assert counts(bank) == before


def test_a_statement_of_an_account_that_is_not_the_companys_is_refused(bank):
    from credit.importers.statements import StatementRejected

    [st] = read_statements(CAMT)
    with pytest.raises(StatementRejected, match="is not one of the company's accounts"):
        services.apply_statements(
            bank, [dataclasses.replace(st, account_iban="DE02120300000000202051")],
            file_name="other.xml", sha256="z", actor="import", as_of=DAY,
        )  # fmt: skip
    assert entries(bank) == []


def test_a_collector_matches_by_hand_and_a_manager_undoes_it_audited(bank):
    imported(bank)
    waiting = [r["id"] for r in services.unmatched_payments(bank)]
    schneider = entries(bank)[4].id
    assert schneider in waiting
    shown = services.match_payment(
        bank, entry_id=schneider, by="cora.collector", invoices=["INV-1007-OPEN2"],
        reason="Max Schneider is Quickfix's owner (phone call)",
    )  # fmt: skip
    assert (shown["status"], shown["rule"], shown["customer"]) == ("matched", "manual", "C-1007")
    assert payments_of(bank, schneider) == [("INV-1007-OPEN2", "250.00", "EUR", "received")]
    assert open_on(bank, "C-1007", "INV-1007-OPEN2") == Decimal("2700.50")
    assert schneider not in [r["id"] for r in services.unmatched_payments(bank)]

    with pytest.raises(services.ServiceError, match="is matched already"):
        services.match_payment(bank, entry_id=schneider, by="cora.collector", customer="C-1007")
    undone = services.unmatch_payment(
        bank, entry_id=schneider, by="carla.manager", reason="wrong customer: a private person"
    )
    assert undone["status"] == "unmatched" and undone["customer"] is None
    assert payments_of(bank, schneider) == [("INV-1007-OPEN2", "250.00", "EUR", "reversed")]
    assert open_on(bank, "C-1007", "INV-1007-OPEN2") == Decimal("2950.50")
    with bank.uow() as uow:
        s = uow.session
        events = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_id == str(schneider))
            .order_by(col(AuditEvent.id))
        ).all()
        assert (
            s.exec(
                select(CustomerBankAccount).where(
                    CustomerBankAccount.iban == "DE37500105175407324960"
                )
            ).all()
            == []
        )  # learned from the match, forgotten with it
        forgot = s.exec(
            select(AuditEvent).where(AuditEvent.action == "customer_bank_account.forget")
        ).all()
    assert [(e.action, e.actor) for e in events] == [
        ("bank_entry.match", "cora.collector"),
        ("bank_entry.unmatch", "carla.manager"),
    ]
    assert events[0].before["status"] == "unmatched" and events[0].after["customer"] == "C-1007"
    assert events[1].before["customer"] == "C-1007" and events[1].after["status"] == "unmatched"
    assert events[1].reason == "wrong customer: a private person"
    assert len(forgot) == 1
    # matched again (its payments numbered on: BE{id}-2), then nothing is left to undo twice
    services.match_payment(bank, entry_id=schneider, by="cora.collector", customer="C-1007")
    assert payments_of(bank, schneider)[-1] == (None, "250.00", "EUR", "received")


def test_a_collector_confirms_a_suggestion(bank):
    imported(bank)
    granite = entries(bank)[1].id
    shown = services.match_payment(bank, entry_id=granite, by="cora.collector", suggestion=1)
    assert (shown["customer"], shown["rule"]) == ("C-1012", "manual")
    assert payments_of(bank, granite) == [("INV-1012-OPEN1", "56000.00", "EUR", "received")]


@pytest.mark.parametrize(
    ("kw", "refusal"),
    [
        ({"entry_id": 999, "invoices": ["INV-1012-OPEN1"]}, "no bank statement entry 999"),
        ({"invoices": ["NOPE-1"]}, "no invoice 'NOPE-1'"),
        (
            {"invoices": ["INV-1012-OPEN1"], "customer": "C-1001"},
            "INV-1012-OPEN1 belongs to C-1012, not C-1001",
        ),
        ({"invoices": ["INV-1001-001"]}, "INV-1001-001 is paid already"),
        ({"invoices": ["INV-1012-OPEN1", "INV-1009-OPEN1"]}, "in EUR and USD"),
        ({"suggestion": 3}, "has 1 suggestion: choose 1 to 1"),
        ({}, "name the invoices it pays"),
        ({"by": "sam.sales", "invoices": ["INV-1012-OPEN1"]}, "sam.sales may not match"),
        ({"by": "nobody.at.all", "invoices": ["INV-1012-OPEN1"]}, "not in the approver directory"),
    ],
)
def test_a_refused_match_says_why_in_one_line_and_changes_nothing(bank, kw, refusal):
    imported(bank)
    before = counts(bank)
    args = {"entry_id": entries(bank)[1].id, "by": "cora.collector", **kw}
    with pytest.raises(services.ServiceError) as refused:
        services.match_payment(bank, **args)
    assert refusal in str(refused.value) and "\n" not in str(refused.value)
    assert counts(bank) == before


def test_a_return_bounces_the_payment_it_takes_back_and_undoing_it_restores_it(bank):
    imported(bank)
    nordwind = entries(bank)[0]
    back = Entry(
        ref="R-1", line=1, kind=EntryKind.RETURN, booked_on=date(2026, 12, 3), value_on=None,
        amount=Decimal("9600.00"), currency="EUR",
        remittances=(Remittance(amount=None, currency=None, end_to_end="NW-2026-11-4711",
                                payer_iban="DE75512108001245126199", text="RETOURE"),),
    )  # fmt: skip
    day2 = Statement("camt.053", "STMT-20261203", EUR_ACCOUNT, "EUR", None, None, None, (back,))
    summary = services.apply_statements(
        bank, [day2], file_name="day2.xml", sha256="r", actor="import", as_of=date(2026, 12, 3)
    )
    assert summary["returns"] == 1
    ret = entries(bank)[-1]
    assert (ret.status, ret.matched_rule, ret.returns_id) == ("matched", "return", nordwind.id)
    assert payments_of(bank, nordwind.id) == [("INV-1001-OPEN2", "9600.00", "EUR", "bounced")]
    assert entries(bank)[0].status == "returned"
    assert open_on(bank, "C-1001", "INV-1001-OPEN2") == Decimal("9600.00")
    with pytest.raises(services.ServiceError, match="taken back by the bank"):
        services.match_payment(bank, entry_id=nordwind.id, by="cora.collector", customer="C-1001")
    services.unmatch_payment(bank, entry_id=ret.id, by="carla.manager", reason="bank error")
    assert payments_of(bank, nordwind.id) == [("INV-1001-OPEN2", "9600.00", "EUR", "received")]
    assert entries(bank)[0].status == "matched"


def test_a_return_nobody_can_place_waits_for_a_collector(bank):
    back = Entry(
        ref="R-2", line=1, kind=EntryKind.RETURN, booked_on=DAY, value_on=None,
        amount=Decimal("123.45"), currency="EUR",
        remittances=(Remittance(amount=None, currency=None, end_to_end="UNKNOWN-1"),),
    )  # fmt: skip
    st = Statement("camt.053", "STMT-R2", EUR_ACCOUNT, "EUR", None, None, None, (back,))
    summary = services.apply_statements(
        bank, [st], file_name="r.xml", sha256="r", actor="import", as_of=DAY
    )
    assert (summary["returns"], summary["returns_unmatched"]) == (0, 1)
    [e] = entries(bank)
    assert e.status == "unmatched" and "UNKNOWN-1" in str(e.explanation)


# ------------------------------------------------------------------ into collections


@pytest.fixture(params=["sqlite", "postgresql"])
def story_bank(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch):
    """The sample story (the ledger as on 1 October 2026) with C-1003's credit line."""
    with database(request.param, monkeypatch) as a:
        import_sample(a, payments_until=STORY_STARTS)
        rid = review(a, "C-1003", "30000")
        decide(a, rid, "carla.manager")
        services.publish_request(a, request_id=rid, as_of=STORY_STARTS)
        yield a


def run_collections(a: App, day: date) -> dict[str, tuple[int, str]]:
    out = {}
    for cid in services.collection_candidates(a, as_of=day):
        for o in services.dun_customer(a, customer_id=cid, as_of=day, dry_run=False):
            if o.status in ("sent", "cleared"):
                out[o.customer] = (o.level, o.status)
    return out


def transfer(ref: str, amount: str, text: str, iban: str = "FR1420041010050500013M02606") -> Entry:
    return Entry(
        ref=ref, line=1, kind=EntryKind.CREDIT, booked_on=date(2026, 11, 20), value_on=None,
        amount=Decimal(amount), currency="EUR",
        remittances=(Remittance(amount=None, currency=None, text=text, payer_iban=iban,
                                payer_name="Brightline Retail SARL"),),
    )  # fmt: skip


def test_a_matched_payment_clears_dunning_and_releases_the_dunning_hold(story_bank):
    for day in (date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16)):
        collect(story_bank, day)  # the story's payments until each day, then the run
    with story_bank.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
        charges = uow.session.exec(
            select(Invoice.number).where(Invoice.number.like("%C-1003-EUR%"))  # type: ignore[attr-defined]
        ).all()
    assert line.status == "on_hold" and line.hold_reason == "dunning:credit_hold:EUR"
    # C-1003 pays everything on 20 November, by transfer: the bank statement brings it
    st = Statement(
        "camt.053", "STMT-20261120", EUR_ACCOUNT, "EUR", None, None, None,
        (transfer("T-1", "14800.00", "Rechnung INV-1003-OPEN1"),
         transfer("T-2", "6200.00", "inv 1003 open2"),
         transfer("T-3", "171.51", " ".join(sorted(charges)))),
    )  # fmt: skip
    summary = services.apply_statements(
        story_bank,
        [st],
        file_name="nov20.xml",
        sha256="h",
        actor="import",
        as_of=date(2026, 11, 20),
    )
    assert summary["matched"] == {"invoice_number": 3}, [e.explanation for e in entries(story_bank)]
    after = run_collections(story_bank, date(2026, 11, 30))
    assert after["C-1003"] == (0, "cleared")
    with story_bank.uow() as uow:
        s = uow.session
        line = s.exec(select(CreditLine)).one()
        released = s.exec(select(Notice).where(Notice.kind == "credit_hold_released")).all()
    assert line.status == "active" and line.hold_reason is None
    assert len(released) == 2  # the customer and the credit team
