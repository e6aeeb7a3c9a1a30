"""The operator's pages: the overview (service, follow-ups, scheduled runs), the outbox and its
retry, the audit trail and its verification, the accounts. A notice fails for real: a mail
server on loopback (aiosmtpd) refuses its recipient for good."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import delete, select

from credit import audit, notices
from credit.app import App
from credit.db.models import AuditEvent, Customer, Notice, NoticeStatus
from credit.db.models_web import UserAccount
from credit.services import service_state
from tests.integration.test_audit import tamper
from tests.integration.test_notices import CTX, free_port
from tests.web.conftest import PASSWORD, Workspace, browser_page, csrf_of, sign_in

NEW_PASSWORD = "a brand new passphrase 2026"


class Refusing:
    """A mail server that refuses every recipient for good (550)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return "550 5.1.1 no such mailbox here"


def failed_notice(app: App, key: str = "assessment-ready:ops") -> int:
    """A notice to customer C-1001 that the mail server refused for good; its id."""
    from aiosmtpd.controller import Controller

    with app.uow() as uow:
        customer = uow.session.exec(select(Customer).where(Customer.code == "C-1001")).one()
        n, _ = notices.enqueue(
            uow.session,
            app.renderer,
            key=key,
            kind="assessment_ready",
            locale="en",
            recipients=["ap@customer.example"],
            context=CTX,
            customer_id=customer.id,
        )
        uow.commit()
        nid = int(n.id)
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = notices.SmtpTransport(
            host="127.0.0.1", port=port, user=None, password=None, starttls=False, timeout=5
        )
        report = notices.deliver_pending(
            app.engine, transport, mail_from=app.settings.mail_from, notice_ids=[nid]
        )
    finally:
        controller.stop()
    assert report.failed_ids == [nid]
    return nid


def notice(app: App, nid: int) -> Notice:
    with app.uow(read_only=True) as uow:
        return uow.session.get(Notice, nid)


def events(app: App, action: str) -> list[AuditEvent]:
    with app.uow(read_only=True) as uow:
        return list(uow.session.exec(select(AuditEvent).where(AuditEvent.action == action)))


# ------------------------------------------------------------------------------------ outbox


def test_the_outbox_lists_a_failed_notice_and_retry_puts_it_back(workspace: Workspace):
    app = workspace.app
    nid = failed_notice(app)
    olga = workspace.client("olga.operator")
    page = olga.get("/operations/outbox?status=failed")
    assert page.status_code == 200
    assert f'value="{nid}"' in page.text and "C-1001" in page.text
    assert "550" in page.text and "no such mailbox" in page.text
    assert "Credit assessment ready" in page.text

    sent = olga.post(
        "/operations/outbox/retry",
        data={"csrf": csrf_of(page.text), "notice_id": [str(nid)], "reason": "mailbox fixed"},
    )
    assert sent.status_code == 303
    row = notice(app, nid)
    assert (row.status, row.attempts) == (NoticeStatus.PENDING, 0)
    [event] = events(app, "notice.retry")
    assert (event.actor, event.entity_id, event.reason) == (
        "olga.operator",
        str(nid),
        "mailbox fixed",
    )
    assert event.via["channel"] == "web" and event.via["method"] == "password"

    shown = olga.get(sent.headers["location"])
    assert "1 notice back in the outbox: #" + str(nid) in shown.text
    assert f"<td>{nid}</td>" not in shown.text  # no longer among the failed
    waiting = olga.get("/operations/outbox?status=waiting")
    assert f"<td>{nid}</td>" in waiting.text


def test_a_retry_is_refused_without_a_ticked_notice_a_reason_a_failed_one_or_the_role(
    workspace: Workspace,
):
    app = workspace.app
    nid = failed_notice(app)
    olga = workspace.client("olga.operator")
    csrf = csrf_of(olga.get("/operations/outbox").text)

    nothing = olga.post("/operations/outbox/retry", data={"csrf": csrf, "reason": "fixed"})
    assert nothing.status_code == 400 and "tick the failed notices" in nothing.text
    assert "fixed</textarea>" in nothing.text  # what was typed stays

    no_reason = olga.post(
        "/operations/outbox/retry", data={"csrf": csrf, "notice_id": [str(nid)], "reason": " "}
    )
    assert no_reason.status_code == 400 and "what was fixed" in no_reason.text
    assert notice(app, nid).status == NoticeStatus.FAILED

    olga.post(
        "/operations/outbox/retry", data={"csrf": csrf, "notice_id": [str(nid)], "reason": "ok"}
    )
    again = olga.post(
        "/operations/outbox/retry", data={"csrf": csrf, "notice_id": [str(nid)], "reason": "ok"}
    )
    assert again.status_code == 400 and "only failed notices can be retried" in again.text
    assert len(events(app, "notice.retry")) == 1

    # a credit manager reads the outbox but retries nothing; a collector sees none of it
    nid = failed_notice(app, "assessment-ready:ops-2")
    carla = workspace.client("carla.manager")
    page = carla.get("/operations/outbox")
    assert page.status_code == 200 and "no such mailbox" in page.text
    assert 'name="notice_id"' not in page.text
    refused = carla.post(
        "/operations/outbox/retry",
        data={"csrf": csrf_of(page.text), "notice_id": [str(nid)], "reason": "x"},
    )
    assert refused.status_code == 403
    assert carla.get("/operations").status_code == 403
    cora = workspace.client("cora.collector")
    for path in ("/operations", "/operations/outbox", "/operations/audit", "/operations/users"):
        assert cora.get(path).status_code == 403, path
    assert notice(workspace.app, nid).status == NoticeStatus.FAILED


