"""Notices: render (Jinja, StrictUndefined, autoescape) -> outbox row -> delivery (file | SMTP).

A notice is committed to the outbox under a unique idempotency key, inside the same transaction as
the decision it reports, before any delivery is attempted. Delivery claims rows one at a time with
a lease, sends them, and marks them sent; a crash between "accepted" and "marked" can repeat a send
but with the same Message-ID, so mail systems drop the copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from credit.audit import jsonable
from credit.db.models import Notice, NoticeStatus, utcnow
from credit.domain.money import money
from credit.resources import resource_dir

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=5)


class NoticeError(RuntimeError):
    """A notice cannot be rendered (missing template or variable): nothing is queued or sent."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def babel_locale(locale: str) -> Locale:
    """``en``, ``de_DE``, ``zh-Hant`` -> a Babel locale (unknown ones fall back to English)."""
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


@pass_context
def _money_filter(ctx: Any, value: Decimal | str | None, currency: str = "") -> str:
    """An amount as the notice's locale writes it (Babel), exact from the Decimal."""
    if value is None:
        return "-"
    loc = babel_locale(ctx.get("locale", "en"))
    amount = money(Decimal(value))
    if not currency:
        return format_decimal(amount, format="#,##0.00", locale=loc)
    return format_currency(amount, currency, locale=loc)


@pass_context
def _date_filter(ctx: Any, value: date | str | None, fmt: str = "medium") -> str:
    """A date as the notice's locale writes it (Babel): 30 Nov 2026, 2026年11月30日."""
    if value is None or value == "":
        return "-"
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return format_date(day, format=fmt, locale=babel_locale(ctx.get("locale", "en")))


class NoticeRenderer:
    """Renders ``notices/<kind>.<locale>.{txt,html}.j2``; locale falls back to its language, then en."""

    def __init__(
        self, templates_dir: Path, *, company_name: str, company: dict[str, Any] | None = None
    ) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["money"] = _money_filter
        self.env.filters["date"] = _date_filter
        self.env.globals["company_name"] = company_name
        self.env.globals["company"] = company or {
            "name": company_name,
            "address": [company_name],
            "contact": [],
            "payment": [],
        }

    @classmethod
    def default(cls, *, company_name: str, company: dict[str, Any] | None = None) -> NoticeRenderer:
        return cls(resource_dir("templates"), company_name=company_name, company=company)

    def _template(self, kind: str, locale: str, fmt: str) -> Any:
        tried = []
        language = locale.split("_")[0].split("-")[0]
        parts = set(locale.replace("_", "-").split("-")[1:])
        # Traditional Chinese by script or by region (Taiwan, Hong Kong, Macao).
        script = ["zh-Hant"] if language == "zh" and parts & {"Hant", "TW", "HK", "MO"} else []
        for loc in dict.fromkeys([locale, locale.replace("_", "-"), *script, language, "en"]):
            name = f"notices/{kind}.{loc}.{fmt}.j2"
            tried.append(name)
            try:
                return self.env.get_template(name)
            except TemplateNotFound:
                continue
        raise NoticeError(f"no template for notice {kind!r}: tried {', '.join(tried)}")

    def has_template(self, kind: str) -> bool:
        """Whether notices of ``kind`` can be rendered (in English at least)."""
        try:
            self._template(kind, "en", "txt")
            self._template(kind, "en", "html")
        except NoticeError:
            return False
        return True

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
        """Render subject, text and HTML; any missing variable raises :class:`NoticeError`.

        ``locale`` is in the context, so money and dates are formatted for it."""
        context = {**context, "locale": locale}
        try:
            text_module = self._template(kind, locale, "txt").make_module(context)
            html = self._template(kind, locale, "html").render(context)
        except NoticeError:
            raise
        except Exception as exc:  # jinja2.UndefinedError and friends
            raise NoticeError(f"notice {kind!r} ({locale}) cannot be rendered: {exc}") from exc
        # A subject is one line, whatever the data put in it.
        subject = " ".join(str(getattr(text_module, "subject", "")).split())
        if not subject:
            raise NoticeError(f"notice {kind!r}: the text template sets no subject")
        return Rendered(subject=subject, text=str(text_module), html=html)


