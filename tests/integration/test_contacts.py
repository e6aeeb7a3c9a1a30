"""Contacts per customer: the CSV import (every cell checked, located lines, all or nothing,
dry run, idempotent, a customer's list replaced), and collections notices to the dunning contact
with the CC list, fixed when queued and delivered with ``To:`` and ``Cc:`` over real SMTP (every
address an envelope recipient) and as ``.eml`` files. A customer without contacts keeps today's
behaviour. On SQLite and PostgreSQL, one database per module and engine (the tests use
customers of their own).

The policy is the compact one of the collections ledgers: reminder 1 day after due, second notice
5 business days later, final demand (a letter) 5 later."""

from __future__ import annotations

import contextlib
import email
import os
import threading
from collections.abc import Iterator
from email import policy as email_policy
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlmodel import col, select

from credit import notices, services
from credit.app import App
from credit.db.models import AuditEvent, Customer, Notice
from credit.db.models_contacts import CustomerContact
from credit.importers import ImportFailed
from credit.notices.copies import copies_of
from credit.resources import resource_dir
from credit.services import casework
from credit.services.outbox import letter_maker
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, scratch_postgres
from tests.integration.test_collections_ledgers import (
    DUNNING,
    add_customer,
    add_invoice,
    day,
    run_day,
)
from tests.integration.test_notices import free_port

HEADER = "customer_code,name,role,email,phone,dunning,cc\n"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request, tmp_path_factory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp(f"contacts-{request.param}")
    with pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as stack:
        for key in list(os.environ):
            if key.startswith("CREDIT_") and key != "CREDIT_TEST_POSTGRES_URL":
                mp.delenv(key)
        mp.setenv("CREDIT_DATABASE_URL", f"sqlite:///{tmp / 'credit.db'}")
        mp.setenv("CREDIT_OUTBOX_DIR", str(tmp / "outbox"))
        for key, value in TEST_COMPANY.items():
            mp.setenv(key, value)
        mp.chdir(tmp)
        body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
        body["dunning"] = DUNNING
        (tmp / "policy.yaml").write_text(yaml.safe_dump(body))
        mp.setenv("CREDIT_POLICY_FILE", str(tmp / "policy.yaml"))
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(mp))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


def csv_file(app: App, name: str, text: str) -> Path:
    path = app.settings.outbox_dir.parent / name
    path.write_text(HEADER + text)
    return path


def load(app: App, path: Path, *, dry_run: bool = False):
    return services.import_data(
        app, kind="contacts", path=path, actor="carla.manager", dry_run=dry_run
    )


def stored(app: App, code: str) -> list[tuple]:
    with app.uow(read_only=True) as uow:
        s = uow.session
        cid = s.exec(select(Customer.id).where(Customer.code == code)).one()
        return sorted(
            (c.name, c.role, c.email, c.phone, c.dunning, c.cc)
            for c in s.exec(select(CustomerContact).where(CustomerContact.customer_id == cid))
        )


# --------------------------------------------------------------------------- the import

BAD = (
    "NOSUCH,Anna,AP,anna@x.example,,yes,\n"
    "errs,Bob,,not-an-email,,,\n"
    "ERRS,Carl,,carl@errs.example,call me,,\n"
    "ERRS,Dora,AP,dora@errs.example,,yes,yes\n"
    "ERRS,Eve,AP,eve@errs.example,,yes,\n"
    "ERRS,Fay,,EVE@errs.example,,,maybe\n"
    "ERRS,,,gus@errs.example,,,\n"
    "ERRS,Hal,Buyer,hal@errs.example,+49 40 1234-5,no,yes\n"
)


