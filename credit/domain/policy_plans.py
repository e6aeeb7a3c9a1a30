"""The policy's ``plans`` section: instalment plans (how many dated amounts a promise may carry,
how far ahead) and write-offs (who proposes them, the levels that approve them by amount)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WriteOffLevel(_Strict):
    """Level ``level`` is needed when the amount (in the base currency) exceeds the previous
    level's ``up_to`` (as the authority matrix's levels)."""

    level: int = Field(ge=1)
    role: str
    up_to: Decimal | None = None  # None: no upper bound (the last level)


class Plans(_Strict):
    """Instalment plans and write-offs. Policies without the section get these defaults: plans
    of up to 12 instalments within a year, write-offs proposed by collectors and routed through
    the authority matrix's levels."""

    max_instalments: int = Field(default=12, ge=2, le=60)
    max_plan_days: int = Field(default=365, ge=1, le=1830)  # the last instalment at the latest
    write_off_proposers: list[str] = Field(default=["collector"], min_length=1)
    write_off_levels: list[WriteOffLevel] = []  # empty: the authority matrix's levels

    @model_validator(mode="after")
    def _levels_ascend(self) -> Plans:
        levels = self.write_off_levels
        if not levels:
            return self
        if [lv.level for lv in levels] != list(range(1, len(levels) + 1)):
            raise ValueError("plans.write_off_levels must be numbered 1, 2, 3, ... in order")
        bounds = [lv.up_to for lv in levels]
        if any(b is None for b in bounds[:-1]) or bounds[-1] is not None:
            raise ValueError("only the last of plans.write_off_levels has no upper bound ('up_to')")
        finite = [b for b in bounds if b is not None]
        if finite != sorted(finite) or len(set(finite)) != len(finite):
            raise ValueError("the 'up_to' amounts of plans.write_off_levels must ascend")
        return self
