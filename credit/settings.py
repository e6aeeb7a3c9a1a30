"""Settings read once at the edge (CLI, flow entry) from the environment and ``.env``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from credit.resources import resource_dir

_TRUE = {"1", "true", "yes", "on"}


class SettingsError(ValueError):
    """A setting has a value the product cannot use."""


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
    company_name: str = "Example Trading GmbH"
    # What letters and customer notices show for reaching and paying the company (lines with " | ").
    company_address: str = "Example Trading GmbH | Hafenstrasse 1 | 20457 Hamburg | Germany"
    company_contact: str = "credit@example.com | +49 40 1234 5670"
    company_payment_details: str = "IBAN DE89 3704 0044 0532 0130 00 | BIC COBADEFFXXX"
    web_base_url: str = "http://127.0.0.1:8765"
    web_secret: str | None = field(default=None, repr=False)
    link_valid_hours: int = 72
    timezone: str = "Europe/Berlin"  # the company's: "today" and days overdue are counted in it
    letters_dir: Path | None = None
    reports_dir: Path = Path("var/reports")
    log_dir: Path = Path("var/log")  # where the full traceback of an unexpected error is written

    @property
    def company(self) -> dict[str, object]:
        """The company as notices show it: name, address lines, contact lines, payment lines."""

        def lines(text: str) -> list[str]:
            return [part.strip() for part in text.split("|") if part.strip()]

        return {
            "name": self.company_name,
            "address": lines(self.company_address),
            "contact": lines(self.company_contact),
            "payment": lines(self.company_payment_details),
        }

    @property
    def letters_path(self) -> Path:
        """Where printable dunning letters go (default: the outbox's ``letters`` folder)."""
        return self.letters_dir or self.outbox_dir / "letters"

    def today(self) -> date:
        """Today in the company's time zone: the default business date of every command (the
        edge: the domain never asks the clock)."""
        return datetime.now(tz=ZoneInfo(self.timezone)).date()

    @property
    def delivery(self) -> str:
        """``smtp`` when an SMTP host is set, otherwise ``file`` (.eml files in the outbox folder)."""
        return "smtp" if self.smtp_host else "file"

    @property
    def policy_path(self) -> Path:
        return self.policy_file or resource_dir("config") / "policy.yaml"

    @property
    def approvers_path(self) -> Path:
        return self.approvers_file or resource_dir("config") / "approvers.yaml"

    @classmethod
    def load(
        cls, env_file: str | Path | None = ".env", environ: dict[str, str] | None = None
    ) -> Settings:
        """Read ``.env`` (if present) then the environment; the environment wins."""
        values: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            raw = values.get(f"CREDIT_{name}")
            return raw.strip() if raw is not None and raw.strip() != "" else None

        def get_int(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"CREDIT_{name}: value {raw!r} is not a whole number") from None

        def get_seconds(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not value > 0:
                raise SettingsError(
                    f"CREDIT_{name}: value {raw!r} is not a positive number of seconds"
                )
            return value

        def get_path(name: str) -> Path | None:
            raw = get(name)
            return Path(raw) if raw else None

        currency = (get("BASE_CURRENCY") or cls.base_currency).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise SettingsError(f"CREDIT_BASE_CURRENCY: value {currency!r} is not an ISO 4217 code")
        timezone = get("TIMEZONE") or cls.timezone
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"CREDIT_TIMEZONE: value {timezone!r} is not an IANA time zone (e.g. Europe/Berlin)"
            ) from None
        lease = get_int("DELIVERY_LEASE_SECONDS", 300)
        smtp_timeout = float(get_int("SMTP_TIMEOUT", 30))
        if lease <= smtp_timeout:
            raise SettingsError(
                f"CREDIT_DELIVERY_LEASE_SECONDS: value {lease!r} must be longer than "
                f"CREDIT_SMTP_TIMEOUT ({smtp_timeout:g} s): a sender must finish a message "
                "before another may take it over"
            )
        return cls(
            timezone=timezone,
            letters_dir=get_path("LETTERS_DIR"),
            reports_dir=get_path("REPORTS_DIR") or cls.reports_dir,
            log_dir=get_path("LOG_DIR") or cls.log_dir,
            database_url=get("DATABASE_URL") or cls.database_url,
            outbox_dir=get_path("OUTBOX_DIR") or cls.outbox_dir,
            smtp_host=get("SMTP_HOST"),
            smtp_port=get_int("SMTP_PORT", 25),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=(get("SMTP_STARTTLS") or "").lower() in _TRUE,
            smtp_timeout=smtp_timeout,
            delivery_lease_seconds=lease,
            delivery_retry_seconds=get_seconds("DELIVERY_RETRY_SECONDS", 30.0),
            mail_from=get("MAIL_FROM") or cls.mail_from,
            base_currency=currency,
            policy_file=get_path("POLICY_FILE"),
            approvers_file=get_path("APPROVERS_FILE"),
            company_name=get("COMPANY_NAME") or cls.company_name,
            company_address=get("COMPANY_ADDRESS") or cls.company_address,
            company_contact=get("COMPANY_CONTACT") or cls.company_contact,
            company_payment_details=get("COMPANY_PAYMENT_DETAILS") or cls.company_payment_details,
            web_base_url=(get("WEB_BASE_URL") or cls.web_base_url).rstrip("/"),
            web_secret=get("WEB_SECRET"),
            link_valid_hours=get_int("LINK_VALID_HOURS", 72),
        )
