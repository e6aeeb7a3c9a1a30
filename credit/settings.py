"""Settings read once at the edge (CLI, flow entry) from the environment and ``.env``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import NoReturn, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from credit.resources import resource_dir

_TRUE = {"1", "true", "yes", "on"}


class SettingsError(ValueError):
    """A setting has a value the product cannot use."""


_SECRET_NAMES = ("PASSWORD", "SECRET", "TOKEN", "KEY")


def check_env_file(path: str | Path) -> None:
    """Refuse a settings file with a line python-dotenv cannot parse (:class:`SettingsError`
    naming the file, the line and its text). python-dotenv would skip it with a warning and the
    setting on it would silently not be set: a mistyped ``CREDIT_SMTP_HOST smtp.example.com``
    would send the mail to the file outbox. A secret's value is not repeated."""
    from dotenv.parser import parse_stream

    try:
        with open(path, encoding="utf-8") as stream:
            bad = next((b.original for b in parse_stream(stream) if b.error), None)
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    if bad is None:
        return
    lines = bad.string.splitlines()
    skipped = next((i for i, line in enumerate(lines) if line.strip()), 0)  # blank lines before it
    shown = lines[skipped].strip() if lines else ""
    reason = "the value cannot be read (a quote not closed?)" if "=" in shown else "not NAME=value"
    name = re.split(r"[\s=]", shown.removeprefix("export "), maxsplit=1)[0]
    if any(secret in name.upper() for secret in _SECRET_NAMES):
        shown = f"{name} …"
    elif len(shown) > 80:
        shown = shown[:79] + "…"
    raise SettingsError(
        f"{path}, line {bad.line + skipped}: {shown!r}: {reason}; fix or remove the line"
    )


# What customer letters and notices print about the company (name, address, how to reach it, where
# to pay): no defaults, so that nothing goes out with someone else's details.
COMPANY_SETTINGS = (
    "CREDIT_COMPANY_NAME",
    "CREDIT_COMPANY_ADDRESS",
    "CREDIT_COMPANY_CONTACT",
    "CREDIT_COMPANY_PAYMENT_DETAILS",
)
# The example values older versions shipped as defaults and in .env.example (people copied them):
# still placeholders, not a company's details. Compared without case and spaces.
_PLACEHOLDERS = {
    "CREDIT_COMPANY_NAME": ("exampletradinggmbh",),
    "CREDIT_COMPANY_ADDRESS": ("exampletradinggmbh", "hafenstrasse1|20457"),
    "CREDIT_COMPANY_CONTACT": ("credit@example.com", "+494012345670"),
    "CREDIT_COMPANY_PAYMENT_DETAILS": ("de89370400440532013000",),
}
DEFAULT_WEB_BASE_URL = "http://127.0.0.1:8765"

# A labelled bank detail: "IBAN DE89 3704 0044 0532 0130 00", "BIC: COBADEFFXXX".
_LABEL = re.compile(r"\b(IBAN|BIC|SWIFT)\b", re.IGNORECASE)
# Where an IBAN starts: a country code and two check digits (the rest may follow in groups).
_IBAN_START = re.compile(r"[A-Za-z]{2}[0-9]{2}[A-Za-z0-9]*")
_IBAN_GROUP = re.compile(r"[A-Z0-9]{1,4}")  # the print format's groups of four
# An IBAN without its label, written compact or in groups.
_IBAN_LIKE = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _iban_words(words: list[str]) -> list[tuple[str, str]]:
    """The prefixes, longest first, that an IBAN written from ``words[0]`` on could be, each
    compact and as written: the first word and the groups of up to four that follow it, at most
    34 characters ("... 0130 00 at Commerzbank" stops at "at")."""
    if not words or not _IBAN_START.fullmatch(words[0]):
        return [(words[0], words[0])] if words else [("", "")]
    prefixes = [(words[0].upper(), words[0])]
    for word in words[1:]:
        compact, shown = prefixes[-1]
        if not _IBAN_GROUP.fullmatch(word) or len(compact + word) > 34:
            break
        prefixes.append((compact + word, f"{shown} {word}"))
    return prefixes[::-1]


def _refuse(setting: str, kind: str, candidate: str, exc: Exception) -> NoReturn:
    reason = str(exc).rstrip(".") or type(exc).__name__
    raise SettingsError(
        f"{setting}: value {candidate!r} is not a valid {kind}: {reason[0].lower()}{reason[1:]}"
    ) from None