# ---------------------------------------------------------------------------------- overview


def test_the_overview_says_what_runs_and_what_waits(workspace: Workspace, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    failed_notice(workspace.app)
    olga = workspace.client("olga.operator")
    page = olga.get("/operations")
    assert page.status_code == 200
    assert "not running" in page.text and "credit serve" in page.text
    assert "No Prefect server is reachable" in page.text
    assert 'id="tile-failed"><div class="n">1</div>' in page.text

    # a service that says its Prefect server is on this machine, but nothing listens there
    instance = service_state.register(
        workspace.app, prefect_url=f"http://127.0.0.1:{free_port()}/api", web_url=workspace.base
    )
    try:
        page = olga.get("/operations")
        assert "running</span>" in page.text and workspace.base in page.text
        assert "No Prefect server is reachable at http://127.0.0.1:" in page.text
    finally:
        service_state.sign_off(workspace.app, instance)


# ----------------------------------------------------------------------------------- audit


def test_the_audit_trail_shows_how_each_actor_acted_and_verifies_its_chain(
    workspace: Workspace,
):
    app = workspace.app
    with app.uow() as uow:  # more than a page of events
        for i in range(60):
            audit.record(
                uow.session, actor="test", action="test.step", entity_type="t", entity_id=str(i)
            )
        uow.commit()
    olga = workspace.client("olga.operator")
    page = olga.get("/operations/audit")
    assert page.status_code == 200
    assert "session.signed_in" in page.text and "web (password)" in page.text
    newest = page.text.split("<tbody>")[1]
    assert "t:59" in newest and "t:5<" not in newest
    older = olga.get(
        re.search(r'id="older" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    )
    assert "t:5<" in older.text and "t:59" not in older.text

    verified = olga.post("/operations/audit/verify", data={"csrf": csrf_of(page.text)})
    assert verified.status_code == 200
    assert "Intact:" in verified.text and "every link and hash checks out" in verified.text

    about = olga.get("/operations/audit?entity=olga.operator")
    assert "session.signed_in" in about.text and "import" not in about.text.split("<tbody>")[1]

    tamper(app, "UPDATE audit_event SET reason = 'nothing to see' WHERE id = 3")
    broken = olga.post("/operations/audit/verify", data={"csrf": csrf_of(page.text)})
    assert "Broken at event 3" in broken.text and "edited" in broken.text


# ------------------------------------------------------------------------------------ users


def test_an_operator_adds_an_account_with_a_first_password_typed_twice(workspace: Workspace):
    app = workspace.app
    with app.uow() as uow:  # sam has no account yet
        uow.session.exec(delete(UserAccount).where(UserAccount.username == "sam.sales"))
        uow.commit()
    olga = workspace.client("olga.operator")
    page = olga.get("/operations/users")
    assert '<option value="sam.sales"' in page.text.split('id="add"')[1].split("</section>")[0]
    csrf = csrf_of(page.text)

    differ = olga.post(
        "/operations/users/add",
        data={
            "csrf": csrf,
            "username": "sam.sales",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD + "x",
        },
    )
    assert differ.status_code == 400 and "the two passwords differ" in differ.text
    assert NEW_PASSWORD not in differ.text
    short = olga.post(
        "/operations/users/add",
        data={
            "csrf": csrf,
            "username": "sam.sales",
            "password": "short",
            "password_again": "short",
        },
    )
    assert short.status_code == 400 and "at least 12 characters" in short.text

    added = olga.post(
        "/operations/users/add",
        data={
            "csrf": csrf,
            "username": "sam.sales",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    assert added.status_code == 303
    assert "sam.sales has an account" in olga.get(added.headers["location"]).text
    [event] = [e for e in events(app, "user.added") if e.entity_id == "sam.sales" and e.via]
    assert event.actor == "olga.operator" and event.via["channel"] == "web"
    sam = workspace.client()
    sign_in(sam, "sam.sales", NEW_PASSWORD)
    assert sam.get("/").status_code == 200
    with app.uow(read_only=True) as uow:
        trail = [e.model_dump_json() for e in uow.session.exec(select(AuditEvent))]
    assert not any(NEW_PASSWORD in e or PASSWORD in e for e in trail)


def test_disabling_or_resetting_an_account_ends_its_sessions_at_once(workspace: Workspace):
    app = workspace.app
    cora = workspace.client("cora.collector")
    assert cora.get("/").status_code == 200
    olga = workspace.client("olga.operator")
    csrf = csrf_of(olga.get("/operations/users").text)

    no_reason = olga.post(
        "/operations/users/disable", data={"csrf": csrf, "username": "cora.collector"}
    )
    assert no_reason.status_code == 400 and "a reason" in no_reason.text
    assert cora.get("/").status_code == 200

    disabled = olga.post(
        "/operations/users/disable",
        data={"csrf": csrf, "username": "cora.collector", "reason": "left the team"},
    )
    assert disabled.status_code == 303
    shown = olga.get(disabled.headers["location"]).text
    assert "cora.collector is disabled: 1 open session ended" in shown
    gone = cora.get("/worklist")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")
    [event] = events(app, "user.disabled")
    assert (event.actor, event.reason, event.via["channel"]) == (
        "olga.operator",
        "left the team",
        "web",
    )

    data = {"csrf": csrf, "username": "cora.collector", "reason": "back in the team"}
    differ = olga.post(
        "/operations/users/reset-password",
        data={**data, "password": NEW_PASSWORD, "password_again": "something else entirely"},
    )
    assert differ.status_code == 400 and "back in the team" in differ.text
    reset = olga.post(
        "/operations/users/reset-password",
        data={**data, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert reset.status_code == 303
    again = workspace.client()
    sign_in(again, "cora.collector", NEW_PASSWORD)
    assert again.get("/").status_code == 200
    [event] = events(app, "user.password_reset")
    assert event.actor == "olga.operator" and NEW_PASSWORD not in event.model_dump_json()


# ------------------------------------------------------------------ Prefect (a real server)


def _api(url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_the_overview_shows_each_schedule_with_its_last_result(
    workspace: Workspace, prefect_api_url: str, monkeypatch
):
    monkeypatch.setenv("PREFECT_API_URL", prefect_api_url)
    flow = _api(prefect_api_url, "flows/", {"name": "ops-page-collections"})
    deployment = _api(
        prefect_api_url,
        "deployments/",
        {
            "name": "ops-daily",
            "flow_id": flow["id"],
            "schedules": [
                {"schedule": {"cron": "0 6 * * *", "timezone": "Europe/Berlin"}, "active": True}
            ],
        },
    )
    _api(
        prefect_api_url,
        f"deployments/{deployment['id']}/create_flow_run",
        {"state": {"type": "FAILED", "name": "Failed", "message": "the ledger was locked"}},
    )
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    _api(
        prefect_api_url,
        f"deployments/{deployment['id']}/create_flow_run",
        {
            "state": {
                "type": "SCHEDULED",
                "name": "Scheduled",
                "state_details": {"scheduled_time": later},
            }
        },
    )
    page = workspace.client("olga.operator").get("/operations")
    assert page.status_code == 200
    table = page.text.split('id="schedule-table"')[1].split("</table>")[0]
    assert "ops-page-collections/ops-daily" in table and "cron 0 6 * * * (Europe/Berlin)" in table
    assert "Failed" in table and "the ledger was locked" in table
    ui = prefect_api_url.removesuffix("/api")
    assert f'href="{ui}"' in page.text
    assert f"{ui}/deployments/deployment/{deployment['id']}" in table


# ------------------------------------------------------------------------------ the journey


@pytest.mark.slow
def test_the_operator_retries_a_failed_notice_and_verifies_the_audit_chain(
    workspace: Workspace, tmp_path
):
    nid = failed_notice(workspace.app)
    with browser_page(workspace.base, "olga.operator") as page:
        page.click("text=Operations")
        page.wait_for_url("**/operations")
        assert "failed notices" in page.inner_text("#content")
        page.screenshot(path=str(tmp_path / "operations.png"), full_page=True)
        page.click("#tile-failed")
        assert "no such mailbox" in page.inner_text("#notices")
        page.check(f"#pick-{nid}")
        page.fill("#reason", "the customer's mailbox is fixed")
        page.screenshot(path=str(tmp_path / "outbox.png"), full_page=True)
        page.click("#retry")
        assert f"#{nid}" in page.inner_text("#retried")
        page.click("nav[aria-label=Operations] >> text=Audit trail")
        assert "notice.retry" in page.inner_text("#events")
        page.click("#verify")
        assert "Intact" in page.inner_text("#verified")
        page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
        page.click("nav[aria-label=Operations] >> text=Users")
        page.screenshot(path=str(tmp_path / "users.png"), full_page=True)
    row = notice(workspace.app, nid)
    assert row.status == NoticeStatus.PENDING
    [event] = events(workspace.app, "notice.retry")
    assert event.actor == "olga.operator" and event.via["channel"] == "web"
    print(f"screenshots in {tmp_path}")
