"""What the approval engine asks of a thing it approves, and the registry of such things.

A subject (a credit request, a policy version, and later an order release or a write-off) is a
subclass of :class:`ApprovalSubject` registered under its ``kind`` (the ``subject`` column of
``approval_step``). The engine loads it locked, routes it, records decisions on its steps and
calls it back when the chain is rejected or complete; it never imports a subject module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Self, TypedDict

from sqlmodel import Session

from credit.app import App
from credit.db.models import ApprovalStep
from credit.domain.policy import AuthorityLevel
from credit.services.common import ServiceError


@dataclass(frozen=True)
class Level:
    """One level a subject's route through the authority matrix requires."""

    level: int
    role: str
    cap: Decimal | None  # the part of the amount this level answers for (None: all of it)
    reason: str


@dataclass
class NoticeSpec:
    """A notice the engine puts in the outbox for a subject (once: ``key`` is its identity)."""

    key: str
    kind: str
    recipients: list[str]
    context: dict[str, Any]
    customer_id: int | None = None
    locale: str = "en"
    # The step the notice asks someone to decide: the engine adds who, for whom and how (the link
    # is made only when the notice is new).
    asks: ApprovalStep | None = None


class Listing(TypedDict):
    """What the list of pending approvals shows of a subject."""

    subject: str
    id: int
    customer: str
    kind: str
    amount: str
    currency: str
    rating: str
    requested_by: str


class ApprovalSubject(ABC):
    """One thing awaiting approval, loaded inside the caller's transaction.

    Class attributes describe the kind of chain; the instance answers for one row."""

    kind: ClassVar[str]  # approval_step.subject and the audit trail's entity type
    label: ClassVar[str]  # "credit request": how refusals name the subject
    noun: ClassVar[str]  # "request": how a changed subject is named to its approvers
    in_order: ClassVar[bool] = True  # levels decided one after the other (else all at once)
    reminders: ClassVar[bool] = False  # overdue steps are reminded and escalated by the sweep
    report_asked_notices: ClassVar[bool] = True  # the asked approver's notice is in Progress
    voided_kind: ClassVar[str] = "approval_voided"  # the notice kind of a voided approval
    reminder_kind: ClassVar[str] = "approval_reminder"  # of a reminder or an escalation
    # What a decision hands to the orchestrator (a kind of credit.services.followups), if anything.
    follow_up_kind: ClassVar[str | None] = None

    def __init__(self, app: App, s: Session, *, as_of: date | None) -> None:
        self.app, self.s, self.as_of = app, s, as_of

    # -- loading -------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def lock(cls, s: Session, subject_id: int) -> None:
        """Take the write lock on the subject's row (decisions on one chain apply one by one)."""

    @classmethod
    @abstractmethod
    def find(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self | None:
        """The subject, or None when there is no such row."""

    @classmethod
    @abstractmethod
    def missing(cls, subject_id: int) -> str:
        """The refusal when there is no such subject ("no credit request 7")."""

    @classmethod
    def load_locked(cls, app: App, s: Session, subject_id: int, *, as_of: date | None) -> Self:
        cls.lock(s, subject_id)
        found = cls.find(app, s, subject_id, as_of=as_of)
        if found is None:
            raise ServiceError(cls.missing(subject_id))
        return found

    @classmethod
    def awaiting(cls, s: Session) -> list[int]:
        """Ids of the subjects in approval the reminder sweep looks at (when ``reminders``)."""
        raise NotImplementedError(f"{cls.kind}: the sweep does not chase these")

    # -- what the engine reads -------------------------------------------------------------
    @property
    @abstractmethod
    def subject_id(self) -> int: ...

    @property
    @abstractmethod
    def status(self) -> str: ...

    @property
    @abstractmethod
    def awaiting_approval(self) -> bool:
        """Decisions are taken (its status is "in approval")."""

    @property
    @abstractmethod
    def ready_to_route(self) -> bool:
        """Without steps yet, the subject is to be routed now."""

    @property
    @abstractmethod
    def requester(self) -> str: ...

    @property
    def analyst(self) -> str | None:
        """Who rated what is decided (four eyes: they do not approve it)."""
        return None

    @property
    def amount(self) -> Decimal:
        """The amount the authority matrix compares (none: zero)."""
        return Decimal(0)

    @property
    @abstractmethod
    def policy_version(self) -> int:
        """The policy version the audit trail records with the subject's decisions."""

    @property
    def available_on(self) -> date | None:
        """The day whose absences count when an approver is picked (None: none count)."""
        return None

    @property
    @abstractmethod
    def due_hours(self) -> int:
        """How long a step waits before its approver is reminded."""

    @property
    def customer_id(self) -> int | None:
        return None

    def authority_levels(self) -> list[AuthorityLevel]:
        """The matrix's levels an overdue step escalates through (when ``reminders``)."""
        return []

    @abstractmethod
    def listing(self) -> Listing:
        """The subject's columns in the list of pending approvals."""

    @abstractmethod
    def evidence(self) -> dict[str, Any]:
        """What an approver decides on; a change after approval voids the chain's approvals."""

    # -- routing and outcomes ----------------------------------------------------------------
    @abstractmethod
    def route(self) -> list[Level]:
        """The levels the authority matrix requires."""

    @abstractmethod
    def on_routed(self, levels: list[Level]) -> None:
        """Record the route (audit; status)."""

    @abstractmethod
    def notice_context(self, steps: list[ApprovalStep]) -> dict[str, Any]:
        """What every notice about the chain shows."""

    @abstractmethod
    def on_rejected(self, rejected: ApprovalStep, ctx: dict[str, Any]) -> list[int]:
        """A level rejected: close the subject and tell the requester; the notices to report."""

    @abstractmethod
    def on_approved(self, steps: list[ApprovalStep], ctx: dict[str, Any]) -> None:
        """Every level approved: what follows."""

    @abstractmethod
    def asked_notice(self, step: ApprovalStep, who: str | None, ctx: dict[str, Any]) -> NoticeSpec:
        """The notice asking ``who`` (None: nobody eligible, the team assigns) to decide."""

    @abstractmethod
    def how_to_decide(self, step: ApprovalStep, *, link: bool, anyone: bool) -> dict[str, Any]:
        """What a notice asking for a decision adds to who and for whom: the link (``link``: a
        new one may be made) and the commands. ``anyone``: several people may decide."""

    def follow_up_params(self) -> dict[str, Any]:
        """The parameters of the follow-up a decision hands over (``follow_up_kind``)."""
        return {}

    def voided_context(self) -> dict[str, Any]:
        """What the notice telling an approver their approval was voided shows of the subject."""
        return {}


_REGISTRY: dict[str, type[ApprovalSubject]] = {}


def register(subject: type[ApprovalSubject]) -> type[ApprovalSubject]:
    """Make a subject kind known to the engine (usable as a class decorator)."""
    _REGISTRY[subject.kind] = subject
    return subject


def unregister(kind: str) -> None:
    """Forget a subject kind (a test's own subject)."""
    _REGISTRY.pop(kind, None)


def subject_type(kind: str) -> type[ApprovalSubject]:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ServiceError(f"nothing of the kind {kind!r} is approved here") from None


def registered() -> list[type[ApprovalSubject]]:
    """Every subject kind, in the order they were registered."""
    return list(_REGISTRY.values())