def _check_iban(words: list[str], setting: str) -> None:
    """The longest prefix of ``words`` that is a valid IBAN, or :class:`SettingsError`."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    if not words:
        _refuse(setting, "IBAN", "IBAN", ValueError("no account number follows the label"))
    prefixes = _iban_words(words)
    failure: Exception | None = None
    for candidate, _ in prefixes:  # the longest that is a valid IBAN
        try:
            IBAN(candidate)
            return
        except (SchwiftyException, ValueError) as exc:
            failure = failure or exc
    _refuse(setting, "IBAN", prefixes[0][1], failure or ValueError("not an IBAN"))


def _check_bic(label: str, words: list[str], setting: str) -> None:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    if not words:
        _refuse(setting, "BIC", label, ValueError("no code follows the label"))
    try:
        BIC(words[0].upper())
    except (SchwiftyException, ValueError) as exc:
        _refuse(setting, "BIC", words[0], exc)


def _check_payment_line(line: str, setting: str) -> None:
    pieces = _LABEL.split(line)  # text, label, text, label, text ...
    labelled = False
    for label, after in zip(pieces[1::2], pieces[2::2], strict=True):
        labelled = True
        words = [w for w in re.split(r"[^A-Za-z0-9]+", after) if w]
        if label.upper() == "IBAN":
            _check_iban(words, setting)
        else:
            _check_bic(label, words, setting)
    if not labelled:
        for found in _IBAN_LIKE.finditer(line):
            _check_iban(found.group(0).split(), setting)


def check_payment_details(value: str, setting: str = "CREDIT_COMPANY_PAYMENT_DETAILS") -> None:
    """Every IBAN (and BIC) in the payment lines must be a valid one (checksum, length, country):
    customers would pay into it. Raises :class:`SettingsError` naming the setting and the value.
    Only what has the shape of an IBAN or BIC is read: the words around it ("at Commerzbank",
    "quoting the invoice number") are the letter's, not the account's."""
    for line in (part.strip() for part in value.split("|")):
        _check_payment_line(line, setting)


class CompanyDetails(TypedDict):
    """The company as notices show it: its name and its address, contact and payment lines."""

    name: str
    address: list[str]
    contact: list[str]
    payment: list[str]


class Delivery(StrEnum):
    """How notices leave: by SMTP, or as ``.eml`` files in the outbox folder."""

    SMTP = "smtp"
    FILE = "file"


class _Environment:
    """The ``CREDIT_*`` values of ``.env`` and the environment, read and checked by type."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        raw = self.values.get(f"CREDIT_{name}")
        return raw.strip() if raw is not None and raw.strip() != "" else None

    def get_int(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"CREDIT_{name}: value {raw!r} is not a whole number") from None

    def get_seconds(self, name: str, default: float) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise SettingsError(f"CREDIT_{name}: value {raw!r} is not a positive number of seconds")
        return value

    def get_path(self, name: str) -> Path | None:
        raw = self.get(name)
        return Path(raw) if raw else None

    def currency(self, default: str) -> str:
        currency = (self.get("BASE_CURRENCY") or default).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise SettingsError(f"CREDIT_BASE_CURRENCY: value {currency!r} is not an ISO 4217 code")
        return currency

    def timezone(self, default: str) -> str:
        timezone = self.get("TIMEZONE") or default
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"CREDIT_TIMEZONE: value {timezone!r} is not an IANA time zone (e.g. Europe/Berlin)"
            ) from None
        return timezone

    def lease_and_timeout(self) -> tuple[int, float]:
        lease = self.get_int("DELIVERY_LEASE_SECONDS", 300)
        smtp_timeout = float(self.get_int("SMTP_TIMEOUT", 30))
        if lease <= smtp_timeout:
            raise SettingsError(
                f"CREDIT_DELIVERY_LEASE_SECONDS: value {lease!r} must be longer than "
                f"CREDIT_SMTP_TIMEOUT ({smtp_timeout:g} s): a sender must finish a message "
                "before another may take it over"
            )
        return lease, smtp_timeout


