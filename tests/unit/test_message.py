"""The outbox writes each message directly (no EmailMessage): what any mail reader gets back."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from credit.db.models import Notice
from credit.notices import build_message

SUBJECTS = [
    "Payment reminder: $4,283.48 overdue - customer no. B-000005",
    "Zahlungserinnerung: 14.800,00 € überfällig – Kunde Nr. C-1001 (Müller GmbH & Co. KG, Süd)",
    "付款提醒：逾期 NT$21,171.51 – 客戶編號 C-1012" * 3,
]


def _notice(subject: str, text: str = "Grüße,\nZeile zwei\n", html: str = "<p>ü &amp; ß</p>"):
    return Notice(
        id=42,
        idempotency_key="dunning:C-1:EUR:e1:l1",
        kind="dunning_reminder",
        locale="de",
        recipients=["ap@customer.example", "sales@example.com"],
        subject=subject,
        text=text,
        html=html,
        created_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_message_reads_back_exactly_and_keeps_its_lines_short(subject):
    raw = build_message(_notice(subject), mail_from="Credit Department <credit@example.com>")
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == subject
    assert msg["To"] == "ap@customer.example, sales@example.com"
    assert msg["X-Credit-Notice-Key"] == "dunning:C-1:EUR:e1:l1"
    assert msg["Message-ID"].startswith("<notice-42.") and msg["Message-ID"].endswith(
        "@example.com>"
    )
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == "Grüße,\nZeile zwei\n"
    assert msg.get_body(("html",)).get_content().strip() == "<p>ü &amp; ß</p>"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert raw.isascii()  # 7-bit clean: any relay accepts it


def test_a_long_line_is_soft_wrapped_and_comes_back_whole():
    long_line = "Rechnung " + "RE-0001, " * 40
    raw = build_message(_notice("x", text=long_line), mail_from="credit@example.com")
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_body(("plain",)).get_content() == long_line
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@pytest.mark.parametrize("field", ["subject", "recipients", "idempotency_key"])
def test_a_line_break_in_a_header_value_is_refused(field):
    notice = _notice("fine")
    value = "x\r\nBcc: everyone@example.com"
    setattr(notice, field, [value] if field == "recipients" else value)
    with pytest.raises(ValueError, match="line break"):
        build_message(notice, mail_from="credit@example.com")


def test_only_display_names_are_encoded_in_address_headers():
    raw = build_message(
        _notice("x"), mail_from="Müller Forderungsmanagement GmbH <ar@mueller.example>"
    )
    msg = email.message_from_bytes(raw, policy=policy.default)
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Müller Forderungsmanagement GmbH",
        "ar@mueller.example",
    )


def test_text_with_windows_line_ends_keeps_one_line_end_each():
    raw = build_message(_notice("x", text="eins\r\nzwei\r\n"), mail_from="credit@example.com")
    assert b"\r\r\n" not in raw
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "eins\nzwei\n"