def test_a_file_with_errors_is_refused_with_located_lines_and_nothing_is_written(desk):
    with desk.uow() as uow:
        add_customer(uow.session, "ERRS")
        uow.commit()
    path = csv_file(desk, "bad.csv", BAD)
    with pytest.raises(ImportFailed) as refused:
        load(desk, path)
    f = str(path)
    assert [str(e) for e in refused.value.errors] == [
        f"{f}:2: column customer_code: value 'NOSUCH': no such customer; import customers first",
        f"{f}:3: column email: value 'not-an-email': not an email address",
        f"{f}:4: column phone: value 'call me': not a phone number",
        f"{f}:5: column cc: value 'yes': the dunning contact gets the notice itself; cc is for "
        "the others",
        f"{f}:6: column dunning: value 'yes': customer ERRS has its dunning contact on row 5; "
        "at most one",
        f"{f}:7: column cc: value 'maybe': yes or no",
        f"{f}:7: column email: value 'EVE@errs.example': customer ERRS has this address on row "
        "6 too",
        f"{f}:8: column name: value '': required",
    ]
    assert stored(desk, "ERRS") == []
    header = csv_file(desk, "header.csv", "")
    header.write_text("customer_code,name,mail\nERRS,Ann,a@b.example\n")
    with pytest.raises(ImportFailed) as wrong:
        load(desk, header)
    assert [(e.row, e.column, e.reason) for e in wrong.value.errors] == [
        (1, "mail", "unknown column; expected "
                    "customer_code,name,role,email,phone,dunning,cc"),
        (1, "email", "required column is missing from the header"),
    ]  # fmt: skip


def test_a_dry_run_writes_nothing_and_a_file_replaces_each_named_customers_contacts(desk):
    with desk.uow() as uow:
        add_customer(uow.session, "IMPA")
        add_customer(uow.session, "IMPB")
        uow.commit()
    first = csv_file(
        desk,
        "first.csv",
        "IMPA,Paula Pay,Accounts payable,Pay@Impa.example,+49 40 123,yes,\n"
        "IMPA,Anna Acct,Controller,anna@impa.example,,no,yes\n"
        "impa,Bert Boss,CFO,bert@impa.example,,,yes\n"
        "IMPB,Otto Only,,otto@impb.example,,,\n",
    )
    dry = load(desk, first, dry_run=True)
    assert (len(dry.created), len(dry.updated), len(dry.unchanged), dry.applied) == (4, 0, 0, False)
    assert stored(desk, "IMPA") == []
    done = load(desk, first)
    assert done.summary()["created"] == 4 and done.summary()["removed"] == 0
    assert any("read as lower-case" in fix for fix in done.fixes)
    assert stored(desk, "IMPA") == [
        ("Anna Acct", "Controller", "anna@impa.example", None, False, True),
        ("Bert Boss", "CFO", "bert@impa.example", None, False, True),
        ("Paula Pay", "Accounts payable", "pay@impa.example", "+49 40 123", True, False),
    ]
    again = load(desk, first)
    assert (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 4)
    # IMPA's new list: Anna becomes the dunning contact, Paula goes on CC, Bert leaves; IMPB is
    # not in the file and keeps Otto.
    second = csv_file(
        desk,
        "second.csv",
        "IMPA,Paula Pay,Accounts payable,pay@impa.example,+49 40 123,,yes\n"
        "IMPA,Anna Acct,Controller,anna@impa.example,,yes,\n",
    )
    plan = load(desk, second)
    assert (sorted(plan.updated), plan.removed) == (
        ["IMPA anna@impa.example", "IMPA pay@impa.example"],
        ["IMPA bert@impa.example"],
    )
    assert stored(desk, "IMPA") == [
        ("Anna Acct", "Controller", "anna@impa.example", None, True, False),
        ("Paula Pay", "Accounts payable", "pay@impa.example", "+49 40 123", False, True),
    ]
    assert stored(desk, "IMPB") == [("Otto Only", None, "otto@impb.example", None, False, False)]
    with desk.uow(read_only=True) as uow:
        events = uow.session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "import.contacts.replace", AuditEvent.entity_id == "IMPA")
            .order_by(col(AuditEvent.id))
        ).all()
    assert len(events) == 2  # the first import and the change; the unchanged rerun none
    assert events[1].actor == "carla.manager"
    assert [c["email"] for c in events[1].before["contacts"]] == [
        "pay@impa.example",
        "anna@impa.example",
        "bert@impa.example",
    ]
    view = services.customer_contacts(desk, code="IMPA")
    assert (view["notices_to"], view["notices_cc"]) == ("anna@impa.example", ["pay@impa.example"])
    assert [c["email"] for c in view["contacts"]][0] == "anna@impa.example"


