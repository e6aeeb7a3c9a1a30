"""What every command shares: the consoles, refusals as one line and exit code 2, parsing a date
or an amount typed on the command line, and amounts, figures and moments as tables show them.

Nothing heavy is imported here: `credit --help` loads this module."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Generator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from credit.domain.words import counted
from credit.settings import Settings, SettingsError

if TYPE_CHECKING:
    from credit.app import App

# Piped output (a file, less, grep) is not folded to 80 columns: tables stay one row per line.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 180
console = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

AsOpt = Annotated[
    str | None, typer.Option("--as-of", help="Business date, YYYY-MM-DD (default: today).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
UserOpt = Annotated[str, typer.Option("--as", help="Who does this (audited).")]


class BadInput(Exception):
    pass


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


class _NeverRaised(Exception):
    """Stands for the error class of a module the command has not loaded: none was raised."""


def _if_loaded(module: str, name: str) -> Any:
    """``module.name`` once the command has loaded ``module``, else :class:`_NeverRaised`: an
    ``except`` clause evaluates it only when an error arrives, so a command that never loads the
    importers or Jinja does not import them just to catch their errors."""
    loaded = sys.modules.get(module)
    return _NeverRaised if loaded is None else getattr(loaded, name)


@contextmanager
def clear_errors() -> Generator[None, None, None]:
    """Turn the product's refusals into a clear message and exit code 2 (no traceback)."""
    from credit.app import NotInitialised
    from credit.config import ConfigError
    from credit.services import ServiceError

    try:
        yield
    except _if_loaded("credit.importers", "ImportFailed") as exc:
        for e in exc.errors:
            err.print(str(e), highlight=False, markup=False, soft_wrap=True)
        fail(f"{counted(len(exc.errors), 'error')}; nothing was imported")
    except (
        ServiceError,
        ConfigError,
        SettingsError,
        NotInitialised,
        _if_loaded("credit.notices", "NoticeError"),
        BadInput,
    ) as exc:
        fail(str(exc))
    except Exception as exc:  # database unreachable and the like: say so without a traceback
        _fail_on_database_error(exc)
        raise


def _fail_on_database_error(exc: Exception) -> None:
    """A database error ends the command with one line; anything else is left to the caller."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        if any(
            gone in str(exc.orig) for gone in ("no such table", "no such column", "does not exist")
        ):
            fail("the database is not initialised (or is from an older version): run `credit init`")
        reason = " ".join(str(exc.orig).split())[:300]
        fail(f"database error: {reason} (details in {report_unexpected(exc)})")


def get_app() -> App:
    from credit.app import App

    try:
        return App(Settings.load())
    except SettingsError as exc:
        fail(str(exc))


def require_company(settings: Settings, what: str) -> None:
    """Refuse (nothing is created or started) while customer notices would lack the company's
    details; warn of settings that work but probably not as meant."""
    refusal = settings.company_refusal(what)
    if refusal:
        fail(refusal)
    for line in settings.warnings():
        err.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)


def parse_date(value: str | None, option: str = "--as-of") -> date:
    if value is None:
        try:
            return Settings.load().today()  # the edge: today in the company's time zone
        except SettingsError as exc:
            fail(str(exc))
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: value {value!r} is not an ISO date (YYYY-MM-DD)")


def parse_money(value: str, option: str) -> Decimal:
    """An amount typed on the command line (plain decimals, not negative, at most the limit of one
    document); a bad one ends the command with the reason."""
    from credit.domain.money import MAX_DOCUMENT_AMOUNT, parse_amount

    try:  # the limit of one document: what a command adds to a customer's total stays summable
        amount = parse_amount(value, maximum=MAX_DOCUMENT_AMOUNT)
    except ValueError as exc:
        fail(f"{option}: value {value!r}: {exc}")
    if amount < 0:
        fail(f"{option}: value {value!r}: must not be negative")
    return amount


def as_code(value: str) -> str:
    """A customer code as typed ('c-1001 ') as stored ('C-1001')."""
    return value.strip().upper()


def fmt_amount(value: Any, currency: str) -> str:
    """An amount as tables show it: 'EUR 18,250.00', 'JPY 5,000' (the currency's decimals, exact
    from the Decimal); nothing for no amount."""
    if value is None or str(value).strip() == "":
        return ""
    from credit.domain.money import fmt_money

    return fmt_money(Decimal(str(value)), currency).strip()


def fmt_figure(value: Any) -> str:
    """A figure as a reader takes it in: '42,000,000' for 42000000.0000, '0.8571' stays."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not number.is_finite() or abs(number) < 1000:
        return str(value)
    text = f"{number:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_time(value: str | None) -> str:
    """A stored moment (ISO, UTC) in the company's time zone: '2026-12-08 01:41 CET'."""
    if not value:
        return "-"
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_company_zone()).strftime("%Y-%m-%d %H:%M %Z")


@functools.lru_cache(maxsize=1)
def _company_zone() -> Any:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(Settings.load().timezone)
    except SettingsError:
        return ZoneInfo("UTC")


def print_json(data: Any) -> None:
    from credit.audit import jsonable

    sys.stdout.write(json.dumps(jsonable(data), indent=2) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[str(v) for v in r])
    console.print(t)


def error_log() -> Path:
    """The file unexpected errors are written to: CREDIT_LOG_DIR (default var/log) if it can be
    written, else the system's temporary folder."""
    import tempfile

    try:
        folder = Settings.load().log_dir
    except SettingsError:
        folder = Path("var/log")
    for candidate in (folder, Path(tempfile.gettempdir())):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            path = candidate / "credit-errors.log"
            with path.open("a", encoding="utf-8"):
                return path.resolve()
        except OSError:
            continue
    return Path(tempfile.gettempdir()) / "credit-errors.log"


def report_unexpected(exc: BaseException) -> Path:
    """Write the traceback of an error the product did not expect to the error log; the path."""
    import traceback
    from datetime import UTC, datetime

    path = error_log()
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(
                f"--- {datetime.now(UTC).isoformat(timespec='seconds')} pid {os.getpid()}: "
                f"credit {' '.join(sys.argv[1:])}\n"
            )
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass
    return path