def exists(session: Session, key: str) -> bool:
    """Whether a notice with this idempotency key is already in the outbox."""
    return session.exec(select(Notice.id).where(Notice.idempotency_key == key)).first() is not None


def enqueue(
    session: Session,
    renderer: NoticeRenderer,
    *,
    key: str,
    kind: str,
    locale: str,
    recipients: list[str],
    context: dict[str, Any],
    customer_id: int | None = None,
    channel: str = "email",
) -> tuple[Notice, bool]:
    """Put a notice in the outbox within the caller's transaction; (notice, created).

    If a notice with ``key`` exists, it is returned untouched and nothing is rendered again.
    """
    existing = session.exec(select(Notice).where(Notice.idempotency_key == key)).first()
    if existing is not None:
        return existing, False
    if not recipients or any("@" not in r for r in recipients):
        raise NoticeError(f"notice {key!r} has no valid recipient: {recipients!r}")
    rendered = renderer.render(kind, locale, context)
    notice = Notice(
        idempotency_key=key,
        kind=kind,
        channel=channel,
        locale=locale,
        customer_id=customer_id,
        recipients=sorted(dict.fromkeys(recipients)),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )
    try:
        with session.begin_nested():
            session.add(notice)
            session.flush()
    except IntegrityError:
        # Another run committed the same key between our check and our insert.
        existing = session.exec(select(Notice).where(Notice.idempotency_key == key)).one()
        return existing, False
    return notice, True


def message_id(notice: Notice, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].partition("@")[2] or "credit.local"
    digest = hashlib.sha256(notice.idempotency_key.encode()).hexdigest()[:16]
    return f"<notice-{notice.id}.{digest}@{domain}>"


