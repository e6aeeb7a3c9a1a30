"""The collector's payments pages (cash application in the workspace): the queue of bank entries
no rule matched with their suggestions, one entry with every rule tried, matches confirmed, made
by hand and undone, as a collector or credit manager meets them (httpx against the running app),
checked in the database and the audit trail; refusals that change nothing; one Chromium journey.

The ledger is the sample's with the payments made by 1 December 2026 and the RF reference of
Helios' reminder (C-1005); the day's camt.053 statement (sample_data/statements/camt053_day1.xml)
is imported through the service, as `credit import statement` does, on 2 December 2026. Its
entries, in the file's order: 1 Nordwind (C-1001, invoice number), 2 Granite (waits: a wrong RF
check digit, suggested C-1012 INV-1012-OPEN1), 3 Helios (C-1005, RF), 4 C-1010 (overpaid), 5 Max
Schneider (waits, no suggestion), 6 Pioneer in EUR for a USD invoice (C-1009), 7 a return
(bounces PAY-1003-LATE2), 8 bank charges (ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, Customer, Invoice, Payment
from credit.db.models_cash import BankEntry
from credit.importers import import_file
from credit.resources import resource_dir
from credit.services.cash import references
from credit.web import create_app
from tests.conftest import import_sample
from tests.web.conftest import Workspace, add_accounts, browser_page, csrf_of, serving

DAY = date(2026, 12, 2)
STATEMENT = resource_dir("sample_data") / "statements" / "camt053_day1.xml"
GRANITE, HELIOS, SCHNEIDER, PIONEER, RETURN = 2, 3, 5, 6, 7


def prepare(app: App) -> None:
    """The sample ledger with the payments made by 1 December 2026, the exchange rates, the RF
    reference of Helios' reminder, and an account for everyone in the directory."""
    import_sample(app, payments_until=date(2026, 12, 1))
    with app.uow() as uow:
        s = uow.session
        fx = resource_dir("sample_data") / "fx_rates.csv"
        import_file(s, kind="fx-rates", path=fx, actor="test", dry_run=False)
        inv = s.exec(select(Invoice).where(Invoice.number == "INV-1005-OPEN1")).one()
        helios = s.get(Customer, inv.customer_id)
        assert helios is not None and inv.id is not None
        rf = references.issue(
            s, customer=helios, currency="EUR", invoice_ids=[inv.id], amount=inv.amount,
            purpose="dunning", notice_key=None, as_of=DAY,
        )  # fmt: skip
        uow.commit()
    assert rf == "RF61C100500000001"  # what Helios quotes on the statement
    add_accounts(app)


@pytest.fixture
def bank(app: App) -> Iterator[Workspace]:
    """The day's statement imported onto the sample ledger (see the module's docstring), served
    on loopback with that business date."""
    prepare(app)
    summary = services.import_statement(app, path=STATEMENT, actor="import", as_of=DAY)
    assert summary["waiting"] == [GRANITE, SCHNEIDER]
    with serving(create_app(app, today=lambda: DAY)) as base:
        yield Workspace(app, base)


@pytest.fixture
def before_the_statement(app: App) -> Iterator[Workspace]:
    """The same ledger before the day's statement came in."""
    prepare(app)
    with serving(create_app(app, today=lambda: DAY)) as base:
        yield Workspace(app, base)


def post(client: httpx.Client, path: str, **form: str) -> httpx.Response:
    """A form sent as the client's person, with their session's token (read once from a page)."""
    token = getattr(client, "csrf_token", None)
    if token is None:
        token = csrf_of(client.get("/payments").text)
        client.csrf_token = token  # type: ignore[attr-defined]
    return client.post(path, data={"csrf": token, **form})


