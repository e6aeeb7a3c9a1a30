"""The policy's ``team`` section: who works a collection case (collector rules), how a case ranks
(risk weights per rating) and what a dispute is about (reason codes, days to settle, escalation).

Policies without the section get the defaults: no rule (cases open unassigned, as before), a
weight of 1 for every rating (the priority of before), and the reason codes below."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectorRule(_Strict):
    """A case whose customer and overdue amount match every condition given goes to
    ``collector``; a condition left out matches anything. ``min_overdue`` (inclusive) and
    ``max_overdue`` (exclusive) are in the policy's base currency."""

    collector: str = Field(pattern=r"^[a-z][a-z0-9._-]*$")
    countries: list[str] = []
    currencies: list[str] = []
    ratings: list[str] = []
    min_overdue: Decimal | None = Field(default=None, ge=0)
    max_overdue: Decimal | None = Field(default=None, gt=0)

    @field_validator("countries", "currencies")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        for c in codes:
            if not re.fullmatch(r"[A-Z]{2,3}", c):
                raise ValueError(f"{c!r} is not an ISO country or currency code (upper case)")
        return codes

    @model_validator(mode="after")
    def _range(self) -> CollectorRule:
        low, high = self.min_overdue, self.max_overdue
        if low is not None and high is not None and high <= low:
            raise ValueError(
                f"collector rule for {self.collector}: max_overdue {high} is not above "
                f"min_overdue {low}"
            )
        return self


class DisputeCode(_Strict):
    code: str = Field(pattern=CODE)
    label: str
    days: int = Field(ge=1, le=365)  # a dispute of this code is due this many days after opening


DEFAULT_CODES = [
    DisputeCode(code="pricing", label="Price or discount", days=14),
    DisputeCode(code="delivery", label="Not delivered or late", days=10),
    DisputeCode(code="quality", label="Quality or damage", days=21),
    DisputeCode(code="quantity", label="Quantity", days=10),
    DisputeCode(code="duplicate", label="Billed twice", days=7),
    DisputeCode(code="other", label="Other", days=14),
]


class Team(_Strict):
    collector_rules: list[CollectorRule] = []
    default_collector: str | None = None  # when no rule matches (None: the case stays unassigned)
    # priority = overdue in the base currency x days of the oldest overdue item x weight / 1,000
    risk_weights: dict[str, Decimal] = {}  # rating grade -> weight; a grade not listed weighs 1
    dispute_codes: list[DisputeCode] = DEFAULT_CODES
    default_dispute_code: str = "other"
    # The credit team hears of a dispute still open this many days after its due date (None: never).
    dispute_escalate_after_days: int | None = Field(default=None, ge=1, le=365)

    @field_validator("risk_weights")
    @classmethod
    def _weights(cls, weights: dict[str, Decimal]) -> dict[str, Decimal]:
        for grade, w in weights.items():
            if w <= 0 or w > 100:
                raise ValueError(
                    f"risk weight {w} of rating {grade} must be above 0 and at most 100"
                )
        return weights

    @model_validator(mode="after")
    def _codes_known(self) -> Team:
        codes = [c.code for c in self.dispute_codes]
        if not codes or len(set(codes)) != len(codes):
            raise ValueError("team.dispute_codes must list at least one code, each once")
        if self.default_dispute_code not in codes:
            raise ValueError(
                f"team.default_dispute_code {self.default_dispute_code!r} is not one of "
                f"the dispute codes ({', '.join(codes)})"
            )
        return self

    def dispute_code(self, code: str) -> DisputeCode | None:
        return next((c for c in self.dispute_codes if c.code == code), None)

    def risk_weight(self, grade: str | None) -> Decimal:
        return self.risk_weights.get(grade or "", Decimal(1))