# --------------------------------------------------------------------------- notices

CONTACTS = (
    "WITHCC,Paula Pay,Accounts payable,pay@withcc.example,,yes,\n"
    "WITHCC,Anna Acct,Controller,anna@withcc.example,,,yes\n"
    "WITHCC,Bert Boss,CFO,bert@withcc.example,,,yes\n"
    "WITHCC,Sam Shop,Buyer,sam@withcc.example,,,\n"
)
# On day 5 the CFO leaves the list and the treasurer joins: the notice queued on day 1 keeps its
# copies, the next one has the new list.
CHANGED = (
    "WITHCC,Paula Pay,Accounts payable,pay@withcc.example,,yes,\n"
    "WITHCC,Anna Acct,Controller,anna@withcc.example,,,yes\n"
    "WITHCC,Tina Treasury,Treasurer,tina@withcc.example,,,yes\n"
)

# What each run queues: "CODE kind to RECIPIENTS cc COPIES" (a letter is posted: no copies).
EXPECTED = {
    day(1): [
        "PLAIN dunning_reminder to ap@plain.example",
        "WITHCC dunning_reminder to pay@withcc.example cc anna@withcc.example, bert@withcc.example",
    ],
    day(8): [
        "PLAIN dunning_second_notice to ap@plain.example",
        "WITHCC dunning_second_notice to pay@withcc.example cc anna@withcc.example, "
        "tina@withcc.example",
    ],
    day(15): [
        "PLAIN dunning_final_demand (letter) to ap@plain.example",
        "WITHCC dunning_final_demand (letter) to pay@withcc.example",
    ],
}


class Inbox:
    """What the SMTP server accepted: each message with its envelope recipients."""

    def __init__(self) -> None:
        self.got: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            message = email.message_from_bytes(envelope.content, policy=email_policy.default)
            self.got.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def queued(app: App, since: int) -> tuple[list[str], list[int]]:
    with app.uow(read_only=True) as uow:
        s = uow.session
        codes = dict(s.exec(select(Customer.id, Customer.code)).all())
        rows = s.exec(select(Notice).where(col(Notice.id) > since)).all()
        cc = copies_of(s, [n.idempotency_key for n in rows])
    lines = [
        f"{codes[n.customer_id]} {n.kind}"
        + (" (letter)" if n.channel == "letter" else "")
        + f" to {', '.join(n.recipients)}"
        + (f" cc {', '.join(cc[n.idempotency_key])}" if n.idempotency_key in cc else "")
        for n in rows
    ]
    return sorted(lines), [n.id for n in rows]


def deliver(app: App, transport, ids: list[int]) -> None:
    report = notices.deliver_pending(
        app.engine,
        transport,
        mail_from=app.settings.mail_from,
        notice_ids=ids,
        letters_dir=app.settings.letters_path,
        letter_maker=letter_maker(app),
    )
    assert (report.sent, report.failed) == (len(ids), 0)


