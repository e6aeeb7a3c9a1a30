"""Notices: render (Jinja, StrictUndefined, autoescape) -> outbox row -> delivery (file | SMTP).

A notice is committed to the outbox under a unique idempotency key, inside the same transaction as
the decision it reports, before any delivery is attempted. Delivery claims rows one at a time with
a lease, sends them, and marks them sent; a crash between "accepted" and "marked" can repeat a send
but with the same Message-ID, so mail systems drop the copy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import random
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from email.utils import formatdate, getaddresses, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn, Protocol
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from sqlalchemy import and_, bindparam, case, func, literal, not_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, select

from credit.audit import jsonable
from credit.db.models import UNSENT, Notice, NoticeStatus, utcnow
from credit.db.tables import table_of
from credit.domain.money import money
from credit.faults import checkpoint
from credit.resources import resource_dir

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=5)


class NoticeError(RuntimeError):
    """A notice cannot be rendered (missing template or variable): nothing is queued or sent."""


# Notices whose recipient is the customer. They print the company's name, address, contact and
# payment details, so they are neither rendered nor sent while those are not configured. The
# templates the policy's dunning levels name count too (see :func:`customer_kinds`).
CUSTOMER_KINDS = frozenset(
    {
        "dunning_reminder",
        "dunning_second_notice",
        "dunning_final_demand",
        "dunning_credit_hold",
        "dunning_handover",
        "credit_hold_released",
        "terms_letter",
    }
)
# A notice of a customer kind whose copy goes to the company's own people (credit_hold_released
# has a customer and an internal message): its key ends so, its context says audience "internal".
INTERNAL_KEY_SUFFIX = ":internal"


def customer_kinds(policy_templates: Iterable[str] = ()) -> frozenset[str]:
    """The kinds that go to customers: the shipped ones and the dunning levels' templates."""
    return CUSTOMER_KINDS | frozenset(policy_templates)


def is_customer_facing(
    kind: str, context: dict[str, Any] | None = None, kinds: frozenset[str] = CUSTOMER_KINDS
) -> bool:
    """Whether a notice of ``kind`` (with this context) goes to the customer."""
    return kind in kinds and (context or {}).get("audience", "customer") != "internal"


class _Unconfigured:
    """The company in a notice while its settings are missing: internal notices do without it
    (``company.configured`` is false); a template that prints any of its details fails, so no
    notice goes out with an empty or someone else's name or bank account."""

    configured = False

    def __init__(self, refusal: str) -> None:
        self._refusal = refusal

    def _refuse(self) -> NoReturn:
        raise NoticeError(self._refusal)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse()

    def __getitem__(self, name: str) -> Any:
        self._refuse()

    def __str__(self) -> str:
        self._refuse()

    def __html__(self) -> str:
        self._refuse()

    def __bool__(self) -> bool:
        return False


def company_refusal(missing: Sequence[str]) -> str:
    """Why a customer notice cannot be rendered or sent: the company settings it lacks."""
    return (
        "customer notices print the company's name, address, contact and payment details, and "
        f"these are not configured: {'; '.join(missing)}. Set them in .env or the environment "
        "(see .env.example)"
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=64)
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
    if not currency:
        return format_decimal(money(Decimal(value)), format="#,##0.00", locale=loc)
    # Rounded half up (as invoices are) to the decimals the letter prints for the currency:
    # KWD 1.2345 is KWD 1.235, not the cents of money() (which gave KWD 1.230).
    digits = get_currency_precision(currency)
    amount = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return format_currency(amount, currency, locale=loc)


