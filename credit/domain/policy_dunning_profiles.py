"""The parts of the policy's ``dunning_profiles`` section that stand on their own: a courtesy
reminder before the due date, a rule that assigns a profile, and the checks a profile's schedule
and an amount per currency must pass (shared with ``credit.domain.policy``, which holds the
profiles themselves beside the dunning levels they list)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from credit.domain.money import decimal_exponent

# The profile of a policy without a ``dunning_profiles`` section (its ``dunning.levels``), and
# the name of that schedule in a policy with profiles when it does not redefine it.
STANDARD = "standard"
NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_amounts(amounts: dict[str, Decimal], what: str) -> dict[str, Decimal]:
    """Amounts per currency: ISO 4217 codes, positive, at most 2 decimals."""
    for cur, amount in amounts.items():
        if not re.fullmatch(r"[A-Z]{3}", cur):
            raise ValueError(f"{what} currency {cur!r} is not an ISO 4217 code")
        if amount <= 0 or decimal_exponent(amount) < -2:
            raise ValueError(f"{what} {amount} {cur} must be positive with at most 2 decimals")
    return amounts


class LevelLike(Protocol):
    @property
    def level(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def days(self) -> int: ...


def check_schedule(levels: Sequence[LevelLike]) -> None:
    """A schedule's levels are numbered 1, 2, 3 …, named uniquely, and its after_due levels'
    days strictly ascend."""
    if [lv.level for lv in levels] != list(range(1, len(levels) + 1)):
        raise ValueError("dunning levels must be numbered 1, 2, 3, ... in order")
    if len({lv.name for lv in levels}) != len(levels):
        raise ValueError("dunning level names must be unique")
    after_due = [lv.days for lv in levels if lv.trigger == "after_due"]
    if after_due != sorted(after_due) or len(set(after_due)) != len(after_due):
        raise ValueError("the days of the after_due dunning levels must strictly ascend")


class Courtesy(_Strict):
    """A friendly reminder ``days_before_due`` days before an invoice falls due: sent once per
    invoice, never a dunning level (no escalation, charge or hold). ``min_amount`` per currency:
    the items coming due must add up to at least this (currencies not listed: any amount)."""

    days_before_due: int = Field(ge=1, le=60)
    template: str = Field(default="dunning_courtesy", pattern=NAME)
    channel: Literal["email"] = "email"
    min_amount: dict[str, Decimal] = {}

    @field_validator("min_amount")
    @classmethod
    def _amounts(cls, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_amounts(amounts, "courtesy min_amount")


class ProfileRule(_Strict):
    """Customers matching every condition given (country, the credit line's rating, segment;
    each a list of values) follow ``profile``. The first matching rule wins."""

    profile: str = Field(pattern=NAME)
    country: list[str] = []
    rating: list[str] = []
    segment: list[str] = []

    @model_validator(mode="after")
    def _says_something(self) -> ProfileRule:
        if not (self.country or self.rating or self.segment):
            raise ValueError(
                f"the rule for profile {self.profile} names no country, rating or segment"
            )
        return self

    def matches(self, *, country: str, rating: str | None, segment: str | None) -> bool:
        return (
            (not self.country or country in self.country)
            and (not self.rating or rating in self.rating)
            and (not self.segment or segment in self.segment)
        )

    def describe(self) -> str:
        """``country DE, AT; rating A``: what the rule asks for, as a person reads it."""
        parts = [
            f"{what} {', '.join(values)}"
            for what, values in (
                ("country", self.country),
                ("rating", self.rating),
                ("segment", self.segment),
            )
            if values
        ]
        return "; ".join(parts)
