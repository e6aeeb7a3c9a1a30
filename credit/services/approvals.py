"""Approval chains: the use cases the CLI, the web page and the flows call.

The engine lives in :mod:`credit.services.approval_chain`; credit requests and policy versions
are its two subjects (:mod:`credit.services.approval_chain.subjects`), registered on import here.
"""

from __future__ import annotations

import credit.services.approval_chain.subjects  # noqa: F401  (registers both subjects)
from credit.services.approval_chain import (
    ChainRestarted,
    Decided,
    PendingApproval,
    Progress,
    SweepCounts,
    decide,
    decision_followup_key,
    lock_subject,
    pending_approvals,
    record_decision,
    sweep_approvals,
)
from credit.services.approval_chain.subjects.credit_request import (
    advance_request,
    advance_request_in,
    lock_request,
    request_amount,
)

__all__ = [
    "ChainRestarted",
    "Decided",
    "PendingApproval",
    "Progress",
    "SweepCounts",
    "advance_request",
    "advance_request_in",
    "decide",
    "decision_followup_key",
    "lock_request",
    "lock_subject",
    "pending_approvals",
    "record_decision",
    "request_amount",
    "sweep_approvals",
]