def build_message(notice: Notice, *, mail_from: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = ", ".join(notice.recipients)
    msg["Subject"] = notice.subject
    msg["Date"] = formatdate(notice.created_at.timestamp(), localtime=False, usegmt=True)
    msg["Message-ID"] = notice.message_id or message_id(notice, mail_from)
    msg["X-Credit-Notice-Key"] = notice.idempotency_key
    msg["X-Credit-Notice-Kind"] = notice.kind
    msg.set_content(notice.text)
    msg.add_alternative(notice.html, subtype="html")
    return msg


class Transport(Protocol):
    def send(self, notice: Notice, message: EmailMessage) -> str: ...
    def close(self) -> None: ...


class FileTransport:
    """Writes each notice as an RFC 5322 ``.eml`` file; the name derives from the notice id."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, notice: Notice) -> Path:
        return self.directory / f"{notice.id:07d}-{notice.kind}.eml"

    def send(self, notice: Notice, message: EmailMessage) -> str:
        target = self.path_for(notice)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(bytes(message))
        os.replace(tmp, target)  # atomic: a reader never sees half a message
        return str(target)

    def close(self) -> None:
        pass


class LetterWriter:
    """Writes a letter's HTML (A4, print-ready: open it and print or save as PDF)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, notice: Notice) -> Path:
        return self.directory / f"{notice.id:07d}-{notice.kind}.html"

    def write(self, notice: Notice) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(notice)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(notice.html, encoding="utf-8")
        os.replace(tmp, target)
        return str(target)


class SmtpTransport:
    """One SMTP connection reused for a batch; reconnects once if the server dropped it."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str | None,
        password: str | None,
        starttls: bool,
        timeout: float,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.starttls, self.timeout = starttls, timeout
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            conn.starttls(context=ssl.create_default_context())
        if self.user:
            conn.login(self.user, self.password or "")
        return conn

    def send(self, notice: Notice, message: EmailMessage) -> str:
        if self._conn is None:
            self._conn = self._connect()
        try:
            refused = self._conn.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self._conn = self._connect()
            refused = self._conn.send_message(message)
        where = f"smtp://{self.host}:{self.port}"
        if refused:  # some recipients accepted, these not: say so on the notice
            where += " (refused: " + ", ".join(sorted(refused)) + ")"
        return where

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._conn = None


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


def _claim(session: Session, notice_id: int, now: datetime) -> bool:
    """Atomically take a notice for sending (a lease); False if another sender holds it."""
    result = session.execute(
        update(Notice)
        .where(Notice.id == notice_id)
        .where(Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.SENDING]))  # type: ignore[attr-defined]
        .where(or_(Notice.claimed_until.is_(None), Notice.claimed_until < now))  # type: ignore[union-attr]
        .values(
            status=NoticeStatus.SENDING, claimed_until=now + LEASE, attempts=Notice.attempts + 1
        )
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def deliver_pending(
    engine: Any,
    transport: Transport,
    *,
    mail_from: str,
    limit: int | None = None,
    notice_ids: list[int] | None = None,
    letters_dir: Path | None = None,
) -> DeliveryReport:
    """Send what the outbox holds (or just ``notice_ids``); each row is claimed, sent, marked.

    Letters (channel ``letter``) are written as printable HTML files to ``letters_dir`` for the
    post room, whatever the e-mail transport."""
    letters = LetterWriter(letters_dir or Path("var/outbox/letters"))
    report = DeliveryReport()
    with Session(engine, expire_on_commit=False) as session:
        now = utcnow()
        query = (
            select(Notice.id)
            .where(Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.SENDING]))  # type: ignore[attr-defined]
            .where(or_(Notice.claimed_until.is_(None), Notice.claimed_until < now))  # type: ignore[union-attr]
            .order_by(Notice.id)  # type: ignore[arg-type]
        )
        if notice_ids is not None:
            query = query.where(Notice.id.in_(notice_ids))  # type: ignore[union-attr]
        if limit:
            query = query.limit(limit)
        ids = list(session.exec(query))
        try:
            for notice_id in ids:
                now = utcnow()
                if not _claim(session, notice_id, now):
                    report.skipped += 1
                    continue
                notice = session.get(Notice, notice_id, populate_existing=True)
                assert notice is not None
                if notice.message_id is None:
                    notice.message_id = message_id(notice, mail_from)
                try:
                    message = build_message(notice, mail_from=mail_from)
                except Exception as exc:  # a notice that cannot become a message never will
                    notice.last_error = f"cannot build the message: {type(exc).__name__}: {exc}"[
                        :2000
                    ]
                    notice.status, notice.claimed_until = NoticeStatus.FAILED, None
                    report.failed += 1
                    log.error("notice %s failed: %s", notice.id, notice.last_error)
                    session.add(notice)
                    session.commit()
                    continue
                try:
                    if notice.channel == "letter":
                        where = letters.write(notice)
                    else:
                        where = transport.send(notice, message)
                except (smtplib.SMTPException, OSError) as exc:
                    notice.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    permanent = isinstance(exc, smtplib.SMTPRecipientsRefused) or (
                        isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
                    )
                    if permanent or notice.attempts >= MAX_ATTEMPTS:
                        notice.status, notice.claimed_until = NoticeStatus.FAILED, None
                        report.failed += 1
                    else:
                        backoff = min(3600, 30 * 2 ** (notice.attempts - 1))
                        notice.status = NoticeStatus.PENDING
                        notice.claimed_until = now + timedelta(
                            seconds=backoff * random.uniform(0.8, 1.2)
                        )
                        report.retried += 1
                    log.warning("notice %s not delivered: %s", notice.id, notice.last_error)
                else:
                    notice.status = NoticeStatus.SENT
                    notice.sent_at = utcnow()
                    notice.delivered_to = where
                    notice.claimed_until = None
                    report.sent += 1
                session.add(notice)
                session.commit()
        finally:
            transport.close()
    return report


def transport_for(settings: Any) -> Transport:
    if settings.delivery == "smtp":
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )
    return FileTransport(Path(settings.outbox_dir))


__all__ = [
    "NoticeRenderer",
    "NoticeError",
    "enqueue",
    "deliver_pending",
    "transport_for",
    "jsonable",
]
