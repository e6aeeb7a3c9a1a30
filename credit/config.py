"""Load and validate the YAML configuration (policy, approver directory, bank accounts) with
located errors."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from credit.domain.bank_accounts import BankAccount, BankAccounts
from credit.domain.directory import Directory
from credit.domain.policy import PolicyBody


class ConfigError(ValueError):
    """A configuration file is unreadable or invalid; the message names the file and the field."""


class _DecimalLoader(yaml.SafeLoader):
    """YAML loader that reads unquoted floats as Decimal (money never becomes a float)."""


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)))  # type: ignore[arg-type]  # only scalars reach here; the stub takes any node


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None


def validate(model: type[BaseModel], data: Any, source: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid {model.__name__}:"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def load_policy_file(path: Path) -> PolicyBody:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return validate(PolicyBody, read_yaml(text, str(path)), str(path))


def load_directory(path: Path) -> Directory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return validate(Directory, read_yaml(text, str(path)), str(path))


_ACCOUNT_FIELDS = ("currency", "iban", "bic", "bank", "holder")
# IBAN countries whose banks commonly have a BIC of another country (Monaco's French banks,
# San Marino's and the Vatican's Italian ones): the BIC's country is checked against these too.
_BIC_COUNTRIES = {"MC": {"FR"}, "SM": {"IT"}, "VA": {"IT"}}


def load_bank_accounts(path: Path) -> BankAccounts:
    """The company's bank accounts (``config/bank_accounts.yaml``): a list of ``{currency, iban,
    bic, bank, holder}``, one per currency. Every IBAN and BIC is checked (schwifty: checksum,
    length, country, BIC format) and so is their agreement (the bank the IBAN's bank code names
    must be the BIC's, where schwifty's bank registry knows it; else the country). Any problem
    raises :class:`ConfigError` with one line per problem: file, entry, field, value, reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    data = read_yaml(text, str(path))
    if not isinstance(data, list) or not data:
        raise ConfigError(
            f"{path}: expected a list of accounts ({', '.join(_ACCOUNT_FIELDS)}), "
            f"found {type(data).__name__}"
        )
    problems: list[str] = []
    accounts: list[BankAccount] = []
    seen: dict[str, int] = {}
    for n, entry in enumerate(data, start=1):
        account = _bank_account(entry, f"{path}: entry {n}", problems)
        if account is None:
            continue
        if account.currency in seen:
            problems.append(
                f"{path}: entry {n} ({account.currency}), field currency: value "
                f"{account.currency!r}: {account.currency} already has an account (entry "
                f"{seen[account.currency]}); one account per currency"
            )
            continue
        seen[account.currency] = n
        accounts.append(account)
    if problems:
        raise ConfigError("\n".join(problems))
    return BankAccounts.of(accounts, source=str(path))


def _bank_account(entry: Any, where: str, problems: list[str]) -> BankAccount | None:
    """One entry checked field by field (each problem appended as one line), or None."""
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping of {', '.join(_ACCOUNT_FIELDS)}")
        return None
    currency = str(entry.get("currency") or "").strip().upper()
    where = f"{where} ({currency or '?'})"
    before = len(problems)

    def problem(field: str, reason: str) -> None:
        problems.append(f"{where}, field {field}: value {entry.get(field)!r}: {reason}")

    for unknown in sorted(set(map(str, entry)) - set(_ACCOUNT_FIELDS)):
        problem(unknown, f"unknown field (expected {', '.join(_ACCOUNT_FIELDS)})")
    for field in _ACCOUNT_FIELDS:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            problem(field, "missing or empty (text expected)")
    if len(problems) > before:
        return None
    from babel.numbers import is_currency

    if not is_currency(currency):
        problem("currency", "not an ISO 4217 currency code")
    if len(" ".join(entry["holder"].split())) > 70:
        problem("holder", "longer than 70 characters (what a payment QR code can carry)")
    iban, bic = _checked_iban_and_bic(entry, problem)
    if iban is None or bic is None or len(problems) > before:
        return None
    return BankAccount(
        currency=currency,
        iban=iban,
        bic=bic,
        bank=" ".join(entry["bank"].split()),
        holder=" ".join(entry["holder"].split()),
    )


def _checked_iban_and_bic(
    entry: dict[str, Any], problem: Callable[[str, str], None]
) -> tuple[str | None, str | None]:
    """The IBAN and BIC (compact) if each is valid and they agree; else the problems told."""
    from schwifty import BIC, IBAN
    from schwifty.exceptions import SchwiftyException

    def reason(exc: Exception) -> str:
        text = str(exc).rstrip(".") or type(exc).__name__
        return text[0].lower() + text[1:]

    iban = bic = None
    try:
        iban = IBAN(entry["iban"])
    except (SchwiftyException, ValueError) as exc:
        problem("iban", f"not a valid IBAN: {reason(exc)}")
    try:
        bic = BIC(entry["bic"])
    except (SchwiftyException, ValueError) as exc:
        problem("bic", f"not a valid BIC: {reason(exc)}")
    if iban is None or bic is None:
        return None, None
    known = iban.bic  # the BIC schwifty's bank registry gives the IBAN's bank code, if it knows
    if known is not None and known.compact[:6] != bic.compact[:6]:
        problem(
            "bic",
            f"does not belong to the IBAN's bank: IBAN {iban.formatted} is held at "
            f"{iban.bank_name or 'a bank'} ({known.compact})",
        )
        return None, None
    countries = {iban.country_code} | _BIC_COUNTRIES.get(iban.country_code, set())
    if known is None and bic.country_code not in countries:
        problem(
            "bic",
            f"is a bank in {bic.country_code}, the IBAN an account in {iban.country_code}",
        )
        return None, None
    return iban.compact, bic.compact
