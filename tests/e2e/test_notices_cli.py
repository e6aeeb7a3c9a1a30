"""The company's details on customer letters, and what `credit notices deliver` reports: real
`credit` processes, a real SQLite file, a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from credit.app import App
from credit.db.models import AuditEvent, Notice
from credit.notices import local_time
from credit.settings import Settings
from tests.conftest import TEST_COMPANY
from tests.integration.test_notices import Inbox, free_port

OLD_EXAMPLE = {  # what .env.example and the code used to ship, copied into many a .env
    "CREDIT_COMPANY_NAME": "Example Trading GmbH",
    "CREDIT_COMPANY_ADDRESS": "Example Trading GmbH | Hafenstrasse 1 | 20457 Hamburg | Germany",
    "CREDIT_COMPANY_CONTACT": "credit@example.com | +49 40 1234 5670",
    "CREDIT_COMPANY_PAYMENT_DETAILS": "IBAN DE89 3704 0044 0532 0130 00 | BIC COBADEFFXXX",
}


def _app(cli) -> App:
    return App(Settings.load(env_file=None, environ={**TEST_COMPANY, **cli.env}))


def _queue(cli, *rows: tuple[str, str, str]) -> None:
    """Notices already in the outbox (key, kind, recipient), as a run left them."""
    app = _app(cli)
    with app.uow() as uow:
        for key, kind, to in rows:
            uow.session.add(
                Notice(idempotency_key=key, kind=kind, locale="en", recipients=[to],
                       subject=f"{kind} {key}", text="text", html="<p>html</p>")
            )  # fmt: skip
        uow.commit()
    app.engine.dispose()


def _outbox(cli) -> dict[str, Notice]:
    app = _app(cli)
    with app.uow() as uow:
        rows = {n.idempotency_key: n for n in uow.session.exec(select(Notice))}
    app.engine.dispose()
    return rows


@pytest.mark.parametrize("company", ["unset", "the old example"])
def test_init_and_serve_refuse_without_the_company_settings_naming_each_and_create_nothing(
    cli, company
):
    for key in TEST_COMPANY:
        cli.env.pop(key)
    if company == "the old example":
        cli.env.update(OLD_EXAMPLE)
    for command in ("init", "serve"):
        proc = cli(command, expect=2)
        assert proc.stderr.startswith(f"error: credit {command}: customer letters and notices")
        for key in TEST_COMPANY:
            assert key in proc.stderr
        assert ".env or the environment" in proc.stderr and "Traceback" not in proc.stderr
    assert not (cli.path / "credit.db").exists()


def test_init_with_an_invalid_iban_refuses_naming_the_setting_the_value_and_why(cli):
    cli.env["CREDIT_COMPANY_PAYMENT_DETAILS"] = "IBAN DE02 1203 0000 0000 2020 52 | BIC BYLADEM1001"
    proc = cli("init", expect=2)
    assert proc.stderr.strip() == (
        "error: CREDIT_COMPANY_PAYMENT_DETAILS: value 'DE02 1203 0000 0000 2020 52' is not a "
        "valid IBAN: invalid checksum digits"
    )
    assert not (cli.path / "credit.db").exists()


def test_init_warns_once_that_links_point_at_this_machine_without_a_web_base_url(cli):
    warned = cli("init")
    assert warned.stderr.count("warning:") == 1
    assert "CREDIT_WEB_BASE_URL is not set" in warned.stderr
    assert "http://127.0.0.1:8765 (only reachable from this machine)" in warned.stderr
    cli.env["CREDIT_WEB_BASE_URL"] = "https://credit.example.org"
    cli.env["CREDIT_DATABASE_URL"] = f"sqlite:///{cli.path / 'other.db'}"
    assert "warning" not in cli("init").stderr


def test_delivery_holds_a_queued_customer_notice_while_the_company_settings_are_missing(cli):
    cli("init")
    _queue(
        cli,
        ("dunning:C-1:EUR:e1:l1", "dunning_reminder", "ap@customer.example"),
        ("hold-released:C-1:EUR:e1:customer", "credit_hold_released", "ap@customer.example"),
        ("hold-released:C-1:EUR:e1:internal", "credit_hold_released", "sales@example.com"),
        ("assessment-ready:7", "assessment_ready", "ben@example.com"),
    )
    for key in TEST_COMPANY:
        cli.env.pop(key)
    held = cli("notices", "deliver")
    assert "sent 2," in held.stdout
    assert "2 notices to customers not sent" in held.stdout
    assert "CREDIT_COMPANY_PAYMENT_DETAILS (not set)" in held.stdout
    rows = _outbox(cli)
    for key in ("dunning:C-1:EUR:e1:l1", "hold-released:C-1:EUR:e1:customer"):
        assert (rows[key].status, rows[key].attempts, rows[key].last_error) == ("pending", 0, None)
    for key in ("hold-released:C-1:EUR:e1:internal", "assessment-ready:7"):
        assert rows[key].status == "sent"
    assert cli.json("notices", "deliver")["held"] == 2  # still held, nothing spent

    cli.env.update(TEST_COMPANY)
    sent = cli("notices", "deliver")
    assert "sent 2," in sent.stdout and "not sent" not in sent.stdout
    assert {n.status for n in _outbox(cli).values()} == {"sent"}


def test_after_a_mail_server_outage_deliver_reports_the_waiting_notices_and_can_send_them_now(cli):
    port = free_port()  # nothing listens here yet: the mail server is down
    cli.env.update(
        CREDIT_SMTP_HOST="127.0.0.1",
        CREDIT_SMTP_PORT=str(port),
        CREDIT_SMTP_TIMEOUT="5",
        CREDIT_DELIVERY_RETRY_SECONDS="900",
        CREDIT_TIMEZONE="America/New_York",
    )
    cli("init")
    _queue(
        cli,
        ("assessment-ready:1", "assessment_ready", "ben@example.com"),
        ("assessment-ready:2", "assessment_ready", "carla@example.com"),
    )
    down = cli("notices", "deliver")
    assert "sent 0, retrying later 2," in down.stdout
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()  # the server is back
    try:
        first = min(n.claimed_until for n in _outbox(cli).values())
        due = local_time(first, ZoneInfo("America/New_York"))
        assert due.endswith((" EST", " EDT"))
        back = cli("notices", "deliver")
        assert "sent 0, retrying later 0," in back.stdout
        assert (
            f"2 notices wait for a retry; the next attempt is due at {due}. To send them now: "
            "credit notices deliver --now --as USER"
        ) in back.stdout
        report = cli.json("notices", "deliver")
        assert (report["waiting"], report["sent"]) == (2, 0) and inbox.messages == []

        now = cli("notices", "deliver", "--now", "--as", "carla.manager")
        assert "2 waiting notices released to be sent now" in now.stdout and "sent 2," in now.stdout
        assert "wait for a retry" not in now.stdout
        assert len(inbox.messages) == 2
        assert {n.status for n in _outbox(cli).values()} == {"sent"}
    finally:
        server.stop()
    app = _app(cli)
    with app.uow() as uow:
        [event] = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "notice.retry_now")
        )
    app.engine.dispose()
    assert event.actor == "carla.manager" and event.after["due"] == 2