@dataclass(frozen=True)
class Settings:
    """Every ``CREDIT_*`` setting; build it with :meth:`load`, never at import time."""

    database_url: str = "sqlite:///var/credit.db"
    outbox_dir: Path = Path("var/outbox")
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = 30.0
    # How long a sender holds a claimed notice: a sender that dies leaves it to the next one then.
    delivery_lease_seconds: int = 300
    # Seconds before a temporarily refused notice is tried again; doubled each time (with jitter).
    delivery_retry_seconds: float = 30.0
    mail_from: str = "Credit Department <credit@example.com>"
    base_currency: str = "EUR"
    policy_file: Path | None = None
    approvers_file: Path | None = None
    bank_accounts_file: Path | None = None  # the company's accounts, one per currency
    # What letters and customer notices show for the company: its name, and for reaching and
    # paying it (lines with " | "). Required before customer notices go out: no defaults.
    company_name: str | None = None
    company_address: str | None = None
    company_contact: str | None = None
    company_payment_details: str | None = None
    web_base_url: str = DEFAULT_WEB_BASE_URL
    web_base_url_set: bool = field(default=False, repr=False)  # CREDIT_WEB_BASE_URL was given
    web_secret: str | None = field(default=None, repr=False)
    link_valid_hours: int = 72
    timezone: str = "Europe/Berlin"  # the company's: "today" and days overdue are counted in it
    letters_dir: Path | None = None
    reports_dir: Path = Path("var/reports")
    log_dir: Path = Path("var/log")  # where the full traceback of an unexpected error is written
    run_dir: Path = Path("var/run")  # where a running `credit serve` keeps its command socket
    # The web workspace's sessions: ended after this long without a request, and this long after
    # sign-in whatever happens.
    session_idle_minutes: int = 30
    # A collections run over this many customers or more uses this many processes of the machine
    # (0: one per core), each working partitions of the run and sending what it queued.
    collections_processes: int = 0
    collections_parallel_from: int = 5000
    session_max_hours: int = 12
    # Single sign-on over OpenID Connect (all three set it up): the identity provider's issuer
    # URL (its /.well-known/openid-configuration is read), and this app's client there.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_claim: str = (
        "email"  # the ID token's claim that names a directory person (email | preferred_username)
    )

    def __post_init__(self) -> None:
        if self.company_payment_details:
            check_payment_details(self.company_payment_details)

    @property
    def company(self) -> CompanyDetails:
        """The company as notices show it: name, address lines, contact lines, payment lines."""

        def lines(text: str | None) -> list[str]:
            return [part.strip() for part in (text or "").split("|") if part.strip()]

        return {
            "name": self.company_name or "",
            "address": lines(self.company_address),
            "contact": lines(self.company_contact),
            "payment": lines(self.company_payment_details),
        }

    def company_missing(self) -> list[str]:
        """The company settings that customer notices need and that are unset or still an example
        value, each with why: ``CREDIT_COMPANY_NAME (not set)``. Empty when all are configured."""
        values = dict(
            zip(
                COMPANY_SETTINGS,
                (
                    self.company_name,
                    self.company_address,
                    self.company_contact,
                    self.company_payment_details,
                ),
                strict=True,
            )
        )
        missing = []
        for name, value in values.items():
            if not value or not value.strip():
                missing.append(f"{name} (not set)")
            elif any(
                all(part in _squash(value) for part in p.split("|")) for p in _PLACEHOLDERS[name]
            ):
                missing.append(f"{name} (still the example value {value.strip()!r})")
        return missing

    @property
    def company_configured(self) -> bool:
        return not self.company_missing()

    def company_refusal(self, what: str) -> str | None:
        """Why ``what`` cannot go on (the company settings it needs), or None when they are set."""
        missing = self.company_missing()
        if not missing:
            return None
        return (
            f"{what}: customer letters and notices print the company's name, address, contact "
            f"and payment details, and these are not configured: {'; '.join(missing)}. Set them "
            "in .env or the environment (see .env.example)"
        )

    def warnings(self) -> list[str]:
        """Settings that work but probably not as meant (one line each)."""
        if self.web_base_url_set:
            return []
        return [
            f"CREDIT_WEB_BASE_URL is not set: links in approvers' notices point at "
            f"{DEFAULT_WEB_BASE_URL} (only reachable from this machine)"
        ]

    @property
    def letters_path(self) -> Path:
        """Where printable dunning letters go (default: the outbox's ``letters`` folder)."""
        return self.letters_dir or self.outbox_dir / "letters"

    def today(self) -> date:
        """Today in the company's time zone: the default business date of every command (the
        edge: the domain never asks the clock)."""
        return datetime.now(tz=ZoneInfo(self.timezone)).date()

    @property
    def delivery(self) -> Delivery:
        """``smtp`` when an SMTP host is set, otherwise ``file`` (.eml files in the outbox
        folder)."""
        return Delivery.SMTP if self.smtp_host else Delivery.FILE

    @property
    def policy_path(self) -> Path:
        return self.policy_file or resource_dir("config") / "policy.yaml"

    @property
    def approvers_path(self) -> Path:
        return self.approvers_file or resource_dir("config") / "approvers.yaml"

    @property
    def bank_accounts_path(self) -> Path:
        return self.bank_accounts_file or resource_dir("config") / "bank_accounts.yaml"

    def as_environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment from which :meth:`load` makes these settings again (for a helper
        process): ``base`` (``os.environ`` by default) without its ``CREDIT_*`` settings, then
        every setting given here."""
        names = {f"CREDIT_{f.name.upper()}": f for f in fields(self)}
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in names}
        for name, f in names.items():
            value = getattr(self, f.name)
            if f.name == "web_base_url_set" or value is None:
                continue
            if f.name == "web_base_url" and not self.web_base_url_set:
                continue
            if isinstance(value, bool):
                env[name] = "true" if value else "false"
            elif isinstance(value, float) and value.is_integer():
                env[name] = str(int(value))
            else:
                env[name] = str(value)
        return env

    @classmethod
    def load(
        cls, env_file: str | Path | None = ".env", environ: dict[str, str] | None = None
    ) -> Settings:
        """Read ``.env`` (if present) then the environment; the environment wins."""
        values: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            check_env_file(env_file)
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        env = _Environment(values)
        get, get_int, get_path = env.get, env.get_int, env.get_path
        currency = env.currency(cls.base_currency)
        timezone = env.timezone(cls.timezone)
        lease, smtp_timeout = env.lease_and_timeout()
        return cls(
            timezone=timezone,
            letters_dir=get_path("LETTERS_DIR"),
            reports_dir=get_path("REPORTS_DIR") or cls.reports_dir,
            log_dir=get_path("LOG_DIR") or cls.log_dir,
            run_dir=get_path("RUN_DIR") or cls.run_dir,
            database_url=get("DATABASE_URL") or cls.database_url,
            outbox_dir=get_path("OUTBOX_DIR") or cls.outbox_dir,
            smtp_host=get("SMTP_HOST"),
            smtp_port=get_int("SMTP_PORT", 25),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=(get("SMTP_STARTTLS") or "").lower() in _TRUE,
            smtp_timeout=smtp_timeout,
            delivery_lease_seconds=lease,
            delivery_retry_seconds=env.get_seconds("DELIVERY_RETRY_SECONDS", 30.0),
            mail_from=get("MAIL_FROM") or cls.mail_from,
            base_currency=currency,
            policy_file=get_path("POLICY_FILE"),
            approvers_file=get_path("APPROVERS_FILE"),
            bank_accounts_file=get_path("BANK_ACCOUNTS_FILE"),
            company_name=get("COMPANY_NAME"),
            company_address=get("COMPANY_ADDRESS"),
            company_contact=get("COMPANY_CONTACT"),
            company_payment_details=get("COMPANY_PAYMENT_DETAILS"),
            web_base_url=(get("WEB_BASE_URL") or cls.web_base_url).rstrip("/"),
            web_base_url_set=get("WEB_BASE_URL") is not None,
            web_secret=get("WEB_SECRET"),
            link_valid_hours=get_int("LINK_VALID_HOURS", 72),
            session_idle_minutes=get_int("SESSION_IDLE_MINUTES", 30),
            collections_processes=get_int("COLLECTIONS_PROCESSES", 0),
            collections_parallel_from=get_int("COLLECTIONS_PARALLEL_FROM", 5000),
            session_max_hours=get_int("SESSION_MAX_HOURS", 12),
            oidc_issuer=get("OIDC_ISSUER"),
            oidc_client_id=get("OIDC_CLIENT_ID"),
            oidc_client_secret=get("OIDC_CLIENT_SECRET"),
            oidc_claim=get("OIDC_CLAIM") or "email",
        )