@pass_context
def _plural_filter(
    ctx: Any,
    count: int | Decimal | str | None,
    one: str,
    other: str,
    number: bool = True,
    **forms: str,
) -> str:
    """A count with its noun by the plural rules of the template's language (Babel's CLDR rules;
    ``template_language``, else the notice's ``locale``):
    ``{{ n|plural("day", "days") }}`` gives "1 day", "2 days"; ``{{ n|plural("Tag", "Tage") }}``
    "1 Tag"; Chinese has one form (``other``). Languages with more forms take them by their CLDR
    names (``few=``, ``many=``, ``two=``, ``zero=``). ``number=false``: the noun alone."""
    if count is None or count == "":
        return "-"
    loc = babel_locale(ctx.get("template_language") or ctx.get("locale", "en"))
    value: int | Decimal = Decimal(count) if isinstance(count, str) else count
    # Decimal: the type Babel's rules take (an integer reads the same: no fraction digits)
    word = {"one": one, "other": other, **forms}.get(loc.plural_form(abs(Decimal(value))), other)
    return f"{format_decimal(value, locale=loc)} {word}" if number else word


def _moment(value: datetime | str) -> datetime | None:
    """A stored time: a datetime (naive ones are UTC), ISO text or "YYYY-MM-DD HH:MM UTC"."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.endswith(" UTC"):
            text = text[:-4] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(value: datetime | str | None, zone: ZoneInfo) -> str:
    """A time as notices show it: in the company's time zone with its abbreviation,
    "2026-12-08 01:41 CET". Text that is not a time is shown as it is."""
    if value is None or value == "":
        return ""
    moment = _moment(value)
    if moment is None:
        return str(value)
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or zone.key}"


def install_filters(env: Environment, zone: ZoneInfo) -> None:
    """The filters notices and pages share: ``money``, ``date`` (the locale's), ``plural`` (the
    language's plural rules) and ``datetime`` (in the company's time zone)."""
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    env.filters["plural"] = _plural_filter
    env.filters["datetime"] = lambda value: local_time(value, zone)


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
        self,
        templates_dir: Path,
        *,
        company_name: str | None = None,
        company: dict[str, Any] | None = None,
        company_missing: Sequence[str] = (),
        timezone: str = "UTC",
        kinds_for_customers: frozenset[str] = CUSTOMER_KINDS,
    ) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._resolved: dict[tuple[str, str, str], tuple[Any, str]] = {}
        self.zone = ZoneInfo(timezone)
        self.kinds_for_customers = kinds_for_customers
        self.company_missing = list(company_missing)
        if not company_name and not self.company_missing:
            self.company_missing = ["CREDIT_COMPANY_NAME (not set)"]
        install_filters(self.env, self.zone)
        self.env.globals["timezone"] = timezone
        if self.company_missing:
            unconfigured = _Unconfigured(company_refusal(self.company_missing))
            self.env.globals["company_name"] = unconfigured
            self.env.globals["company"] = unconfigured
        else:
            self.env.globals["company_name"] = company_name
            self.env.globals["company"] = {
                "configured": True,
                **(
                    company
                    or {
                        "name": company_name,
                        "address": [company_name],
                        "contact": [],
                        "payment": [],
                    }
                ),
            }

    @classmethod
    def default(
        cls,
        *,
        company_name: str | None = None,
        company: dict[str, Any] | None = None,
        company_missing: Sequence[str] = (),
        timezone: str = "UTC",
    ) -> NoticeRenderer:
        return cls(
            resource_dir("templates"),
            company_name=company_name,
            company=company,
            company_missing=company_missing,
            timezone=timezone,
        )

    @classmethod
    def for_settings(cls, settings: Any) -> NoticeRenderer:
        """The renderer for these settings: the company, its time zone."""
        return cls.default(
            company_name=settings.company_name,
            company=settings.company,
            company_missing=settings.company_missing(),
            timezone=settings.timezone,
        )

    def _template(self, kind: str, locale: str, fmt: str) -> tuple[Any, str]:
        """The compiled template for a kind, locale and format; resolved once per renderer (the
        fallback chain's misses are not looked up on disk again for every notice)."""
        found = self._resolved.get((kind, locale, fmt))
        if found is None:
            found = self._resolved[(kind, locale, fmt)] = self._resolve(kind, locale, fmt)
        return found

    def _resolve(self, kind: str, locale: str, fmt: str) -> tuple[Any, str]:
        """The template and the language it is written in (the locale, or the fallback's)."""
        tried = []
        language = locale.split("_")[0].split("-")[0]
        parts = set(locale.replace("_", "-").split("-")[1:])
        # Traditional Chinese by script or by region (Taiwan, Hong Kong, Macao).
        script = ["zh-Hant"] if language == "zh" and parts & {"Hant", "TW", "HK", "MO"} else []
        for loc in dict.fromkeys([locale, locale.replace("_", "-"), *script, language, "en"]):
            name = f"notices/{kind}.{loc}.{fmt}.j2"
            tried.append(name)
            try:
                return self.env.get_template(name), loc
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

        ``locale`` is in the context, so money and dates are formatted for it. A notice to the
        customer is refused while the company's details are not configured."""
        if self.company_missing and is_customer_facing(kind, context, self.kinds_for_customers):
            raise NoticeError(
                f"notice {kind!r} to the customer cannot be rendered: "
                + company_refusal(self.company_missing)
            )
        context = {**context, "locale": locale}
        try:
            # |money and |date format for the notice's locale; |plural takes the noun by the
            # rules of the language the template is written in (English when it fell back).
            text_template, text_language = self._template(kind, locale, "txt")
            html_template, html_language = self._template(kind, locale, "html")
            text_module = text_template.make_module({**context, "template_language": text_language})
            html = html_template.render({**context, "template_language": html_language})
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
) -> tuple[Notice | None, bool]:
    """Put a notice in the outbox within the caller's transaction; (notice, created).

    If a notice with ``key`` exists, it is returned untouched and nothing is rendered again.
    Inside :func:`batched` the notice joins the block's bulk insert (a key already in the outbox
    is then left untouched by the insert instead).
    """
    buffer = session.info.get(_BUFFER)
    if buffer is not None:  # a plain row for the block's bulk insert (no Notice object)
        if key in buffer:
            return None, False
        if not recipients or any("@" not in r for r in recipients):
            raise NoticeError(f"notice {key!r} has no valid recipient: {recipients!r}")
        rendered = renderer.render(kind, locale, context)
        buffer[key] = {
            "idempotency_key": key,
            "kind": kind,
            "channel": channel,
            "locale": locale,
            "customer_id": customer_id,
            "recipients": sorted(dict.fromkeys(recipients)),
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "status": NoticeStatus.PENDING,
            "attempts": 0,
            "created_at": utcnow(),
        }
        return None, True
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


