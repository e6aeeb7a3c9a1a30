"""The approval engine does not know what it approves: a subject of its own kind, registered only
here (a write-off kept in memory), is routed, decided under the four-eyes rules, restarted when it
changes under an approval, and closed, without a line of the engine knowing it."""

# The toy implements the engine's interface and ignores most of what it is handed:
# ruff: noqa: ARG002, ARG003, ARG005

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
from sqlmodel import Session, select

from credit.app import App
from credit.db.models import ApprovalStep, AuditEvent, Notice
from credit.notices import NoticeRenderer
from credit.services import DecisionRefused, ServiceError
from credit.services.approval_chain import (
    ApprovalSubject,
    ChainRestarted,
    Level,
    Listing,
    NoticeSpec,
    advance,
    decide,
    pending_approvals,
    register,
    unregister,
)

DAY = date(2026, 12, 1)


@dataclass
class WriteOffRow:
    id: int
    amount: Decimal
    requested_by: str
    status: str = "in_approval"


class WriteOff(ApprovalSubject):
    """A write-off of a bad debt: a credit manager, then the finance director, in that order."""

    kind = "toy_write_off"  # not "write_off": the real subject keeps its registration
    label = "write-off"
    noun = "write-off"
    voided_kind = "write_off_voided"
    book: ClassVar[dict[int, WriteOffRow]] = {}
    locked: ClassVar[list[int]] = []
    approved: ClassVar[list[int]] = []

    def __init__(self, app: App, s: Session, row: WriteOffRow, *, as_of: date | None) -> None:
        super().__init__(app, s, as_of=as_of)
        self.row = row

    @classmethod
    def lock(cls, s: Session, subject_id: int) -> None:
        cls.locked.append(subject_id)

    @classmethod
    def find(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self | None:
        row = cls.book.get(subject_id)
        return None if row is None else cls(app, s, row, as_of=as_of)

    @classmethod
    def missing(cls, subject_id: int) -> str:
        return f"no write-off {subject_id}"

    subject_id = property(lambda self: self.row.id)
    status = property(lambda self: self.row.status)
    awaiting_approval = property(lambda self: self.row.status == "in_approval")
    ready_to_route = property(lambda self: self.row.status == "in_approval")
    requester = property(lambda self: self.row.requested_by)
    amount = property(lambda self: self.row.amount)
    policy_version = property(lambda self: 1)
    due_hours = property(lambda self: 24)

    def listing(self) -> Listing:
        return {
            "subject": "write-off",
            "id": self.row.id,
            "customer": "-",
            "kind": "toy_write_off",
            "amount": str(self.row.amount),
            "currency": "EUR",
            "rating": "",
            "requested_by": self.row.requested_by,
        }

    def evidence(self) -> dict[str, Any]:
        return {"write_off": self.row.id, "amount": str(self.row.amount)}

    def route(self) -> list[Level]:
        return [
            Level(1, "credit_manager", None, "every write-off"),
            Level(2, "finance_director", None, "every write-off"),
        ]

    def on_routed(self, levels: list[Level]) -> None:
        assert [lv.level for lv in levels] == [1, 2]

    def notice_context(self, steps: list[ApprovalStep]) -> dict[str, Any]:
        return {"write_off": {"id": self.row.id, "amount": str(self.row.amount)}}

    def on_rejected(self, rejected: ApprovalStep, ctx: dict[str, Any]) -> list[int]:
        self.row.status = "rejected"
        return []

    def on_approved(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:
        if self.row.status == "in_approval":
            self.row.status = "approved"
            self.approved.append(self.row.id)

    def asked_notice(self, step: ApprovalStep, who: str | None, ctx: dict[str, Any]) -> NoticeSpec:
        return NoticeSpec(
            key=f"write-off-needed:{step.id}:r{step.round}:{who}",
            kind="write_off_needed",
            recipients=[self.app.directory.teams.credit],
            context=ctx,
            asks=step,
        )

    def voided_context(self) -> dict[str, Any]:
        return {"write_off": {"id": self.row.id, "amount": str(self.row.amount)}}

    def how_to_decide(self, step: ApprovalStep, *, link: bool, anyone: bool) -> dict[str, Any]:
        return {"how": f"approve write-off {self.row.id} as {step.approver or 'USER'}"}


TEMPLATES = {
    "write_off_needed": (
        '{% set subject = "Write-off " ~ write_off.id ~ ": level " ~ step.level %}'
        "Hello {{ approver }}: {{ how }}\n"
    ),
    "write_off_voided": (
        '{% set subject = "Write-off voided: level " ~ step.level %}{{ changes }}\n'
    ),
}


@pytest.fixture
def write_offs(app: App, tmp_path: Path):
    for kind, text in TEMPLATES.items():
        (tmp_path / "notices").mkdir(exist_ok=True)
        (tmp_path / "notices" / f"{kind}.en.txt.j2").write_text(text)
        (tmp_path / "notices" / f"{kind}.en.html.j2").write_text("<p>{{ write_off.id }}</p>")
    app.__dict__["renderer"] = NoticeRenderer(tmp_path, company_name="Toy company")
    WriteOff.book.clear()
    WriteOff.book[1] = WriteOffRow(1, Decimal("30000"), "sam.sales")
    register(WriteOff)
    yield app
    unregister(WriteOff.kind)


def _steps(app: App) -> list[tuple[int, str, str | None, str | None]]:
    with app.uow() as uow:
        return [
            (st.level, st.decision, st.approver, st.decided_by)
            for st in uow.session.exec(
                select(ApprovalStep).where(ApprovalStep.subject == "toy_write_off")
            )
        ]


def _decide(app: App, who: str, approve: bool = True, comment: str | None = "ok") -> ApprovalStep:
    return decide(
        app,
        subject="toy_write_off",
        subject_id=1,
        username=who,
        approve=approve,
        comment=comment,
        as_of=DAY,
    )


def test_a_subject_registered_only_here_is_routed_asked_decided_in_order_and_approved(write_offs):
    app = write_offs
    progress = advance(app, subject="toy_write_off", subject_id=1, as_of=DAY)
    assert progress.status == "in_approval"
    assert progress.waiting_for == "level 1 (credit_manager): carla.manager"
    assert len(progress.notices) == 1
    assert _steps(app) == [(1, "pending", "carla.manager", None), (2, "pending", None, None)]
    [listed] = pending_approvals(app)
    assert (listed["subject"], listed["level"], listed["approver"]) == (
        "write-off",
        1,
        "carla.manager",
    )

    with pytest.raises(DecisionRefused, match="sam.sales requested this"):
        _decide(app, "sam.sales")  # four eyes: the requester never approves
    _decide(app, "carla.manager")
    with pytest.raises(DecisionRefused, match="already decided another level"):
        _decide(app, "carla.manager")
    assert _steps(app)[1][2] == "fiona.director"  # the next level is asked
    _decide(app, "fiona.director")

    assert WriteOff.book[1].status == "approved" and WriteOff.approved == [1]
    assert WriteOff.locked  # every decision took the subject's lock first
    with app.uow() as uow:
        actions = [
            e.action
            for e in uow.session.exec(select(AuditEvent))
            if e.entity_type == "toy_write_off"
        ]
        asked = [
            n.subject for n in uow.session.exec(select(Notice)) if n.kind == "write_off_needed"
        ]
    assert actions == [
        "approval.refused",
        "approval.approve",
        "approval.refused",
        "approval.approve",
    ]
    assert asked == ["Write-off 1: level 1", "Write-off 1: level 2"]
    assert pending_approvals(app) == []


def test_a_rejection_closes_the_subject_and_a_change_under_an_approval_restarts_the_chain(
    write_offs,
):
    app = write_offs
    advance(app, subject="toy_write_off", subject_id=1, as_of=DAY)
    _decide(app, "carla.manager")
    WriteOff.book[1].amount = Decimal("45000")  # the write-off changed after level 1 approved
    with pytest.raises(ChainRestarted, match="write-off 1 changed since level 1 approved it"):
        _decide(app, "fiona.director")
    assert [st[1] for st in _steps(app)] == ["pending", "pending"]
    with app.uow() as uow:
        [voided] = [n for n in uow.session.exec(select(Notice)) if n.kind == "write_off_voided"]
    assert "amount: 30000 -> 45000" in voided.text

    with pytest.raises(ServiceError, match="a rejection needs a comment"):
        _decide(app, "carla.manager", approve=False, comment=" ")
    _decide(app, "carla.manager", approve=False, comment="recoverable after all")
    assert WriteOff.book[1].status == "rejected"
    with pytest.raises(ServiceError, match="write-off 1 is rejected, not awaiting approval"):
        _decide(app, "fiona.director")
