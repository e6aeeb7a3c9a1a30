"""The policy's ``limits`` section: how long a temporary limit may run, and whether a group over
its limit is a risk signal. Policies without the section get these defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A temporary limit (`credit reviews start ... --until D`) may end at most this many days
    # after the day it is asked for.
    temporary_max_days: int = Field(default=366, ge=1, le=1830)
    # The customer hears of the fallback (a letter like the terms letter) besides the credit team
    # and the sales owner.
    temporary_tell_customer: bool = True