_BUFFER = "credit.notices.batch"


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Collect the notices enqueued in the block and write them to the outbox when it ends, with
    one multi-row insert per thousand (in the caller's transaction). A key that is already in the
    outbox keeps its row: the insert skips it, as :func:`enqueue` would."""
    if session.info.get(_BUFFER) is not None:
        yield
        return
    buffer: dict[str, dict[str, Any]] = {}
    session.info[_BUFFER] = buffer
    try:
        yield
    finally:
        session.info.pop(_BUFFER, None)
    if not buffer:
        return
    table = table_of(Notice)
    rows = list(buffer.values())
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for i in range(0, len(rows), 1000):
        session.execute(statement, rows[i : i + 1000])


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


def _header_value(message: bytes, name: bytes) -> str:
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


class Transport(Protocol):
    def send(self, notice: Any, message: bytes) -> str: ...
    def close(self) -> None: ...


class FileTransport:
    """Writes each notice as an RFC 5322 ``.eml`` file; the name derives from the notice id, so
    writing a notice again replaces its file (no duplicate)."""

    idempotent = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, notice: Any) -> Path:
        return self.directory / f"{notice.id:07d}-{notice.kind}.eml"

    def send(self, notice: Any, message: bytes) -> str:
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

    def path_for(self, notice: Any) -> Path:
        return self.directory / f"{notice.id:07d}-{notice.kind}.html"

    def write(self, notice: Any) -> str:
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
        mail_from: str = "",
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.starttls, self.timeout = starttls, timeout
        self.envelope_from = parseaddr(mail_from)[1]
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            conn.starttls(context=ssl.create_default_context())
        if self.user:
            conn.login(self.user, self.password or "")
        return conn

    def send(self, notice: Any, message: bytes) -> str:
        sender = self.envelope_from or parseaddr(_header_value(message, b"From"))[1]
        try:
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = self._conn.sendmail(sender, notice.recipients, message)
            except smtplib.SMTPServerDisconnected:  # an idle connection the server closed
                self._conn = self._connect()
                refused = self._conn.sendmail(sender, notice.recipients, message)
        except (smtplib.SMTPException, OSError):
            # A timeout or a refusal may leave the dialogue mid-way (a late reply would be read
            # as the answer to the next message): the next message gets a new connection.
            self._abandon()
            raise
        where = f"smtp://{self.host}:{self.port}"
        if refused:  # some recipients accepted, these not: say so on the notice
            where += " (refused: " + ", ".join(sorted(refused)) + ")"
        return where

    def _abandon(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

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
    # Taken over from a sender that stopped after claiming them (its lease ended): the server may
    # have accepted them already, so the recipient may get them twice, with the same Message-ID.
    repeated: int = 0
    failed_ids: list[int] = field(default_factory=list)  # failed for good in this sweep
    stopped: str = ""  # why the sweep stopped before the outbox was empty (the server is down)
    # After the sweep: notices waiting out a retry delay, and the earliest of their next attempts
    # (UTC); customer notices held back because the company's details are not configured.
    waiting: int = 0
    next_attempt: datetime | None = None
    held: int = 0
    held_reason: str = ""


CLAIM = 200  # notices taken per claim
RETRY_BASE = 30.0  # seconds before the first retry; doubled each time (jittered, capped at 1 h)
GIVE_UP_AFTER = 3  # server failures in a row that end a sweep


INTERRUPTED = "an earlier send stopped after claiming it (its lease ended): it may repeat that one"


def held_back(kinds: frozenset[str]) -> Any:
    """The condition of the notices to customers among ``kinds`` (not their internal copies)."""
    return and_(
        col(Notice.kind).in_(sorted(kinds)),
        not_(col(Notice.idempotency_key).endswith(INTERNAL_KEY_SUFFIX)),
    )


def due_notices(
    dialect: str,
    now: datetime,
    limit: int,
    notice_ids: list[int] | None = None,
    after_id: int | None = None,
    held: Any = None,
) -> Any:
    """The ids of the oldest notices due for sending: unsent, not held by a live lease (nor by
    the ``held`` condition). The partial index of unsent notices serves it, however many have
    been sent before."""
    due = (
        select(Notice.id)
        .where(UNSENT)  # literal values: the partial index of unsent notices serves it
        .where(or_(col(Notice.claimed_until).is_(None), col(Notice.claimed_until) < now))
        .order_by(col(Notice.id))
        .limit(limit)
    )
    if notice_ids is not None:
        due = due.where(col(Notice.id).in_(notice_ids))
    if after_id is not None:  # only what was queued since (an index range, not a scan)
        due = due.where(col(Notice.id) > after_id)
    if held is not None:
        due = due.where(not_(held))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return due


def _claim(
    session: Session,
    now: datetime,
    limit: int,
    notice_ids: list[int] | None,
    after_id: int | None = None,
    lease: timedelta = LEASE,
    held: Any = None,
) -> list[tuple[Outgoing, bool]]:
    """Take up to ``limit`` due notices for sending, with a lease, in one statement: (what sending
    needs of it, whether a sender that stopped had claimed it before) for each notice taken.

    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``: several senders (workers on
    several machines) take different rows without waiting for each other. On SQLite the statement
    takes the database's write lock, so claims are serialised. A sender that dies leaves its rows
    to the next one when the lease ends."""
    due = due_notices(session.get_bind().dialect.name, now, limit, notice_ids, after_id, held)
    taken = session.execute(
        update(Notice)
        .where(col(Notice.id).in_(due.scalar_subquery()))
        .values(
            status=NoticeStatus.SENDING,
            claimed_until=max(now, utcnow()) + lease,
            attempts=Notice.attempts + 1,
            # still "sending" with its lease over: the sender holding it stopped, maybe after
            # the server had accepted it
            last_error=case(
                (col(Notice.status) == NoticeStatus.SENDING, literal(INTERRUPTED)),
                else_=Notice.last_error,
            ),
        )
        .returning(*_READ, col(Notice.last_error))
    ).all()
    session.commit()
    return sorted(
        (
            (
                Outgoing(**dict(zip(_READ_FIELDS, row, strict=False)), claim=row.attempts),
                row.last_error == INTERRUPTED,
            )
            for row in taken
        ),
        key=lambda pair: pair[0].id,
    )


@dataclass
class Outgoing:
    """A claimed notice on its way out: the values sending reads and the outcome it records
    (plain values: a chunk of 200 is read in one query and marked in one executemany)."""

    id: int
    idempotency_key: str
    kind: str
    channel: str
    recipients: list[str]
    subject: str
    text: str
    html: str
    attempts: int
    message_id: str | None
    created_at: datetime
    claim: int = 0  # ``attempts`` right after this sender's claim: its token
    status: str = NoticeStatus.SENDING
    last_error: str | None = None
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    delivered_to: str | None = None


_OUTBOX = table_of(Notice)
_READ_FIELDS = [f.name for f in fields(Outgoing)[:11]]
_READ = [_OUTBOX.c[name] for name in _READ_FIELDS]
_MARK = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("b_id"),
        # still ours: a sender that outlived its lease does not overwrite the next one's outcome
        _OUTBOX.c.status == NoticeStatus.SENDING,
        _OUTBOX.c.attempts == bindparam("b_claim"),
    )
    .values(
        attempts=bindparam("b_attempts"),
        status=bindparam("b_status"),
        last_error=bindparam("b_last_error"),
        claimed_until=bindparam("b_claimed_until"),
        sent_at=bindparam("b_sent_at"),
        delivered_to=bindparam("b_delivered_to"),
        message_id=bindparam("b_message_id"),
    )
)


def _mark(session: Session, sent: list[Outgoing]) -> None:
    """Record the outcome of each notice (one executemany), in the caller's transaction; a
    notice another sender took over meanwhile (its lease ended) keeps that sender's outcome."""
    if sent:
        session.connection().execute(
            _MARK,
            [
                {
                    "b_id": o.id,
                    "b_claim": o.claim,
                    "b_attempts": o.attempts,
                    "b_status": o.status,
                    "b_last_error": o.last_error,
                    "b_claimed_until": o.claimed_until,
                    "b_sent_at": o.sent_at,
                    "b_delivered_to": o.delivered_to,
                    "b_message_id": o.message_id,
                }
                for o in sent
            ],
        )


def deliver_pending(
    engine: Any,
    transport: Transport,
    *,
    mail_from: str,
    limit: int | None = None,
    notice_ids: list[int] | None = None,
    letters_dir: Path | None = None,
    lease: timedelta = LEASE,
    retry_base: float = RETRY_BASE,
    hold: frozenset[str] = frozenset(),
    hold_reason: str = "",
) -> DeliveryReport:
    """Send what the outbox holds (or just ``notice_ids``): claim a chunk, send each, mark each.

    Over SMTP each notice is claimed alone (its lease covers one message, not a chunk that a slow
    server could outlast) and marked sent in its own commit right after the server accepted it:
    a crash in between repeats at most that one message, with the same Message-ID. A transport
    that writes files (``idempotent``: sending again rewrites the same file) is claimed and marked
    200 at a time.
    Letters (channel ``letter``) are written as printable HTML files to ``letters_dir`` for the
    post room, whatever the e-mail transport. Notices to customers of the kinds in ``hold`` are
    not sent (they stay pending, no attempt spent): the company's details they print are not
    configured (``hold_reason``)."""
    letters = LetterWriter(letters_dir or Path("var/outbox/letters"))
    per_chunk = bool(getattr(transport, "idempotent", False))
    report = DeliveryReport()
    held = held_back(hold) if hold else None
    down = 0  # server failures in a row
    began = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        try:
            while limit is None or report.sent + report.retried + report.failed < limit:
                # A file is rewritten by a second send, so files are claimed 200 at a time; a
                # mail cannot be unsent, so each is claimed alone, right before it is sent.
                size = CLAIM if per_chunk else 1
                want = size if limit is None else min(size, limit - _done(report))
                # due before the sweep began: a notice retried in this sweep waits for the next
                claimed = _claim(session, began, want, notice_ids, lease=lease, held=held)
                if not claimed:
                    break
                chunk = [out for out, _ in claimed]
                interrupted = [out.id for out, again in claimed if again]
                if interrupted:
                    report.repeated += len(interrupted)
                    log.warning(
                        "notice(s) %s: a sender stopped after claiming them; sending again with "
                        "the same Message-ID (the recipient may get a copy twice)",
                        interrupted,
                    )
                # (the claim committed: no transaction, on SQLite no write lock, while sending)
                for out in chunk:
                    outcome = _send_one(out, transport, letters, mail_from, report, retry_base)
                    down = down + 1 if outcome == "unavailable" else 0
                    if not per_chunk:
                        if outcome == "sent":
                            checkpoint("delivery.accepted")
                        # Marked now, committed with the next claim: one commit per message. A
                        # failure before that commit repeats this one message, as a crash would.
                        _mark(session, [out])
                if per_chunk:
                    checkpoint("delivery.accepted")
                    _mark(session, chunk)
                    session.commit()
                if down >= GIVE_UP_AFTER:
                    # The server is down or hanging: what is left waits for the next sweep
                    # instead of timing out notice after notice.
                    session.commit()
                    report.stopped = f"{down} failures in a row, the last: {chunk[-1].last_error}"
                    log.warning("delivery stopped for now: %s", report.stopped)
                    break
            session.commit()  # the last mark (when the limit ended the loop)
            # What other senders hold right now (their leases have not ended).
            report.skipped = session.exec(
                select(func.count())
                .select_from(Notice)
                .where(UNSENT, Notice.status == NoticeStatus.SENDING)
                .where(col(Notice.claimed_until) >= utcnow())
            ).one()
            report.waiting, report.next_attempt = waiting(session, utcnow(), held, notice_ids)
            if held is not None:
                report.held = session.exec(
                    select(func.count()).select_from(Notice).where(UNSENT, held)
                ).one()
                report.held_reason = hold_reason if report.held else ""
        finally:
            transport.close()
    return report


def _waiting_condition(now: datetime, held: Any) -> Any:
    """Unsent notices waiting out a retry delay (pending, not due before ``now``)."""
    condition = and_(
        UNSENT,
        col(Notice.status) == NoticeStatus.PENDING,
        col(Notice.claimed_until) > now,
    )
    return condition if held is None else and_(condition, not_(held))


def waiting(
    session: Session, now: datetime, held: Any = None, notice_ids: list[int] | None = None
) -> tuple[int, datetime | None]:
    """How many notices wait out a retry delay, and when the first of them is due (UTC)."""
    query = select(func.count(), func.min(Notice.claimed_until)).where(
        _waiting_condition(now, held)
    )
    if notice_ids is not None:
        query = query.where(col(Notice.id).in_(notice_ids))
    count, first = session.exec(query).one()
    if first is not None and first.tzinfo is None:
        first = first.replace(tzinfo=UTC)  # SQLite gives it back naive
    return count, first


def release_waiting(
    session: Session, now: datetime, hold: frozenset[str] = frozenset()
) -> list[int]:
    """Make the notices that wait out a retry delay due now (in the caller's transaction); their
    ids. What a customer notice held for the company's details waits for stays held."""
    held = held_back(hold) if hold else None
    return list(
        session.execute(
            update(Notice)
            .where(_waiting_condition(now, held))
            .values(claimed_until=None)
            .returning(col(Notice.id))
        ).scalars()
    )


def _done(report: DeliveryReport) -> int:
    return report.sent + report.retried + report.failed


def _send_one(
    notice: Outgoing,
    transport: Transport,
    letters: LetterWriter,
    mail_from: str,
    report: DeliveryReport,
    retry_base: float = RETRY_BASE,
) -> str:
    """Send one claimed notice and record the outcome on it (the caller marks and commits):
    ``sent``, ``failed`` (this notice), ``unavailable`` (the server) or ``unbuildable``."""
    now = utcnow()
    if notice.message_id is None:
        notice.message_id = message_id(notice, mail_from)
    if notice.attempts > MAX_ATTEMPTS + 2:  # claimed again and again, never an outcome
        return _fail(notice, report, f"claimed {notice.attempts} times without an outcome")
    try:
        message = build_message(notice, mail_from=mail_from)
    except Exception as exc:  # a notice that cannot become a message never will
        notice.last_error = f"cannot build the message: {type(exc).__name__}: {exc}"[:2000]
        notice.status, notice.claimed_until = NoticeStatus.FAILED, None
        report.failed += 1
        report.failed_ids.append(notice.id)
        log.error("notice %s failed: %s", notice.id, notice.last_error)
        return "unbuildable"
    try:
        if notice.channel == "letter":
            where = letters.write(notice)
        else:
            where = transport.send(notice, message)
    except (smtplib.SMTPException, OSError) as exc:
        notice.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if _server_unavailable(exc):
            # The server (or our login to it) failed, not this notice: it waits without
            # spending an attempt, and the sweep stops after a few of these.
            notice.attempts -= 1
            notice.status = NoticeStatus.PENDING
            notice.claimed_until = now + timedelta(seconds=retry_base * random.uniform(0.8, 1.2))
            report.retried += 1
            log.warning("notice %s waits: the mail server failed: %s", notice.id, notice.last_error)
            return "unavailable"
        if _permanent(exc) or notice.attempts >= MAX_ATTEMPTS:
            notice.status, notice.claimed_until = NoticeStatus.FAILED, None
            report.failed += 1
            report.failed_ids.append(notice.id)
        else:  # exponential backoff with jitter: 1, 2, 4, 8 ... times the base, capped at 1 h
            backoff = min(3600.0, retry_base * 2 ** (notice.attempts - 1))
            notice.status = NoticeStatus.PENDING
            notice.claimed_until = now + timedelta(seconds=backoff * random.uniform(0.8, 1.2))
            report.retried += 1
        log.warning("notice %s not delivered: %s", notice.id, notice.last_error)
        return "failed"
    except Exception as exc:  # the notice itself cannot be sent (say, an address smtplib refuses)
        if hasattr(transport, "_abandon"):
            transport._abandon()
        return _fail(notice, report, f"cannot be sent: {type(exc).__name__}: {exc}")
    notice.status = NoticeStatus.SENT
    notice.sent_at = utcnow()
    notice.delivered_to = where
    notice.claimed_until = None
    report.sent += 1
    return "sent"


def _fail(notice: Outgoing, report: DeliveryReport, why: str) -> str:
    notice.last_error = why[:2000]
    notice.status, notice.claimed_until = NoticeStatus.FAILED, None
    report.failed += 1
    report.failed_ids.append(notice.id)
    log.error("notice %s failed: %s", notice.id, notice.last_error)
    return "failed"


def _permanent(exc: Exception) -> bool:
    """A 5xx answer, or every recipient refused with a 5xx: sending again cannot help. (A 4xx,
    greylisting say, is temporary.)"""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _server_unavailable(exc: Exception) -> bool:
    """The server itself, or the session with it, failed: down, unreachable, hanging, closing,
    refusing our login or our sender address. Not one message's problem."""
    if isinstance(
        exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError | smtplib.SMTPNotSupportedError
    ):
        return True
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPSenderRefused):
        return True  # 530/535 after a password change; a sender address the server refuses
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError) and not isinstance(
        exc, smtplib.SMTPRecipientsRefused
    )


def transport_for(settings: Any) -> Transport:
    if settings.delivery == "smtp":
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
            mail_from=settings.mail_from,
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
