"""The company's bank accounts, one per currency: where a letter asks the customer to pay."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class BankAccount:
    """An account customers pay into (its IBAN compact, upper case; the BIC 8 or 11)."""

    currency: str
    iban: str
    bic: str
    bank: str
    holder: str

    @property
    def iban_grouped(self) -> str:
        """The IBAN as printed: groups of four (``DE89 3704 0044 0532 0130 00``)."""
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))

    def view(self) -> dict[str, str]:
        """What a notice shows of it."""
        return {
            "currency": self.currency,
            "iban": self.iban,
            "iban_grouped": self.iban_grouped,
            "bic": self.bic,
            "bank": self.bank,
            "holder": self.holder,
        }


@dataclass(frozen=True)
class BankAccounts:
    """The company's accounts by currency (validated on loading: one per currency)."""

    accounts: tuple[BankAccount, ...] = ()
    source: str = ""  # the file they were read from, for messages

    @classmethod
    def of(cls, accounts: Iterable[BankAccount], source: str = "") -> BankAccounts:
        return cls(tuple(accounts), source)

    def for_currency(self, currency: str) -> BankAccount | None:
        """The account for ``currency``, or None when the company has none in it."""
        return next((a for a in self.accounts if a.currency == currency.upper()), None)

    @property
    def currencies(self) -> list[str]:
        return sorted(a.currency for a in self.accounts)

    def missing(self, currency: str) -> str:
        """Why a letter in ``currency`` cannot name an account (for the operator)."""
        where = self.source or "the bank accounts file"
        have = ", ".join(self.currencies) or "none"
        return (
            f"no company bank account for {currency} in {where} (accounts for: {have}): a "
            f"letter asking for payment in {currency} would name no account or a wrong one. Add "
            f"the {currency} account there (CREDIT_BANK_ACCOUNTS_FILE)"
        )
