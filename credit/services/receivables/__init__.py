"""The collections desk: disputes, promises to pay, the worklist and its call log, order checks."""

from __future__ import annotations

from credit.services.receivables.dispute_terms import (
    DisputeRow,
    ReminderCounts,
    dispute_list,
    remind_dispute_owners,
)
from credit.services.receivables.disputes import (
    DisputeResult,
    OpenedDispute,
    open_dispute,
    resolve_dispute,
)
from credit.services.receivables.orders import OrderCheck, check_order
from credit.services.receivables.promises import PromiseResult, record_promise
from credit.services.receivables.worklist import NoteResult, WorklistRow, log_note, worklist

__all__ = [
    "DisputeResult",
    "DisputeRow",
    "NoteResult",
    "OpenedDispute",
    "OrderCheck",
    "PromiseResult",
    "ReminderCounts",
    "WorklistRow",
    "check_order",
    "dispute_list",
    "log_note",
    "open_dispute",
    "record_promise",
    "remind_dispute_owners",
    "resolve_dispute",
    "worklist",
]