def state(app: App) -> tuple:
    """Everything a match or an undo changes: entries' statuses, payments, audit events (but
    sign-ins')."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        entries = s.exec(select(BankEntry.id, BankEntry.status).order_by(col(BankEntry.id))).all()
        payments = s.exec(select(Payment.reference, Payment.status).order_by(col(Payment.id)))
        audited = s.exec(  # signing in is audited too: not a change to the ledger
            select(func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.action).not_like("session.%"))
        ).one()
        return tuple(entries), tuple(payments.all()), audited


def payments_of(app: App, entry_id: int) -> list[tuple[str | None, str, str]]:
    """(invoice number or None = on account, amount, status) of an entry's payments."""
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(Payment, Invoice.number)
            .join(Invoice, col(Invoice.id) == col(Payment.invoice_id), isouter=True)
            .where(Payment.bank_entry_id == entry_id)
            .order_by(col(Payment.id))
        ).all()
        return [(n, f"{p.amount:.2f}", p.status) for p, n in rows]


def events(app: App, entry_id: int) -> list[AuditEvent]:
    with app.uow(read_only=True) as uow:
        return list(
            uow.session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "bank_entry")
                .where(AuditEvent.entity_id == str(entry_id))
                .order_by(col(AuditEvent.id))
            )
        )


def waiting_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="payment" id="entry-(\d+)"', html)]


def recent_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="recent-(\d+)"', html)]


def test_the_queue_shows_each_waiting_payment_with_why_and_its_suggestions(bank: Workspace):
    with bank.client("cora.collector") as cora:
        page = cora.get("/payments")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/payments">Payments</a>' in html  # in the navigation
    assert waiting_ids(html) == [GRANITE, SCHNEIDER]
    assert "2 bank entries no rule matched" in html
    granite = html[html.index(f'id="entry-{GRANITE}"') : html.index(f'id="entry-{SCHNEIDER}"')]
    assert "€56,000.00" in granite and "Granite Construction SE" in granite
    assert "AT322011182345678901" in granite and "RF42 C101 2000 0000 3" in granite
    assert "RF42C101200000003: the check digits are wrong (ignored)" in granite
    assert "the payer&#39;s IBAN AT322011182345678901 is not known for a customer" in granite
    assert "C-1012" in granite and "INV-1012-OPEN1" in granite and ">60</td>" in granite
    assert "the amount equals one item (EUR 56,000.00)" in granite
    assert f'id="confirm-{GRANITE}-1"' in granite
    schneider = html[html.index(f'id="entry-{SCHNEIDER}"') : html.index('id="recent"')]
    assert "Max Schneider" in schneider and "Zahlung" in schneider
    assert "No suggestion" in schneider and "confirm-" not in schneider
    # the entries the matcher placed, with the rule and who matched them, each with an undo
    assert sorted(recent_ids(html)) == [1, HELIOS, 4, PIONEER, RETURN]
    helios = re.search(rf'<tr id="recent-{HELIOS}">.*?</tr>', html, re.S).group(0)
    assert "C-1005" in helios and "RF reference" in helios and "by matcher" in helios
    assert "INV-1005-OPEN1 €5,400.00" in helios
    assert f'href="/payments/{HELIOS}#undo"' in helios
    returned = re.search(rf'<tr id="recent-{RETURN}">.*?</tr>', html, re.S).group(0)
    assert "took back payment PAY-1003-LATE2" in returned and "return" in returned
    # the pages are for collectors and credit managers only, as the service's rule is
    with bank.client("carla.manager") as carla:
        assert carla.get("/payments").status_code == 200
    for who in ("sam.sales", "mia.analyst", "olga.operator"):
        with bank.client(who) as c:
            assert c.get("/payments").status_code == 403
            assert c.get(f"/payments/{GRANITE}").status_code == 403
            assert '<a href="/payments">' not in c.get("/").text


