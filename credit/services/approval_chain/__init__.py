"""One approval engine for everything that needs approving.

The engine (:mod:`.engine`, :mod:`.steps`, :mod:`.sweep`) keeps the steps of a chain, picks
approvers, checks the authority matrix and segregation of duties, records decisions under a lock
and continues the chain; it does not know what it approves. A subject (:mod:`.subject`) does:
it loads itself locked, says what an approver decides on (its evidence), which levels it needs,
what happens when the chain rejects or approves it, and what its notices show.

Adding a subject (an order release, a write-off): subclass
:class:`~credit.services.approval_chain.subject.ApprovalSubject`, decorate it with
:func:`~credit.services.approval_chain.subject.register`, and import its module where the
subjects are loaded (:mod:`.subjects`). The engine's modules never import a subject (an
import-linter contract keeps it so).
"""

from credit.services.approval_chain.engine import (
    Decided,
    PendingApproval,
    advance,
    advance_in,
    decide,
    decision_followup_key,
    lock_subject,
    pending_approvals,
    record_decision,
)
from credit.services.approval_chain.steps import ChainRestarted, Progress, chain_steps
from credit.services.approval_chain.subject import (
    ApprovalSubject,
    Level,
    Listing,
    NoticeSpec,
    register,
    unregister,
)
from credit.services.approval_chain.sweep import SweepCounts, sweep_approvals

__all__ = [
    "ApprovalSubject",
    "ChainRestarted",
    "Level",
    "Listing",
    "NoticeSpec",
    "PendingApproval",
    "Progress",
    "SweepCounts",
    "advance",
    "advance_in",
    "chain_steps",
    "Decided",
    "decide",
    "decision_followup_key",
    "lock_subject",
    "pending_approvals",
    "record_decision",
    "register",
    "sweep_approvals",
    "unregister",
]
