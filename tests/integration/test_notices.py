"""Rendering rules, the outbox's idempotency, .eml files and SMTP delivery to a real server."""

from __future__ import annotations

import email
import smtplib
import socket
import threading
import time
from decimal import Decimal
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from credit import notices
from credit.db.models import Notice, NoticeStatus
from credit.settings import Settings

CTX = {
    "customer": {"name": "Müller & <Söhne>", "code": "C1", "currency": "EUR"},
    "requested_by": "ben",
    "assessment": {
        "as_of": "2026-10-01",
        "rating": "B",
        "score": "70.00",
        "policy_version": 1,
        "recommended_limit": "25000.0000",
        "limit_basis": "policy cap",
        "terms_days": 45,
        "conditions": [],
        "review_months": 12,
        "factors": [
            {
                "label": "Current ratio",
                "value": "1.8",
                "band": "[1.5, 2)",
                "points": "80",
                "weight": "0.15",
                "weighted": "12.00",
            }
        ],
    },
}
CTX["assessment"].update(
    {
        "id": 7,
        "status": "complete",
        "analyst": "ben",
        "quantitative_score": "72.00",
        "qualitative_score": "64.00",
        "qualitative": {
            "factors": [
                {
                    "name": "management",
                    "label": "Management quality",
                    "score": "64",
                    "weight": "1",
                    "weighted": "64.00",
                }
            ],
            "comment": "solid <team>",
            "by": "ben",
            "carried_over_from": None,
        },
        "cleaning": {"fixes": [], "rejected": [], "flags": []},
        "signals": [],
        "requested_limit": None,
        "override_reason": "",
    }
)


def queue(app, key: str, ctx=CTX, kind: str = "assessment_ready") -> tuple[Notice, bool]:
    with app.uow() as uow:
        n, created = notices.enqueue(
            uow.session,
            app.renderer,
            key=key,
            kind=kind,
            locale="en",
            recipients=["ben.okafor@example.com"],
            context=ctx,
        )
        uow.commit()
        return n, created


def test_html_is_escaped_and_text_is_not(app):
    r = app.renderer.render("assessment_ready", "en", CTX)
    assert "Müller &amp; &lt;Söhne&gt;" in r.html
    assert "Müller & <Söhne>" in r.text
    assert r.subject == "Credit assessment ready: Müller & <Söhne> (C1) rated B"


def test_a_missing_variable_blocks_the_notice(app):
    broken = {k: v for k, v in CTX.items() if k != "requested_by"}
    with pytest.raises(notices.NoticeError, match="'requested_by' is undefined"):
        queue(app, "k-missing", broken)
    with app.uow() as uow:
        assert uow.session.exec(select(Notice)).all() == []


def test_locale_falls_back_to_language_then_english(app):
    assert app.renderer.render("assessment_ready", "pt_BR", CTX).subject.startswith(
        "Credit assessment ready"
    )
    # zh_Hant (underscore, as some systems write it) finds the zh-Hant templates.
    line = {"limit": Decimal("1000"), "currency": "EUR", "terms_days": 30, "conditions": [],
            "rating": "B", "status": "active", "hold_reason": "", "activated_on": "2026-10-01",
            "next_review_on": "2027-10-01", "policy_version": 1}  # fmt: skip
    customer = {"code": "C-1", "name": "N", "email": "a@b.example", "country": "TW",
                "currency": "EUR", "sales_owner_email": "s@b.example", "locale": "zh_Hant",
                "postal_address": []}  # fmt: skip
    ctx = {"customer": customer, "line": line, "as_of": "2026-10-01", "currency": "EUR"}
    zh = app.renderer.render("credit_hold_released", "zh_Hant", ctx)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.subject)


def test_the_same_key_is_queued_once(app):
    first, created = queue(app, "assessment-ready:1")
    again, created_again = queue(app, "assessment-ready:1")
    assert created and not created_again
    assert first.id == again.id


def test_file_delivery_writes_a_multipart_eml_with_a_stable_message_id(app):
    n, _ = queue(app, "assessment-ready:2")
    report = notices.deliver_pending(
        app.engine, notices.FileTransport(app.settings.outbox_dir), mail_from=app.settings.mail_from
    )
    assert report.sent == 1
    files = list(app.settings.outbox_dir.glob("*.eml"))
    assert len(files) == 1
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email_policy.default)
    assert msg["Subject"].startswith("Credit assessment ready")
    assert msg["Message-ID"].startswith(f"<notice-{n.id}.")
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    # a second delivery pass finds nothing to send and writes nothing new
    again = notices.deliver_pending(
        app.engine, notices.FileTransport(app.settings.outbox_dir), mail_from=app.settings.mail_from
    )
    assert again.sent == 0
    assert len(list(app.settings.outbox_dir.glob("*.eml"))) == 1