def test_an_entry_shows_every_rule_tried_its_payments_and_the_fx_difference(bank: Workspace):
    with bank.client("cora.collector") as cora:
        pioneer = cora.get(f"/payments/{PIONEER}").text
        granite = cora.get(f"/payments/{GRANITE}").text
        missing = cora.get("/payments/999")
        not_a_number = cora.get("/payments/abc")
        too_big = cora.get(f"/payments/{10**20}")
    assert "Pioneer Tools Taiwan Ltd" in pioneer and "PT-20261128-0042" in pioneer
    assert "camt053_day1.xml" in pioneer and "PMNT/RCDT/XBCT" in pioneer
    steps = re.search(r'<ol class="steps" id="explanation">(.*?)</ol>', pioneer, re.S).group(1)
    assert "did not apply</span> <strong>RF reference</strong>: no RF creditor reference" in steps
    assert "applied</span> <strong>invoice number</strong>: INV-1009-OPEN1 of C-1009" in steps
    assert "<strong>exchange rate</strong>: EUR 11,437.50 = USD 12,500.00 at 0.915" in steps
    assert re.search(r'id="fx-difference">\$0\.00', pioneer)
    assert 'INV-1009-OPEN1</td><td class="num">$12,500.00' in pioneer
    assert 'id="undo-match"' in pioneer and 'id="match-to-invoices"' not in pioneer
    # a waiting entry: its suggestions to confirm and the forms to match it by hand
    assert 'id="confirm-1"' in granite and 'id="match-to-invoices"' in granite
    assert 'id="keep-on-account"' in granite and 'id="undo-match"' not in granite
    assert missing.status_code == 404 and "No bank statement entry 999" in missing.text
    assert not_a_number.status_code == 400 and too_big.status_code == 400
    assert "Traceback" not in not_a_number.text + too_big.text


def test_a_collector_confirms_a_suggestion_from_the_queue_audited_as_them(bank: Workspace):
    with bank.client("cora.collector") as cora:
        done = post(
            cora, f"/payments/{GRANITE}/confirm", suggestion="1", customer="C-1012",
            invoices="INV-1012-OPEN1", back="queue",
        )  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == f"/payments?done=match&entry={GRANITE}#recent"
        page = cora.get(done.headers["location"]).text
    assert f"Entry {GRANITE} is matched to C-1012: INV-1012-OPEN1 EUR 56,000.00." in page
    assert waiting_ids(page) == [SCHNEIDER] and recent_ids(page)[0] == GRANITE
    assert "by hand" in re.search(rf'<tr id="recent-{GRANITE}">.*?</tr>', page, re.S)[0]
    assert payments_of(bank.app, GRANITE) == [("INV-1012-OPEN1", "56000.00", "received")]
    [event] = events(bank.app, GRANITE)
    assert (event.action, event.actor, event.reason) == (
        "bank_entry.match", "cora.collector", "suggestion 1 confirmed",
    )  # fmt: skip
    assert event.via["channel"] == "web" and event.after["customer"] == "C-1012"
    # the same button again (a second tab, a double click): refused, nothing changes
    before = state(bank.app)
    with bank.client("cora.collector") as cora:
        again = post(
            cora, f"/payments/{GRANITE}/confirm", suggestion="1", customer="C-1012",
            invoices="INV-1012-OPEN1", back="queue",
        )  # fmt: skip
    assert again.status_code == 400
    assert f"Entry {GRANITE} is matched already (manual by cora.collector, C-1012)" in again.text
    assert f'id="entry-{GRANITE}-error"' not in again.text  # no longer in the queue
    assert state(bank.app) == before


def test_a_suggestion_confirmed_on_the_entry_page_is_the_one_shown(bank: Workspace):
    with bank.client("cora.collector") as cora:
        # a form whose suggestion no longer fits (another customer's invoice): refused there
        stale = post(
            cora, f"/payments/{GRANITE}/confirm", suggestion="1", customer="C-1001",
            invoices="INV-1012-OPEN1", back="entry",
        )  # fmt: skip
        assert stale.status_code == 400
        assert 'id="suggestion-error">INV-1012-OPEN1 belongs to C-1012, not C-1001.' in stale.text
        assert payments_of(bank.app, GRANITE) == []
        done = post(
            cora, f"/payments/{GRANITE}/confirm", suggestion="1", customer="C-1012",
            invoices="INV-1012-OPEN1", back="entry",
        )  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == f"/payments/{GRANITE}?done=match"
        page = cora.get(done.headers["location"]).text
    assert f"Entry {GRANITE} is matched to C-1012: INV-1012-OPEN1 EUR 56,000.00." in page
    assert 'id="undo-match"' in page and 'id="confirm-1"' not in page
    assert payments_of(bank.app, GRANITE) == [("INV-1012-OPEN1", "56000.00", "received")]


