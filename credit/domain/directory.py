"""The approver directory (``config/approvers.yaml``): who holds which role and authority."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]


class Absence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.end < self.start:
            raise ValueError(
                f"out-of-office period ends ({self.end}) before it starts ({self.start})"
            )
        return self


class Approver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=r"^[a-z][a-z0-9._-]*$")
    name: str
    email: Email
    roles: list[str] = Field(min_length=1)
    # What this person may approve (base currency); people who do not approve have none.
    authority_limit: Decimal = Field(default=Decimal(0), ge=0)
    delegate: str | None = None  # acts with this person's authority when they are away or late
    out_of_office: list[Absence] = []

    def away(self, on: date) -> bool:
        return any(a.start <= on <= a.end for a in self.out_of_office)


class Teams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    credit: Email
    collections: Email
    review_requester: str = Field(description="username that opens scheduled re-reviews")
    operator: Email | None = Field(
        default=None,
        description="who hears of notices that could not be delivered (default: the credit team)",
    )

    @property
    def operator_email(self) -> str:
        return self.operator or self.credit


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: list[Approver] = Field(min_length=1)
    teams: Teams

    @model_validator(mode="after")
    def _usernames_unique(self) -> Directory:
        names = [a.username for a in self.approvers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"usernames appear more than once: {', '.join(dupes)}")
        for a in self.approvers:
            if a.delegate is not None and (a.delegate not in names or a.delegate == a.username):
                raise ValueError(
                    f"{a.username}: delegate {a.delegate!r} is not another listed approver"
                )
        if self.teams.review_requester not in names:
            raise ValueError(
                f"teams.review_requester {self.teams.review_requester!r} is not listed"
            )
        return self

    def get(self, username: str) -> Approver | None:
        return next((a for a in self.approvers if a.username == username), None)

    def holders(self, role: str) -> list[Approver]:
        return [a for a in self.approvers if role in a.roles]
