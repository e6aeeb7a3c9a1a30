"""The collector's worklist and case page: each action as a collector or credit manager meets it
(httpx against the running app), checked in the database and the audit trail; one Chromium
journey (Playwright).

The cases are those of the sample story: a credit line for C-1005 published on 1 October 2026,
then the collections runs of 1 and 15 October, 2, 16 and 30 November, the payments coming in day
by day, as the collections tests run them (no Prefect). On 30 November C-1005, C-1007 (EUR) and
C-1009 (USD) are handed over to the collections team, and C-1005's line is on hold since the
credit-hold level. The workspace's business date is that day: the cases are open then."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import (
    AuditEvent,
    CollectionCase,
    CollectionNote,
    CreditLine,
    Customer,
    Dispute,
    Notice,
    PaymentPromise,
)
from credit.db.models_team import DisputeTerms
from credit.services import accounts, casework
from credit.web import create_app
from tests.conftest import import_sample
from tests.integration.test_lifecycle_services import DAY, decide, review
from tests.web.conftest import PASSWORD, Workspace, browser_page, csrf_of, serving

CASES_DAY = date(2026, 11, 30)
RUNS = (date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16), CASES_DAY)


@pytest.fixture
def desk(story: App) -> Iterator[Workspace]:
    """The sample story worked up to 30 November 2026 (see the module's docstring), served on
    loopback with that business date and an account for everyone in the directory."""
    rid = review(story, "C-1005", "20000")
    decide(story, rid, "carla.manager")
    services.publish_request(story, request_id=rid, as_of=DAY)
    for day in RUNS:
        import_sample(story, ("payments",), payments_until=day)
        ids = services.collection_candidates(story, as_of=day)
        services.dun_customers(story, customer_ids=ids, as_of=day, dry_run=False)
    add_accounts(story, "cora.collector", "carla.manager")
    web = create_app(story, today=lambda: CASES_DAY)
    with serving(web) as base:
        yield Workspace(story, base)


def add_accounts(app: App, *usernames: str) -> None:
    """Accounts for the people a test signs in as (each password hash takes a third of a
    second: the whole directory's would double a test's time)."""
    for username in usernames:
        accounts.add_user(app, username=username, password=PASSWORD, by="olga.operator")


def events(app: App, action: str) -> list[AuditEvent]:
    with app.uow() as uow:
        return list(
            uow.session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            )
        )


def rows(app: App, model: type) -> list:
    with app.uow() as uow:
        return list(uow.session.exec(select(model)))


def line_of(app: App, code: str) -> CreditLine:
    with app.uow() as uow:
        return uow.session.exec(
            select(CreditLine).join(Customer).where(Customer.code == code)
        ).one()


def post(client, path: str, **form: str):
    """A form sent as the client's person, with their session's token (read once from a page)."""
    if not hasattr(client, "csrf_token"):
        client.csrf_token = csrf_of(client.get("/worklist").text)
    return client.post(path, data={"csrf": client.csrf_token, **form})


def worklist_codes(html: str) -> list[str]:
    return re.findall(r'href="/cases/(C-\d+)"', html)


def test_worklist_ranks_open_cases_by_priority_and_filters_them(desk: Workspace) -> None:
    cora = desk.client("cora.collector")
    page = cora.get("/worklist")
    assert page.status_code == 200
    # EUR 9,955.92 for 91 days, EUR 5,479.06 for 61 days, then USD 12,630.41: the sample
    # ledger has no exchange rates, so the dollar case has no priority and comes last
    assert worklist_codes(page.text) == ["C-1007", "C-1005", "C-1009"]
    assert "Priority = the amount overdue in EUR" in page.text
    assert "€9,955.92" in page.text and "unassigned" in page.text
    # the same amounts and days as `credit worklist` (services.worklist)
    listed = casework.worklist_page(
        desk.app, as_of=CASES_DAY, viewer="cora.collector", filters=casework.WorklistFilters()
    )
    assert sorted((r["customer"], str(r["amount"]), r["oldest_overdue_days"]) for r in listed["rows"]) == sorted(
        (r["customer"], r["amount"], r["oldest_overdue_days"])
        for r in services.worklist(desk.app, as_of=CASES_DAY)
    )  # fmt: skip
    assert listed["rows"][0]["priority"] == int(Decimal("9955.92") * 91 / 1000)
    assert worklist_codes(cora.get("/worklist?currency=USD").text) == ["C-1009"]
    assert worklist_codes(cora.get("/worklist?level=5").text) == ["C-1007", "C-1005", "C-1009"]
    assert worklist_codes(cora.get("/worklist?level=4").text) == []
    assert worklist_codes(cora.get("/worklist?promise=open").text) == []
    assert "Page 1 of 1" in cora.get("/worklist?page=99&level=x").text  # clamped, ignored
    add_accounts(desk.app, "sam.sales")
    assert desk.client("sam.sales").get("/worklist").status_code == 403


def test_a_manager_assigns_a_case_and_a_collector_may_not(desk: Workspace) -> None:
    cora, carla = desk.client("cora.collector"), desk.client("carla.manager")
    refused = post(cora, "/cases/C-1007/assign", collector="cora.collector")
    assert refused.status_code == 403
    with pytest.raises(services.ServiceError, match="credit managers do"):
        casework.assign_cases(
            desk.app, customer_code="C-1007", collector="cora.collector", by="cora.collector"
        )
    assert {c.collector for c in rows(desk.app, CollectionCase)} == {None}
    assert events(desk.app, "worklist.assigned") == []

    done = post(carla, "/cases/C-1007/assign", collector="carla.manager")
    assert done.status_code == 303
    [case] = [c for c in rows(desk.app, CollectionCase) if c.collector]
    assert case.collector == "carla.manager"
    [event] = events(desk.app, "worklist.assigned")
    assert (event.actor, event.entity_id, event.via["channel"]) == (
        "carla.manager",
        "C-1007",
        "web",
    )
    assert event.before == {"collector": {str(case.id): None}}
    # a collector's worklist shows their cases and the unassigned ones by default
    assert worklist_codes(cora.get("/worklist").text) == ["C-1005", "C-1009"]
    assert worklist_codes(cora.get("/worklist?collector=all").text)[0] == "C-1007"
    assert worklist_codes(carla.get("/worklist?collector=carla.manager").text) == ["C-1007"]
    nobody = post(carla, "/cases/C-1007/assign", collector="sam.sales")
    assert nobody.status_code == 400 and "does not work collection cases" in nobody.text


def test_a_promise_is_recorded_as_the_collector_and_one_beyond_the_balance_is_refused(
    desk: Workspace,
) -> None:
    cora = desk.client("cora.collector")
    too_much = post(
        cora, "/cases/C-1007/promise", amount="20000.00", currency="EUR",
        promised_for="2026-12-15", note="all of it",
    )  # fmt: skip
    assert too_much.status_code == 400
    assert "C-1007 owes EUR 9,955.92 in all; a promise of EUR 20,000.00 is more than that" in (
        too_much.text
    )
    assert 'value="20000.00"' in too_much.text and "all of it" in too_much.text  # kept
    assert rows(desk.app, PaymentPromise) == [] and events(desk.app, "promise.recorded") == []
    bad = post(cora, "/cases/C-1007/promise", amount="1,000", promised_for="2026-12-15")
    assert bad.status_code == 400 and "decimal separator" in bad.text

    done = post(
        cora, "/cases/C-1007/promise", amount="4000.00", currency="EUR",
        promised_for="2026-12-15", note="half now, rest in January",
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"].startswith("/cases/C-1007")
    [p] = rows(desk.app, PaymentPromise)
    assert (p.amount, p.promised_for, p.recorded_by, p.recorded_on) == (
        Decimal("4000.00"), date(2026, 12, 15), "cora.collector", CASES_DAY,
    )  # fmt: skip
    [event] = events(desk.app, "promise.recorded")
    assert event.actor == "cora.collector" and event.via["channel"] == "web"
    page = cora.get(done.headers["location"]).text
    assert "Promise recorded" in page and "wait for EUR 4,000.00 promised by 2026-12-15" in page
    assert worklist_codes(cora.get("/worklist?promise=week").text) == []
    assert worklist_codes(cora.get("/worklist?promise=open").text) == ["C-1007"]


def test_a_dispute_is_opened_and_resolved_on_the_customers_own_invoice(desk: Workspace) -> None:
    cora = desk.client("cora.collector")
    page = cora.get("/cases/C-1007").text
    invoice = re.search(r'<option value="(INV-1007-[^"]+)"', page).group(1)
    foreign = post(cora, "/cases/C-1007/dispute", invoice="INV-1005-001", reason="wrong")
    assert foreign.status_code == 400 and "C-1007 has no invoice" in foreign.text
    empty = post(cora, "/cases/C-1007/dispute", invoice=invoice, reason=" ")
    assert empty.status_code == 400 and "the dispute&#39;s reason is required" in empty.text
    assert rows(desk.app, Dispute) == []

    weather = post(cora, "/cases/C-1007/dispute", invoice=invoice, reason="x",
                   dispute_code="weather")  # fmt: skip
    assert weather.status_code == 400 and "the dispute code &#39;weather&#39;" in weather.text
    assert rows(desk.app, Dispute) == []

    opened = post(cora, "/cases/C-1007/dispute", invoice=invoice, reason="goods damaged",
                  dispute_code="quality", owner="sam.sales", due="2026-12-20")  # fmt: skip
    assert opened.status_code == 303
    [d] = rows(desk.app, Dispute)
    assert (d.opened_by, d.reason, d.resolved_on) == ("cora.collector", "goods damaged", None)
    [terms] = rows(desk.app, DisputeTerms)
    assert (terms.code, terms.owner, terms.due_on) == ("quality", "sam.sales", date(2026, 12, 20))
    assert "quality; sam.sales; due 2026-12-20" in cora.get("/cases/C-1007").text
    [event] = events(desk.app, "dispute.opened")
    assert (event.actor, event.entity_id, event.via["channel"]) == (
        "cora.collector",
        invoice,
        "web",
    )
    assert "disputed</span>" in cora.get("/cases/C-1007").text

    resolved = post(cora, "/cases/C-1007/resolve", invoice=invoice, note="credit note CN-7")
    assert resolved.status_code == 303
    [d] = rows(desk.app, Dispute)
    assert (d.resolved_by, d.resolved_on, d.resolution) == (
        "cora.collector", CASES_DAY, "credit note CN-7",
    )  # fmt: skip
    assert events(desk.app, "dispute.resolved")[0].actor == "cora.collector"
    again = post(cora, "/cases/C-1007/resolve", invoice=invoice, note="twice")
    assert again.status_code == 400 and "has no open dispute" in again.text


def test_a_call_is_logged_and_an_order_is_checked(desk: Workspace) -> None:
    cora = desk.client("cora.collector")
    logged = post(cora, "/cases/C-1009/note", kind="call", note="<b>CFO</b> promises a plan")
    assert logged.status_code == 303
    [n] = rows(desk.app, CollectionNote)
    assert (n.kind, n.logged_by, n.note) == ("call", "cora.collector", "<b>CFO</b> promises a plan")
    assert events(desk.app, "worklist.call")[0].via["channel"] == "web"
    page = cora.get("/cases/C-1009").text
    assert "&lt;b&gt;CFO&lt;/b&gt; promises a plan" in page and "<b>CFO" not in page
    assert "call by cora.collector" in cora.get("/worklist").text
    assert post(cora, "/cases/C-1009/note", kind="chat", note="x").status_code == 400

    held = cora.get("/cases/C-1005", params={"order_amount": "1000", "order_currency": "EUR"})
    assert held.status_code == 200 and "Hold: the order may not ship on credit." in held.text
    assert "credit line is on hold (dunning:credit_hold:EUR)" in held.text
    assert "invoice INV-1005" in held.text and "days overdue (policy allows 30)" in held.text
    no_line = cora.get("/cases/C-1007", params={"order_amount": "50"})
    assert "no credit line: prepayment or cash in advance only" in no_line.text
    services.exempt_customer(
        desk.app, customer_code="C-1007", until=CASES_DAY, basis="prepaid", reason="paid ahead",
        by="carla.manager", as_of=CASES_DAY,
    )  # fmt: skip
    exempt = cora.get("/cases/C-1007", params={"order_amount": "50"})
    assert "Allow: the order may ship on credit." in exempt.text
    assert (
        f"Exempt until {CASES_DAY.isoformat()} (prepaid, by carla.manager); it would have held "
        "for:" in exempt.text
    )
    assert "no credit line: prepayment or cash in advance only" in exempt.text
    bad = cora.get("/cases/C-1007", params={"order_amount": "-5"})
    assert bad.status_code == 400 and "must not be negative" in bad.text
    assert cora.get("/cases/C-9999").status_code == 404


def test_holds_follow_the_policy_and_a_dunning_hold_is_released_by_a_manager(
    desk: Workspace,
) -> None:
    cora, carla = desk.client("cora.collector"), desk.client("carla.manager")
    page = cora.get("/cases/C-1005").text
    assert "only a credit manager may release it" in page and 'id="release-hold"' not in page
    refused = post(cora, "/cases/C-1005/release", reason="customer called")
    assert refused.status_code == 400 and "only a credit manager may release it" in refused.text
    assert line_of(desk.app, "C-1005").status == "on_hold"

    assert 'id="release-hold"' in carla.get("/cases/C-1005").text
    released = post(carla, "/cases/C-1005/release", reason="payment plan agreed with the CFO")
    assert released.status_code == 303 and line_of(desk.app, "C-1005").status == "active"
    [event] = events(desk.app, "credit_line.release")[-1:]
    assert (event.actor, event.via["channel"]) == ("carla.manager", "web")
    assert event.before["status"] == "on_hold" and event.after["status"] == "active"

    # overdue beyond the tolerance and the policy holds lines: a collector may hold it by hand
    placed = post(cora, "/cases/C-1005/hold", reason="promise broken twice")
    assert placed.status_code == 303
    line = line_of(desk.app, "C-1005")
    assert (line.status, line.hold_reason) == (
        "on_hold",
        "manual:cora.collector: promise broken twice",
    )
    [event] = events(desk.app, "credit_line.hold")[-1:]
    assert (event.actor, event.before["status"], event.after["status"]) == (
        "cora.collector", "active", "on_hold",
    )  # fmt: skip
    again = post(cora, "/cases/C-1005/hold", reason="again")
    assert again.status_code == 400 and "the credit line is on hold already" in again.text
    assert post(cora, "/cases/C-1005/release", reason="paid in cash").status_code == 303
    assert line_of(desk.app, "C-1005").status == "active"
    no_line = post(cora, "/cases/C-1007/hold", reason="unreachable")
    assert no_line.status_code == 400 and "there is no credit line to hold" in no_line.text


def test_a_failed_notice_is_resent_and_a_sent_one_is_not(desk: Workspace) -> None:
    with desk.app.uow() as uow:
        s = uow.session
        cid = s.exec(select(Customer.id).where(Customer.code == "C-1007")).one()
        mine, other = (
            s.exec(select(Notice).where(Notice.customer_id == c).order_by(col(Notice.id))).first()
            for c in (cid, cid + 2)
        )
        mine.status, mine.attempts, mine.last_error = "failed", 5, "550 mailbox unavailable"
        s.add(mine)
        uow.commit()
        mine_id, other_id = mine.id, other.id
    cora = desk.client("cora.collector")
    page = cora.get("/cases/C-1007").text
    assert "550 mailbox unavailable" in page and f'id="resend-{mine_id}"' in page
    assert f'href="/customers/C-1007/notices/{mine_id}"' in page
    foreign = post(cora, f"/cases/C-1007/notices/{other_id}/resend", reason="fixed")
    assert foreign.status_code == 400 and f"C-1007 has no notice #{other_id}" in foreign.text
    done = post(cora, f"/cases/C-1007/notices/{mine_id}/resend", reason="address corrected")
    assert done.status_code == 303
    with desk.app.uow() as uow:
        assert uow.session.get(Notice, mine_id).status == "pending"
    [event] = events(desk.app, "notice.retry")
    assert (event.actor, event.reason) == ("cora.collector", "address corrected")
    twice = post(cora, f"/cases/C-1007/notices/{mine_id}/resend", reason="again")
    assert twice.status_code == 400 and "only failed notices can be retried" in twice.text


@pytest.mark.slow
def test_a_collector_works_a_case_in_the_browser(desk: Workspace, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "customer_code,name,role,email,phone,dunning,cc\n"
        "C-1007,Rita Rowe,Accounts payable,rita@bricks.example,+44 20 7946 0000,yes,\n"
        "C-1007,Cy Clerk,Controller,cy@bricks.example,,,yes\n"
    )
    services.import_data(
        desk.app, kind="contacts", path=contacts, actor="carla.manager", dry_run=False
    )
    with browser_page(desk.base, "cora.collector") as page:
        page.goto("/worklist")
        page.screenshot(path=str(tmp_path / "worklist.png"), full_page=True)
        assert "Priority = " in page.inner_text("#priority-rule")
        page.click("text=C-1007 Crumbling Bricks Ltd")
        page.wait_for_url("**/cases/C-1007")
        assert "Rita Rowe, rita@bricks.example, +44 20 7946 0000 dunning contact" in (
            page.inner_text(".contact >> nth=0")
        )
        assert page.inner_text("#dunning-to") == "to rita@bricks.example, cc cy@bricks.example"
        page.fill("#promise-amount", "25000.00")
        page.fill("#promise-date", "2026-12-20")
        page.fill("#promise-note", "first half before Christmas")
        page.click("#record-promise")
        assert "is more than that" in page.inner_text("#promise-error")
        page.screenshot(path=str(tmp_path / "refused.png"), full_page=False)
        assert page.input_value("#promise-note") == "first half before Christmas"
        page.fill("#promise-amount", "2500.00")
        page.click("#record-promise")
        page.wait_for_url("**/cases/C-1007?done=promise*")
        assert "Promise recorded" in page.inner_text("#done")
        page.select_option("#dispute-invoice", index=0)
        invoice = page.input_value("#dispute-invoice")
        page.fill("#dispute-reason", "delivery incomplete")
        page.select_option("#dispute-code", "delivery")
        page.select_option("#dispute-owner", "sam.sales")
        page.click("#open-dispute")
        page.wait_for_url("**/cases/C-1007?done=dispute*")
        assert "Dispute opened" in page.inner_text("#done")
        page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/cases/C-1007")
        page.screenshot(path=str(tmp_path / "case-phone.png"), full_page=False)
    [p] = rows(desk.app, PaymentPromise)
    assert (p.amount, p.recorded_by) == (Decimal("2500.00"), "cora.collector")
    [d] = rows(desk.app, Dispute)
    assert (d.opened_by, d.reason) == ("cora.collector", "delivery incomplete")
    [terms] = rows(desk.app, DisputeTerms)
    assert (terms.code, terms.owner) == ("delivery", "sam.sales")
    assert events(desk.app, "dispute.opened")[0].entity_id == invoice