def test_a_payment_matched_by_hand_then_undone_then_kept_on_account(bank: Workspace):
    with bank.client("cora.collector") as cora:
        done = post(
            cora, f"/payments/{SCHNEIDER}/match", action="invoices",
            invoices=" INV-1007-OPEN2 ,", reason="Max Schneider owns Quickfix (phone call)",
        )  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == f"/payments/{SCHNEIDER}?done=match"
        page = cora.get(done.headers["location"]).text
    assert f"Entry {SCHNEIDER} is matched to C-1007: INV-1007-OPEN2 EUR 250.00." in page
    assert "by hand</strong>: cora.collector matched it: INV-1007-OPEN2" in page
    assert payments_of(bank.app, SCHNEIDER) == [("INV-1007-OPEN2", "250.00", "received")]

    with bank.client("carla.manager") as carla:
        blank = post(carla, f"/payments/{SCHNEIDER}/unmatch", reason="  ")
        assert blank.status_code == 400 and "reason for undoing the match" in blank.text
        assert payments_of(bank.app, SCHNEIDER)[-1][2] == "received"
        undone = post(carla, f"/payments/{SCHNEIDER}/unmatch", reason="a private person")
        assert undone.status_code == 303
        page = carla.get(undone.headers["location"]).text
        assert "match is undone: its payments are reversed" in page
        assert "carla.manager undid the match: a private person" in page
        assert 'id="keep-on-account"' in page
        twice = post(carla, f"/payments/{SCHNEIDER}/unmatch", reason="again")
        assert twice.status_code == 400
        assert "is unmatched, not matched: nothing to undo" in twice.text
        kept = post(
            carla, f"/payments/{SCHNEIDER}/match", action="account", customer="c-1007",
            invoices="INV-1007-OPEN2",  # left over from the other form: not used
        )  # fmt: skip
        assert kept.status_code == 303
    assert payments_of(bank.app, SCHNEIDER) == [
        ("INV-1007-OPEN2", "250.00", "reversed"),
        (None, "250.00", "received"),
    ]
    actions = [(e.action, e.actor, e.via["channel"]) for e in events(bank.app, SCHNEIDER)]
    assert actions == [
        ("bank_entry.match", "cora.collector", "web"),
        ("bank_entry.unmatch", "carla.manager", "web"),
        ("bank_entry.match", "carla.manager", "web"),
    ]


@pytest.mark.parametrize(
    ("form", "refusal"),
    [
        ({"invoices": "NOPE-1"}, "No invoice &#39;NOPE-1&#39;."),
        (
            {"invoices": "INV-1012-OPEN1", "customer": "C-1001"},
            "INV-1012-OPEN1 belongs to C-1012, not C-1001.",
        ),
        ({"invoices": "INV-1001-001"}, "INV-1001-001 is paid already (nothing is open on it)."),
        ({"invoices": "INV-1012-OPEN1, INV-1009-OPEN1"}, "The invoices are in EUR and USD"),
        ({"invoices": " , "}, "Name the invoices it pays"),
        ({"action": "account", "customer": "C-9999"}, "C-9999"),
        ({"action": "account", "customer": ""}, "Name the customer"),
        ({"action": "returns", "returns": "1"}, "is a credit, not a return"),
    ],
)
def test_a_refused_match_shows_the_page_again_with_one_line_and_changes_nothing(
    bank: Workspace, form: dict[str, str], refusal: str
):
    before = state(bank.app)
    action = form.get("action", "invoices")
    with bank.client("cora.collector") as cora:
        answer = post(cora, f"/payments/{GRANITE}/match", **{"action": action, **form})
    assert answer.status_code == 400, answer.text
    message = re.search(r'role="alert" id="error">Not done: (.*?) <a', answer.text).group(1)
    assert refusal in message and "\n" not in message
    if action != "returns":  # and by its form (a credit's page has no form to place a return)
        assert f'id="{action}-error">{message}</p>' in answer.text
    assert "Traceback" not in answer.text
    for name, value in form.items():
        if value.strip() and name != "action" and action != "returns":
            assert f'value="{value}"' in answer.text  # what was typed is kept
    assert state(bank.app) == before