class Inbox:
    def __init__(self, fail_first: int = 0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return "451 4.3.0 try again later"
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email_policy.default)
            )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    handlers: list[Controller] = []

    def start(inbox: Inbox) -> int:
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        handlers.append(controller)
        return port

    yield start
    for c in handlers:
        c.stop()


def smtp_transport(port: int) -> notices.SmtpTransport:
    return notices.SmtpTransport(
        host="127.0.0.1", port=port, user=None, password=None, starttls=False, timeout=10
    )


def test_smtp_delivery_to_a_real_server_sends_each_notice_once(app, smtp_server):
    inbox = Inbox()
    port = smtp_server(inbox)
    ids = [queue(app, f"assessment-ready:{i}")[0].id for i in range(5)]
    report = notices.deliver_pending(
        app.engine, smtp_transport(port), mail_from=app.settings.mail_from
    )
    again = notices.deliver_pending(
        app.engine, smtp_transport(port), mail_from=app.settings.mail_from
    )
    assert (report.sent, again.sent) == (5, 0)
    assert len(inbox.messages) == 5
    assert {m["X-Credit-Notice-Key"] for m in inbox.messages} == {
        f"assessment-ready:{i}" for i in range(5)
    }
    with app.uow() as uow:
        rows = uow.session.exec(select(Notice).where(Notice.id.in_(ids))).all()
    assert {r.status for r in rows} == {NoticeStatus.SENT}
    assert all(r.delivered_to == f"smtp://127.0.0.1:{port}" for r in rows)


def test_smtp_temporary_refusal_is_retried_later_not_lost(app, smtp_server):
    inbox = Inbox(fail_first=1)
    port = smtp_server(inbox)
    n, _ = queue(app, "assessment-ready:retry")
    first = notices.deliver_pending(
        app.engine, smtp_transport(port), mail_from=app.settings.mail_from
    )
    assert (first.sent, first.retried) == (0, 1)
    with app.uow() as uow:
        row = uow.session.get(Notice, n.id)
        assert row.status == NoticeStatus.PENDING and "451" in row.last_error
        row.claimed_until = None  # the backoff has passed
        uow.session.add(row)
        uow.commit()
    second = notices.deliver_pending(
        app.engine, smtp_transport(port), mail_from=app.settings.mail_from
    )
    assert second.sent == 1
    assert len(inbox.messages) == 1


def test_settings_with_smtp_host_deliver_over_smtp(app, smtp_server, monkeypatch):
    inbox = Inbox()
    port = smtp_server(inbox)
    monkeypatch.setenv("CREDIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CREDIT_SMTP_PORT", str(port))
    transport = notices.transport_for(Settings.load())
    assert isinstance(transport, notices.SmtpTransport)
    queue(app, "assessment-ready:settings")
    notices.deliver_pending(app.engine, transport, mail_from="Credit <credit@acme.example>")
    deadline = time.monotonic() + 5
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inbox.messages[0]["Message-ID"].endswith("@acme.example>")


@pytest.mark.parametrize(
    ("exc", "waits", "permanent"),
    [
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), True, False),
        (smtplib.SMTPSenderRefused(553, b"sender not allowed", "credit@example.com"), True, False),
        (smtplib.SMTPConnectError(554, b"no service"), True, False),
        (smtplib.SMTPServerDisconnected("gone"), True, False),
        (TimeoutError("timed out"), True, False),
        (smtplib.SMTPResponseException(421, b"closing"), True, False),
        (smtplib.SMTPRecipientsRefused({"a@b.example": (451, b"greylisted")}), False, False),
        (smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"no such user")}), False, True),
        (smtplib.SMTPDataError(451, b"busy"), False, False),
        (smtplib.SMTPDataError(554, b"rejected as spam"), False, True),
    ],
)
def test_smtp_errors_are_told_apart(exc, waits, permanent):
    """The server's or the session's failure makes a notice wait (no attempt spent); a 5xx for
    the message or every recipient fails it; anything else is retried with backoff."""
    assert notices.server_unavailable(exc) is waits
    assert notices.permanent(exc) is permanent or waits


def test_a_notice_smtplib_cannot_send_fails_alone_and_is_reported(app, smtp_server):
    inbox = Inbox()
    port = smtp_server(inbox)
    bad, _ = queue(app, "assessment-ready:umlaut")
    with app.uow() as uow:
        row = uow.session.get(Notice, bad.id)
        row.recipients = ["jürgen@müller.example"]  # smtplib cannot put this in RCPT TO
        uow.session.add(row)
        uow.commit()
    good, _ = queue(app, "assessment-ready:plain")
    report = notices.deliver_pending(
        app.engine, smtp_transport(port), mail_from=app.settings.mail_from
    )
    assert (report.sent, report.failed, report.failed_ids) == (1, 1, [bad.id])
    with app.uow() as uow:
        row = uow.session.get(Notice, bad.id)
    assert row.status == NoticeStatus.FAILED and "cannot be sent" in row.last_error
    assert [m["X-Credit-Notice-Key"] for m in inbox.messages] == ["assessment-ready:plain"]


