"""What goes wrong in a collections run, as the run reports it."""

from __future__ import annotations

from typing import Any


class AlreadyTaken(Exception):
    """Another run recorded this step (customer, currency, episode, level) first."""


class AmountOutOfRange(Exception):
    """A customer's amounts add up beyond what the ledger can hold: that customer fails, with
    this message as its reason, and the others are dunned."""

    def __init__(self, message: str, currency: str) -> None:
        super().__init__(message, currency)
        self.message, self.currency = message, currency

    def __str__(self) -> str:
        return self.message


class CollectionsRunFailed(Exception):
    """A run in which some customers failed: everyone else was dunned and committed. Carries the
    run's whole result (outcomes, counts, errors) for whoever shows it."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message, result)  # both in args: the exception pickles whole
        self.message, self.result = message, result

    def __str__(self) -> str:
        return self.message