def test_matched_entries_returns_and_other_peoples_requests_are_refused(bank: Workspace):
    before = state(bank.app)
    with bank.client("cora.collector") as cora:
        matched = post(cora, f"/payments/{HELIOS}/match", invoices="INV-1005-OPEN1")
        assert matched.status_code == 400
        assert f"Entry {HELIOS} is matched already (rf by matcher, C-1005): undo its match" in (
            matched.text
        )
        assert 'id="undo-match"' in matched.text
        nothing = post(cora, "/payments/999/match", invoices="INV-1012-OPEN1")
        assert nothing.status_code == 404 and "No bank statement entry 999" in nothing.text
        no_token = cora.post(f"/payments/{GRANITE}/match", data={"invoices": "INV-1012-OPEN1"})
        assert no_token.status_code == 403 and "could not be verified" in no_token.text
        # a return, undone, waits; placed by hand it needs the credit it takes back
        undone = post(cora, f"/payments/{RETURN}/unmatch", reason="bank error")
        assert undone.status_code == 303
        page = cora.get(f"/payments/{RETURN}").text
        assert 'id="place-return"' in page and 'id="match-to-invoices"' not in page
        huge = post(cora, f"/payments/{RETURN}/match", action="returns", returns="9" * 30)
        assert huge.status_code == 400 and "is not an entry number" in huge.text
        word = post(cora, f"/payments/{RETURN}/match", action="returns", returns="first")
        assert word.status_code == 400
        assert "The entry it takes back &#39;first&#39; is not an entry number." in word.text
        other = post(cora, f"/payments/{RETURN}/match", action="returns", returns="1")
        assert other.status_code == 400 and "a return takes back the whole amount" in other.text
    with bank.client("sam.sales") as sam:
        token = csrf_of(sam.get("/").text)
        refused = sam.post(
            f"/payments/{GRANITE}/match", data={"csrf": token, "invoices": "INV-1012-OPEN1"}
        )
        assert refused.status_code == 403 and "Not for your role" in refused.text
    # nothing changed but what undoing the return changes: it waits, its bounce is given back
    entries, payments, _ = state(bank.app)
    assert entries == tuple((i, "unmatched" if i == RETURN else status) for i, status in before[0])
    assert payments == tuple(
        (ref, "received" if ref == "PAY-1003-LATE2" else status) for ref, status in before[1]
    )
    assert ("PAY-1003-LATE2", "bounced") in before[1]
    assert [e.action for e in events(bank.app, GRANITE)] == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol3;</Document>
