"""The statuses of what the collections desk records, as stored (a member equals its string).

Payments, promises to pay, worklist cases and notes, disputes, sales orders and customer
service's follow-ups: the values are the ones the database holds, so queries and rows compare
with the members directly."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    RECEIVED = "received"  # counts: pays the invoice it names, or sits on account
    BOUNCED = "bounced"  # listed, pays nothing (the bank took it back: a risk signal)
    REVERSED = "reversed"  # a match undone (cash application): kept for the record, pays nothing


class BankEntryStatus(StrEnum):
    """A bank statement entry in cash application."""

    MATCHED = "matched"  # its payments are recorded (a return: the payment it takes back found)
    UNMATCHED = "unmatched"  # waits for a collector, with suggestions
    RETURNED = "returned"  # a credit the bank took back (its payments bounced)
    IGNORED = "ignored"  # money out that is not a return: kept for the record


class PromiseStatus(StrEnum):
    OPEN = "open"  # escalation in that currency waits until the promised day (and its grace)
    KEPT = "kept"
    BROKEN = "broken"  # the next level is due at once
    REPLACED = "replaced"  # a newer promise took its place


class CaseStatus(StrEnum):
    """A collections worklist case (a call task or a handover)."""

    OPEN = "open"
    CLOSED = "closed"


class CaseReason(StrEnum):
    CALL = "call"  # a dunning level whose channel is a call
    HANDOVER = "handover"  # handed over to the collections team


class NoteKind(StrEnum):
    CALL = "call"  # closes the customer's open call tasks
    NOTE = "note"


class DisputeStatus(StrEnum):
    """What opening or resolving a dispute reports for its invoice."""

    DISPUTED = "disputed"
    RESOLVED = "resolved"


class OrderStatus(StrEnum):
    OPEN = "open"  # counts in the exposure a new order is checked against
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class OrderDecision(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"


class ServiceTaskStatus(StrEnum):
    """Customer service's follow-up after a limit was cut or a line held."""

    OPEN = "open"
    DONE = "done"


class OutcomeStatus(StrEnum):
    """What a collections run did (or, dry, would do) for a customer in one currency."""

    SENT = "sent"
    WOULD_SEND = "would_send"
    CLEARED = "cleared"  # the episode closed: paid, or offset by credits, within the tolerance
    WOULD_CLEAR = "would_clear"
    ALREADY_DONE = "already_done"  # this step was taken by an earlier (or a concurrent) run
    NOTHING_DUE = "nothing_due"
    DEFERRED = "deferred"  # due, but the day is not a business day where the customer is
    PROMISED = "promised"  # an open promise to pay holds escalation back
    PAUSED = "paused"  # only disputed invoices are overdue: the episode waits
    PROMISE_BROKEN = "promise_broken"  # broken, with no level left to send
    SKIPPED = "skipped"  # the state changed after the run selected the customer
    ERROR = "error"  # the customer failed and was left as it was; the others were dunned
    COURTESY = "courtesy"  # a courtesy reminder went out for invoices coming due (no level)
    WOULD_COURTESY = "would_courtesy"
