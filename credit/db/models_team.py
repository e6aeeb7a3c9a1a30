"""Tables of collector assignment rules, case priority, dispute reason codes and owners.

Collector rules and risk weights live in the policy (``team``); a case's collector is
``collection_case.collector`` (migration 0011) and its priority is computed when the worklist is
read. What a dispute adds to ``dispute`` (reason code, owner, due date) is a side table here."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class DisputeTerms(SQLModel, table=True):
    """A dispute's reason code (one of the policy's ``team.dispute_codes``), the person who owns
    settling it (anyone in the directory, e.g. sales) and the date it should be settled by."""

    __tablename__ = "dispute_terms"

    dispute_id: int = Field(foreign_key="dispute.id", primary_key=True)
    code: str = Field(max_length=40)
    owner: str | None = Field(default=None, max_length=60, index=True)
    due_on: date = Field(index=True)
