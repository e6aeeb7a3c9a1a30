"""A customer letter's content as stored with its notice: the context it was rendered from (typed,
so that amounts stay Decimals and dates dates) and its body for the PDF. Delivery makes the PDF
from it, so the letter a customer receives is the one decided when the notice was queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from credit.domain.bank_accounts import BankAccounts


class LetterRefused(Exception):
    """The letter must not go out as stored (no account, or another one, for its currency)."""


# How typed values are kept in JSON: {"$dec": "12.30"}, {"$date": "2026-10-01"}, ...
_DEC, _DATE, _TIME = "$dec", "$date", "$dt"


def freeze(value: Any) -> Any:
    """``value`` as JSON, Decimals, dates and times tagged so that :func:`thaw` gives them back."""
    # The plain types a context is made of first, by their exact type (a notice's context has
    # hundreds of values); subclasses (enums, Markup) and the rest as below.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(k): freeze(v) for k, v in value.items()}
    if kind is list:
        return [freeze(v) for v in value]
    if kind is Decimal:
        return {_DEC: str(value)}
    if kind is date:
        return {_DATE: value.isoformat()}
    return _freeze(value)


def _freeze(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Decimal):
        return {_DEC: str(value)}
    if isinstance(value, datetime):
        return {_TIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    if isinstance(value, Enum):
        return freeze(value.value)
    if isinstance(value, dict):
        return {str(k): freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [freeze(v) for v in value]
    raise TypeError(f"a letter cannot store a {type(value).__name__}: {value!r}")


def thaw(value: Any) -> Any:
    """What :func:`freeze` stored, with its Decimals, dates and times."""
    if isinstance(value, list):
        return [thaw(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(tag, text)] = value.items()
        if tag == _DEC:
            return Decimal(text)
        if tag == _DATE:
            return date.fromisoformat(text)
        if tag == _TIME:
            return datetime.fromisoformat(text)
    return {k: thaw(v) for k, v in value.items()}


# The line in a letter's body where the PDF puts its items table, totals and payment block.
STATEMENT_MARK = "[[statement]]"


@dataclass(frozen=True)
class Letter:
    """A stored letter: the notice's kind, locale and subject, the context, the body text."""

    notice_id: int
    kind: str
    locale: str
    subject: str
    created_at: datetime
    context: dict[str, Any]
    body: str

    @classmethod
    def of(cls, notice: Any) -> Letter | None:
        """The letter a notice (a ``Notice`` row or a claimed ``Outgoing``) carries, if any."""
        doc = getattr(notice, "document", None)
        if not doc:
            return None
        return cls(
            notice_id=notice.id or 0,
            kind=notice.kind,
            locale=notice.locale,
            subject=notice.subject,
            created_at=notice.created_at,
            context=thaw(doc["context"]),
            body=doc["body"],
        )

    @property
    def remittance(self) -> dict[str, Any] | None:
        """Where and how the customer pays (currency, amount, RF, account), if the letter says
        (the context's ``remittance``, see :mod:`credit.services.letters`)."""
        remit = self.context.get("remittance")
        return remit if isinstance(remit, dict) else None


def stored(context: dict[str, Any], body: str) -> dict[str, Any]:
    """The ``document`` column's value for a letter rendered from ``context``."""
    return {"context": freeze(context), "body": body}


def account_problem(letter: Letter, accounts: BankAccounts) -> str | None:
    """Why the letter cannot be sent with the account it names (None: it can). A letter that
    asks for money needs the company's account for its currency, and the one it names must still
    be that account: never sent with none, an old one or another currency's."""
    remit = letter.remittance
    if remit is None:
        return None
    currency = remit["currency"]
    configured = accounts.for_currency(currency)
    named = remit.get("account")
    retry = (
        f"Notice {letter.notice_id} stays in the outbox, failed; once fixed, "
        f"`credit notices retry {letter.notice_id} --as USER --reason ...` writes it again with "
        "the account and sends it"
    )
    if configured is None and (remit.get("asks") or named):
        return f"{accounts.missing(currency)}. {retry}"
    if configured is None:
        return None
    if not named:
        if not remit.get("asks"):
            return None
        return (
            f"the notice was written when the company had no {currency} account, and names none "
            f"(now {configured.iban_grouped}). {retry}"
        )
    if (named["iban"], named["bic"]) != (configured.iban, configured.bic):
        return (
            f"the notice names the {currency} account {named['iban_grouped']} (BIC "
            f"{named['bic']}), but the company's {currency} account is now "
            f"{configured.iban_grouped} (BIC {configured.bic}): not sent with an old account. "
            f"{retry}"
        )
    return None