def test_dunning_notices_go_to_the_dunning_contact_with_the_cc_list(desk):
    with desk.uow() as uow:
        s = uow.session
        add_invoice(s, add_customer(s, "WITHCC"), "WITHCC-1", day(26, 2), "1000.00")
        add_invoice(s, add_customer(s, "PLAIN"), "PLAIN-1", day(26, 2), "500.00")
        uow.commit()
    load(desk, csv_file(desk, "contacts.csv", CONTACTS))
    got, ids_by_day, last = {}, {}, 0
    for d in (day(1), day(5), day(8), day(15)):
        if d == day(5):
            load(desk, csv_file(desk, "changed.csv", CHANGED))
        run_day(desk, d, None)
        lines, ids = queued(desk, last)
        last = max([last, *ids])
        if lines:
            got[d], ids_by_day[d] = lines, ids
    assert got == EXPECTED
    # A rerun of a day queues nothing, and what is queued keeps its copies.
    run_day(desk, day(15), None)
    assert queued(desk, last)[0] == []

    # Day 1's notices, delivered after the contacts changed, over a real SMTP server.
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = notices.SmtpTransport(
            host="127.0.0.1", port=port, user=None, password=None, starttls=False, timeout=10
        )
        deliver(desk, smtp, ids_by_day[day(1)])
    finally:
        controller.stop()
    by_to = {m["To"]: (rcpt, m) for rcpt, m in inbox.got}
    rcpt, withcc = by_to["pay@withcc.example"]
    assert sorted(rcpt) == ["anna@withcc.example", "bert@withcc.example", "pay@withcc.example"]
    assert withcc["Cc"] == "anna@withcc.example, bert@withcc.example"
    assert withcc["X-Credit-Notice-Kind"] == "dunning_reminder"
    rcpt, plain = by_to["ap@plain.example"]
    assert rcpt == ["ap@plain.example"] and plain["Cc"] is None

    # Day 8's notices as .eml files: the new list.
    outbox = desk.settings.outbox_dir
    deliver(desk, notices.FileTransport(outbox), ids_by_day[day(8)])
    files = {
        m["To"]: m
        for m in (
            email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
            for p in outbox.glob("*.eml")
        )
    }
    assert files["pay@withcc.example"]["Cc"] == "anna@withcc.example, tina@withcc.example"
    assert files["ap@plain.example"]["Cc"] is None

    # The case file and the customer view show the contacts and where notices go.
    file = casework.case_file(desk, customer_code="WITHCC", as_of=day(15), viewer="cora.collector")
    assert file["contacts"]["notices_to"] == "pay@withcc.example"
    assert file["contacts"]["notices_cc"] == ["anna@withcc.example", "tina@withcc.example"]
    overview = services.customer_overview(desk, code="PLAIN", as_of=day(15))
    assert overview["contacts"] == {
        "contacts": [],
        "notices_to": "ap@plain.example",
        "notices_cc": [],
    }


def test_a_queued_notice_keeps_its_copies_whether_queued_alone_or_in_a_batch(desk):
    with desk.uow() as uow:
        cid = add_customer(uow.session, "KEEP").id
        uow.commit()

    def enqueue(key: str, cc: list[str], *, batch: bool) -> None:
        with desk.uow() as uow:
            s = uow.session
            with notices.batched(s) if batch else contextlib.nullcontext():
                notices.enqueue(
                    s, desk.renderer, key=key, kind="assessment_ready", locale="en",
                    recipients=["to@keep.example"], customer_id=cid, cc=cc,
                    context=_context(),
                )  # fmt: skip
            uow.commit()

    for batch in (False, True):
        key = f"keep-test:{batch}"
        enqueue(key, ["b@keep.example", "a@keep.example", "to@keep.example"], batch=batch)
        enqueue(key, ["z@keep.example"], batch=batch)  # the same notice again: nothing changes
        with desk.uow(read_only=True) as uow:
            assert copies_of(uow.session, [key]) == {key: ["a@keep.example", "b@keep.example"]}
    with pytest.raises(notices.NoticeError, match="invalid CC address"):
        enqueue("keep-test:bad", ["nobody"], batch=False)


def _context() -> dict:
    from tests.integration.test_notices import CTX

    return CTX
