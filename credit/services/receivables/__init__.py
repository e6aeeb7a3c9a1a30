"""The collections desk: disputes, promises to pay, the worklist and its call log, order checks."""

from __future__ import annotations

from credit.services.receivables.disputes import DisputeResult, open_dispute, resolve_dispute
from credit.services.receivables.orders import OrderCheck, check_order
from credit.services.receivables.promises import PromiseResult, record_promise
from credit.services.receivables.worklist import NoteResult, WorklistRow, log_note, worklist

__all__ = [
    "DisputeResult",
    "NoteResult",
    "OrderCheck",
    "PromiseResult",
    "WorklistRow",
    "check_order",
    "log_note",
    "open_dispute",
    "record_promise",
    "resolve_dispute",
    "worklist",
]