"""


def upload(client: httpx.Client, token: str, name: str, data: bytes) -> httpx.Response:
    files = {"file": (name, data, "application/octet-stream")}
    return client.post("/payments/statements", data={"csrf": token}, files=files)


def test_a_manager_uploads_a_statement_checks_it_and_imports_it(before_the_statement: Workspace):
    app = before_the_statement.app
    with before_the_statement.client("carla.manager") as carla:
        page = carla.get("/imports").text
        assert 'id="check-statement"' in page and 'action="/payments/statements"' in page
        token = csrf_of(page)
        hostile = upload(carla, token, "evil.xml", BILLION_LAUGHS)
        assert hostile.status_code == 400 and "nothing was imported" in hostile.text
        problems = re.search(r'<ul id="problems">(.*?)</ul>', hostile.text, re.S)[1]
        assert "<code>evil.xml, line 2, XML:" in problems and "declares entities" in problems
        assert "uploads" not in problems  # the name it was uploaded as, not the server's path
        empty = carla.post("/payments/statements", data={"csrf": token})
        assert empty.status_code == 400 and "Choose a bank statement file" in empty.text
        assert state(app)[0] == ()

        checked = upload(carla, token, "camt053_day1.xml", STATEMENT.read_bytes())
        assert checked.status_code == 200, checked.text
        report = re.search(r'<div id="report-summary">(.*?)</div>', checked.text, re.S)[1]
        assert "camt053_day1.xml: 8 payments read, 8 new, 0 skipped as already imported" in report
        assert (
            "Would import: 4 matched (3 by invoice number, 1 by RF reference), 2 waiting for a "
            "collector, 1 return applied, 1 debit(s) ignored." in report
        )
        assert state(app)[0] == ()  # a dry run writes nothing
        ref = re.search(r'name="ref" value="([0-9a-f]{32})"', checked.text)[1]
        done = carla.post("/payments/statements/import", data={"csrf": token, "ref": ref})
        assert done.status_code == 303 and done.headers["location"] == f"/payments?imported={ref}"
        queue = carla.get(done.headers["location"]).text
        assert "Imported: 4 matched (3 by invoice number" in queue
        assert waiting_ids(queue) == [GRANITE, SCHNEIDER]
        twice = carla.post("/payments/statements/import", data={"csrf": token, "ref": ref})
        assert twice.status_code == 400 and "not waiting any more" in twice.text
        forged = carla.post("/payments/statements/import", data={"csrf": token, "ref": "../x"})
        assert forged.status_code == 400 and "malformed" in forged.text
        again = upload(carla, token, "camt053_day1.xml", STATEMENT.read_bytes())
        assert again.status_code == 200 and "8 skipped as already imported" in again.text
        assert "Nothing new" in again.text and 'id="confirm-statement"' not in again.text
    with app.uow(read_only=True) as uow:
        [imported] = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "bank_statement.import")
        ).all()
    assert (imported.actor, imported.via["channel"]) == ("carla.manager", "web")
    with before_the_statement.client("cora.collector") as cora:
        token = csrf_of(cora.get("/payments").text)
        refused = upload(cora, token, "camt053_day1.xml", STATEMENT.read_bytes())
        assert refused.status_code == 403 and "Not for your role" in refused.text
        assert '<a href="/imports">' not in cora.get("/payments").text


@pytest.mark.slow
def test_a_collector_confirms_a_suggestion_and_undoes_it_in_the_browser(
    bank: Workspace, tmp_path: Path
):
    with browser_page(bank.base, "cora.collector") as page:
        page.click("nav >> text=Payments")
        page.wait_for_url("**/payments")
        waiting = page.inner_text(f"#entry-{GRANITE}")
        assert "Granite Construction SE" in waiting and "C-1012" in waiting
        assert "INV-1012-OPEN1" in waiting and "check digits are wrong" in waiting
        page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
        page.click(f"#confirm-{GRANITE}-1")
        page.wait_for_url(f"**/payments?done=match&entry={GRANITE}*")
        assert "is matched to C-1012: INV-1012-OPEN1" in page.inner_text("#done")
        assert page.locator(f"#entry-{GRANITE}").count() == 0
        recent = page.inner_text(f"#recent-{GRANITE}")
        assert "C-1012" in recent and "by hand" in recent and "cora.collector" in recent
        page.click(f"#undo-{GRANITE}")
        page.wait_for_url(f"**/payments/{GRANITE}#undo")
        assert "INV-1012-OPEN1" in page.inner_text("#payments")
        page.click("#undo-match")  # no reason: the browser asks for one, nothing is sent
        assert page.url.endswith(f"/payments/{GRANITE}#undo")
        page.fill("#unmatch-reason", "Granite paid the retention invoice, not this one")
        page.click("#undo-match")
        page.wait_for_url(f"**/payments/{GRANITE}?done=unmatch")
        assert "match is undone" in page.inner_text("#done")
        assert "reversed" in page.inner_text("#payments")
        assert "Granite paid the retention invoice" in page.inner_text("#explanation")
        page.screenshot(path=str(tmp_path / "entry.png"), full_page=True)
        page.click('main a[href="/payments"]')  # the breadcrumb back to the queue
        page.wait_for_url("**/payments")
        assert page.locator(f"#entry-{GRANITE}").count() == 1
    assert payments_of(bank.app, GRANITE) == [("INV-1012-OPEN1", "56000.00", "reversed")]
    assert [(e.action, e.actor, e.via["channel"]) for e in events(bank.app, GRANITE)] == [
        ("bank_entry.match", "cora.collector", "web"),
        ("bank_entry.unmatch", "cora.collector", "web"),
    ]