def test_a_sender_that_outlived_its_lease_does_not_overwrite_the_next_ones_outcome(app):
    from datetime import timedelta

    from sqlmodel import Session

    n, _ = queue(app, "assessment-ready:lease")
    with Session(app.engine) as s:
        [(slow, again)] = notices.claim(s, notices.utcnow(), 1, None, lease=timedelta(0))
        # the lease is over: a second sender takes the notice over (and sends it)
        [(second, repeated)] = notices.claim(s, notices.utcnow() + timedelta(seconds=1), 1, None)
        assert (slow.id, slow.claim, again) == (n.id, 1, False)
        assert (second.id, second.claim, repeated) == (n.id, 2, True)
        slow.status, slow.last_error = NoticeStatus.PENDING, "late timeout"
        notices.mark(s, [slow])  # the first sender's late outcome
        s.commit()
        row = s.get(Notice, n.id)
        assert (row.status, row.attempts, row.last_error) == (
            NoticeStatus.SENDING,
            2,
            notices.INTERRUPTED,
        )


def test_a_template_printing_the_company_details_is_refused_while_they_are_not_configured(tmp_path):
    (tmp_path / "notices").mkdir()
    for fmt, body in (
        ("txt", '{% set subject = "Mahnung" %}Bitte zahlen an: {{ company.payment|join(", ") }}\n'),
        ("html", "<html><p>{{ company_name }}</p></html>"),
    ):
        (tmp_path / "notices" / f"mahnung.de.{fmt}.j2").write_text(body)
    missing = ["CREDIT_COMPANY_PAYMENT_DETAILS (not set)"]
    # a kind the renderer does not know as a customer's: what it prints decides
    with pytest.raises(notices.NoticeError, match=r"CREDIT_COMPANY_PAYMENT_DETAILS \(not set\)"):
        notices.NoticeRenderer(tmp_path, company_missing=missing).render("mahnung", "de", {})
    company = {"name": "Testfirma", "address": [], "contact": [], "payment": ["IBAN DE02"]}
    configured = notices.NoticeRenderer(tmp_path, company_name="Testfirma", company=company)
    r = configured.render("mahnung", "de", {})
    assert "Bitte zahlen an: IBAN DE02" in r.text and "Testfirma" in r.html


@pytest.fixture(params=["sqlite", "postgresql"])
def db_app(request, credit_env, monkeypatch):
    import contextlib

    from credit import services
    from credit.app import App
    from tests.conftest import scratch_postgres

    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


def test_delivery_holds_customer_notices_and_sends_waiting_ones_now_on_request(db_app):
    from datetime import UTC, datetime, timedelta

    from credit import services
    from credit.app import App

    later = datetime.now(UTC) + timedelta(hours=1)
    with db_app.uow() as uow:
        for key, kind, waits in (
            ("dunning:C-1:EUR:e1:l2", "dunning_second_notice", False),
            ("hold-released:C-1:EUR:e1:internal", "credit_hold_released", False),
            ("assessment-ready:1", "assessment_ready", True),  # waits out a retry delay
            ("dunning:C-2:EUR:e1:l1", "dunning_reminder", True),
        ):
            uow.session.add(
                Notice(idempotency_key=key, kind=kind, locale="en", recipients=["x@example.com"],
                       subject=key, text="t", html="<p>h</p>", attempts=int(waits),
                       claimed_until=later if waits else None)
            )  # fmt: skip
        uow.commit()
    unconfigured = App(Settings(**{**db_app.settings.__dict__, "company_payment_details": None}))
    report = services.deliver(unconfigured)
    assert (report["sent"], report["held"], report["waiting"]) == (1, 2, 1)
    assert "CREDIT_COMPANY_PAYMENT_DETAILS (not set)" in report["held_reason"]
    now = services.deliver(unconfigured, now=True, by="carla.manager")
    assert (now["released"], now["sent"], now["held"], now["waiting"]) == (1, 1, 2, 0)
    with db_app.uow() as uow:
        rows = {n.idempotency_key: n for n in uow.session.exec(select(Notice))}
    assert (rows["dunning:C-2:EUR:e1:l1"].claimed_until is not None) and all(
        (rows[k].status, rows[k].attempts) == ("pending", a)
        for k, a in (("dunning:C-1:EUR:e1:l2", 0), ("dunning:C-2:EUR:e1:l1", 1))
    )
    report = services.deliver(db_app)  # configured again: the held ones go (the waiting one waits)
    assert (report["sent"], report["held"], report["waiting"]) == (1, 0, 1)
