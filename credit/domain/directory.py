"""The approver directory (``config/approvers.yaml``): who holds which role and authority."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]


class Approver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=r"^[a-z][a-z0-9._-]*$")
    name: str
    email: Email
    roles: list[str] = Field(min_length=1)
    authority_limit: Decimal = Field(ge=0)


class Teams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    credit: Email
    collections: Email
    review_requester: str = Field(description="username that opens scheduled re-reviews")


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
        if self.teams.review_requester not in names:
            raise ValueError(
                f"teams.review_requester {self.teams.review_requester!r} is not listed"
            )
        return self

    def get(self, username: str) -> Approver | None:
        return next((a for a in self.approvers if a.username == username), None)

    def holders(self, role: str) -> list[Approver]:
        return [a for a in self.approvers if role in a.roles]
