"""A notice as an RFC 5322 message (bytes), with its stable Message-ID."""

from __future__ import annotations

import base64
import binascii
import hashlib
from email.utils import formatdate, getaddresses, parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from credit.db.models import Notice

if TYPE_CHECKING:
    from credit.notices.claims import Outgoing


@lru_cache(maxsize=8)
def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].partition("@")[2] or "credit.local"


def message_id(notice: Any, mail_from: str) -> str:
    domain = _domain(mail_from)
    digest = hashlib.sha256(notice.idempotency_key.encode()).hexdigest()[:16]
    return f"<notice-{notice.id}.{digest}@{domain}>"


def _qp(text: str) -> bytes:
    """UTF-8, quoted-printable (C speed), CRLF line ends (whatever the text had)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _header(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:  # never let a value add headers (Bcc: ...)
        raise ValueError(f"header {name} contains a line break: {value!r}")
    if name in ("From", "To") and not value.isascii():
        # Only display names are encoded; the addresses stay as they are.
        return b",\r\n ".join(
            (_encoded_words(n) + b" <" + a.encode("utf-8") + b">") if n else a.encode("utf-8")
            for n, a in getaddresses([value])
        )
    if not value.isascii():
        return _encoded_words(value)
    return value.encode("ascii")


def _encoded_words(value: str) -> bytes:
    """RFC 2047: UTF-8 base64 words, folded so that no line passes 78 characters."""
    if value.isascii():
        return value.encode("ascii")
    words, chunk = [], b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 39:  # 39 bytes -> 52 base64 characters
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return b"\r\n ".join(b"=?utf-8?b?" + base64.b64encode(w) + b"?=" for w in words)


def header_value(message: bytes, name: bytes) -> str:
    head = message.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(name.lower() + b":"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""


def build_message(notice: Notice | Outgoing, *, mail_from: str) -> bytes:
    """The notice as an RFC 5322 message (bytes): text and HTML alternatives, UTF-8,
    quoted-printable, with the notice's stable Message-ID (a resend after a crash carries the same
    one, so mail systems can drop the copy). Written directly: a fixed shape needs no generator,
    and this is 10x faster than building an EmailMessage."""
    boundary = "==credit-" + hashlib.sha256(notice.idempotency_key.encode()).hexdigest()[:24]
    headers = [
        (b"From", _header("From", mail_from)),
        (b"To", _header("To", ", ".join(notice.recipients))),
        (b"Subject", _header("Subject", notice.subject)),
        (b"Date", formatdate(notice.created_at.timestamp(), usegmt=True).encode()),
        (b"Message-ID", _header("Message-ID", notice.message_id or message_id(notice, mail_from))),
        (b"X-Credit-Notice-Key", _header("X-Credit-Notice-Key", notice.idempotency_key)),
        (b"X-Credit-Notice-Kind", _header("X-Credit-Notice-Kind", notice.kind)),
        (b"MIME-Version", b"1.0"),
        (b"Content-Type", f'multipart/alternative;\r\n boundary="{boundary}"'.encode()),
    ]
    part = (
        b'--%s\r\nContent-Type: text/%s; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n"
    )
    b = boundary.encode()
    return (
        b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        + b"\r\n"
        + part % (b, b"plain", _qp(notice.text))
        + part % (b, b"html", _qp(notice.html))
        + b"--"
        + b
        + b"--\r\n"
    )
