"""The tables. Money columns use :class:`Money` (exact Decimal), never float."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, literal_column, text
from sqlmodel import Field, SQLModel

from credit.db.types import Money, Rate

# The approval statuses belong to the authority rules; re-exported here beside their tables.
from credit.domain.authority import Decision as Decision
from credit.domain.authority import PolicyStatus as PolicyStatus
from credit.domain.authority import RequestStatus as RequestStatus
from credit.domain.research_status import AssessmentStatus as AssessmentStatus


def utcnow() -> datetime:
    """Wall-clock time for audit stamps (aware, UTC)."""
    return datetime.now(UTC)


def _money(*, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=Money, nullable=nullable, **kw)


def _json(default: Any = None) -> Any:
    if default is None:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=40)
    name: str = Field(max_length=200)
    email: str = Field(max_length=200)
    country: str = Field(max_length=2)
    currency: str = Field(max_length=3)
    locale: str = Field(default="en", max_length=10)
    sales_owner_email: str = Field(max_length=200)
    registered_on: date | None = None
    tax_id: str | None = Field(default=None, max_length=40)
    postal_address: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Set when a high-severity risk signal asks for a re-review before the scheduled date.
    review_flagged_on: date | None = None
    review_flag_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FinancialStatement(SQLModel, table=True):
    __tablename__ = "financial_statement"
    __table_args__ = (UniqueConstraint("customer_id", "period_end"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    period_end: date
    currency: str = Field(max_length=3)  # the statement's own (default: the customer's)
    revenue: Decimal = _money()
    net_income: Decimal = _money()
    total_assets: Decimal = _money()
    total_liabilities: Decimal = _money()
    current_assets: Decimal = _money()
    current_liabilities: Decimal = _money()
    operating_cash_flow: Decimal = _money()
    created_at: datetime = Field(default_factory=utcnow)


class Invoice(SQLModel, table=True):
    """An invoice (positive amount) or a credit note (negative amount)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    number: str = Field(unique=True, index=True, max_length=60)
    issue_date: date
    due_date: date = Field(index=True)
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    # invoice (a negative amount is a credit note) | fee | interest (charged by dunning)
    kind: str = Field(default="invoice", max_length=20)
    # A credit note (negative amount) may reduce one invoice; otherwise it is a credit on account.
    applies_to_id: int | None = Field(default=None, foreign_key="invoice.id")
    created_at: datetime = Field(default_factory=utcnow)


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reference: str = Field(unique=True, index=True, max_length=60)
    paid_on: date
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    method: str = Field(max_length=30)
    status: str = Field(default="received", max_length=20)  # received | bounced | reversed
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    bank_entry_id: int | None = Field(default=None, foreign_key="bank_entry.id", index=True)


class FxRate(SQLModel, table=True):
    """How many units of the base currency one unit of ``currency`` was worth on ``rate_date``."""

    __tablename__ = "fx_rate"
    __table_args__ = (UniqueConstraint("currency", "rate_date"),)

    id: int | None = Field(default=None, primary_key=True)
    currency: str = Field(max_length=3, index=True)
    rate_date: date
    rate_to_base: Decimal = Field(sa_type=Rate)
    created_at: datetime = Field(default_factory=utcnow)


class CreditPolicy(SQLModel, table=True):
    __tablename__ = "credit_policy"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True, index=True)
    status: str = Field(default=PolicyStatus.DRAFT, max_length=20, index=True)
    name: str = Field(max_length=200)
    body: dict = _json(dict)
    body_sha256: str = Field(max_length=64)
    proposed_by: str = Field(max_length=60)
    based_on_version: int | None = None  # the published version when this one was proposed
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    retired_at: datetime | None = None


class CreditAssessment(SQLModel, table=True):
    """One research of a customer: cleaned inputs, every factor's value, band, points and weight,
    the expert's qualitative ratings, the combined score, rating and recommendation."""

    __tablename__ = "credit_assessment"

    id: int | None = Field(default=None, primary_key=True)
    review_key: str = Field(unique=True, max_length=120)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    as_of: date
    policy_version: int
    requested_by: str = Field(max_length=60)
    status: str = Field(default=AssessmentStatus.COMPLETE, max_length=30, index=True)
    analyst: str | None = Field(default=None, max_length=60)
    requested_limit: Decimal | None = _money(nullable=True, default=None)
    override_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    inputs: dict = _json(dict)
    cleaning_report: dict = _json(dict)
    metrics: dict = _json(dict)
    factors: list = _json(list)
    quantitative_score: Decimal | None = Field(default=None, sa_type=Money, nullable=True)
    qualitative: dict = _json(dict)
    qualitative_score: Decimal | None = Field(default=None, sa_type=Money, nullable=True)
    qualitative_due_at: datetime | None = None
    total_score: Decimal | None = Field(default=None, sa_type=Money, nullable=True)
    rating: str | None = Field(default=None, max_length=3)
    recommended_limit: Decimal | None = _money(nullable=True, default=None)
    terms_days: int | None = None
    conditions: list = _json(list)
    review_months: int | None = None
    limit_basis: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RiskSignal(SQLModel, table=True):
    """A warning sign found in a customer's profile or ledger; ``fingerprint`` makes a re-scan
    find the same signal instead of raising it again."""

    __tablename__ = "risk_signal"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(unique=True, max_length=200)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    kind: str = Field(max_length=40)
    severity: str = Field(max_length=10)
    detail: str = Field(sa_column=Column(Text, nullable=False))
    detected_on: date
    detected_at: datetime = Field(default_factory=utcnow)
    reviewed_in: int | None = Field(default=None, foreign_key="credit_assessment.id")


class RequestKind(StrEnum):
    NEW = "new"
    INCREASE = "increase"
    DECREASE = "decrease"
    REVIEW = "review"


class CreditRequest(SQLModel, table=True):
    __tablename__ = "credit_request"

    id: int | None = Field(default=None, primary_key=True)
    review_key: str = Field(unique=True, max_length=120)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    assessment_id: int = Field(foreign_key="credit_assessment.id")
    kind: str = Field(max_length=20)
    requested_by: str = Field(max_length=60)
    requested_limit: Decimal | None = _money(nullable=True, default=None)
    recommended_limit: Decimal = _money()
    proposed_limit: Decimal = _money()
    base_amount: Decimal | None = _money(
        nullable=True, default=None
    )  # proposed limit in base currency
    current_limit: Decimal | None = _money(nullable=True, default=None)
    currency: str = Field(max_length=3)
    terms_days: int
    conditions: list = _json(list)
    rating: str = Field(max_length=3)
    review_months: int
    policy_version: int
    status: str = Field(default=RequestStatus.IN_APPROVAL, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


class ApprovalStep(SQLModel, table=True):
    """One level of an approval chain for a credit request or a policy version."""

    __tablename__ = "approval_step"
    __table_args__ = (UniqueConstraint("subject", "subject_id", "level"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=20)  # credit_request | credit_policy
    subject_id: int = Field(index=True)
    level: int
    role: str = Field(max_length=40)
    cap: Decimal | None = _money(nullable=True, default=None)
    reason: str = Field(default="", max_length=200)
    approver: str | None = Field(default=None, max_length=60)  # who is asked
    decided_by: str | None = Field(default=None, max_length=60)
    decision: str = Field(default=Decision.PENDING, max_length=20)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    due_at: datetime
    decided_at: datetime | None = None
    # What the approver saw when deciding (amount, terms, assessment, exposure) and its hash.
    evidence: dict | None = _json()
    evidence_hash: str | None = Field(default=None, max_length=64)
    round: int = 1  # raised when a change of the request voids earlier approvals
    delegated_from: str | None = Field(default=None, max_length=60)  # approver stands in for them
    escalated_role: str | None = Field(
        default=None, max_length=40
    )  # may also decide after escalation
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ApprovalLink(SQLModel, table=True):
    """A signed, expiring, single-use link to the approval page for one approver and one step."""

    __tablename__ = "approval_link"

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(unique=True, max_length=64)
    step_id: int = Field(foreign_key="approval_step.id", index=True)
    request_id: int = Field(foreign_key="credit_request.id")
    approver: str = Field(max_length=60)
    round: int
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class LineStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class CreditLine(SQLModel, table=True):
    __tablename__ = "credit_line"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", unique=True)
    limit: Decimal = _money()
    currency: str = Field(max_length=3)
    terms_days: int
    conditions: list = _json(list)
    rating: str = Field(max_length=3)
    status: str = Field(default=LineStatus.ACTIVE, max_length=20, index=True)
    hold_reason: str | None = Field(default=None, max_length=200)
    request_id: int = Field(foreign_key="credit_request.id")
    policy_version: int
    activated_on: date
    next_review_on: date = Field(index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class DunningAction(SQLModel, table=True):
    """A dunning step of a customer in one currency: the notice level (its highest item's) and a
    day; one step per customer, currency and day. Level 0 closes an episode (everything overdue
    was paid); the next overdue starts a new one. Item levels: ``models_dunning_items``."""

    __tablename__ = "dunning_action"
    __table_args__ = (UniqueConstraint("customer_id", "currency", "as_of", name="uq_dunning_day"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    episode: int
    level: int
    level_name: str = Field(max_length=40)
    as_of: date
    invoice_numbers: list = _json(list)
    overdue_total: Decimal = _money()
    policy_version: int
    channel: str = Field(default="email", max_length=10)
    details: dict | None = _json()  # charges, interest lines, promise that was broken
    created_at: datetime = Field(default_factory=utcnow)


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


# Statuses of a notice not yet sent, as literal SQL: a partial index is used only by a query whose
# condition names the same values (a bound parameter would not do, on SQLite or PostgreSQL).
UNSENT_SQL = text("status IN ('pending', 'sending')")
FAILED_SQL = text("status = 'failed'")


class Notice(SQLModel, table=True):
    """The outbox: a notice is committed here, under a unique key, before anything is sent."""

    # The notices waiting to go, in id order (a claim reads the first without passing those sent,
    # 0007; a query says ``UNSENT`` literally), and the failed ones an operator lists (literally).
    __table_args__ = (
        Index("ix_notice_unsent", "id", sqlite_where=UNSENT_SQL, postgresql_where=UNSENT_SQL),
        Index("ix_notice_failed", "id", sqlite_where=FAILED_SQL, postgresql_where=FAILED_SQL),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=60, index=True)
    channel: str = Field(default="email", max_length=10)  # email | letter
    locale: str = Field(max_length=10)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    recipients: list = _json(list)
    subject: str = Field(max_length=300)
    text: str = Field(sa_column=Column(Text, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=NoticeStatus.PENDING, max_length=20)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    claimed_until: datetime | None = None
    message_id: str | None = Field(default=None, max_length=200)
    delivered_to: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # A customer letter's content for its PDF (credit.notices.document): the context it was
    # rendered from and its body, stored when queued; None for other notices.
    document: dict | None = _json()


# The same condition for queries on the outbox (rendered with the values inline).
UNSENT = Notice.__table__.c.status.in_(  # type: ignore[attr-defined]  # SQLModel types __table__ as a FromClause without columns
    [literal_column("'pending'"), literal_column("'sending'")]
)


class AuditEvent(SQLModel, table=True):
    """Append-only (database triggers refuse UPDATE and DELETE) and hash-chained: each event
    carries the hash of the one before, so an edit, a deletion, an insertion or a reordering made
    behind the product's back is detected by `credit audit verify`."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=60)
    action: str = Field(max_length=60, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=60, index=True)
    before: dict | None = _json()
    after: dict | None = _json()
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    policy_version: int | None = None
    # how the actor acted: {"channel": "web", "method": "password", "session": "…"} or
    # {"channel": "cli", "os_user": "…", "host": "…"}; None for the flows' own steps
    via: dict | None = _json()
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(default="", max_length=64)


class AuditHead(SQLModel, table=True):
    """The end of the audit hash chain (one row). Updating it first serialises writers of the
    chain, and it lets `credit audit verify` notice events deleted from the end."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_hash: str | None = Field(default=None, max_length=64)


class Dispute(SQLModel, table=True):
    """A customer disputes an invoice: while open, the invoice leaves dunning."""

    __tablename__ = "dispute"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    opened_by: str = Field(max_length=60)
    opened_on: date
    resolved_by: str | None = Field(default=None, max_length=60)
    resolved_on: date | None = None
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class PaymentPromise(SQLModel, table=True):
    """A promise to pay ``amount`` by ``promised_for``: it pauses the customer's escalation in that
    currency until then; kept or broken is decided by the first collections run after it."""

    __tablename__ = "payment_promise"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    amount: Decimal = _money()
    promised_for: date
    recorded_on: date
    recorded_by: str = Field(max_length=60)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=20, index=True)  # open|kept|broken|replaced
    settled_on: date | None = None
    paid: Decimal | None = _money(nullable=True, default=None)
    created_at: datetime = Field(default_factory=utcnow)


class CollectionCase(SQLModel, table=True):
    """An entry on the collections team's worklist: a handover or a call task."""

    __tablename__ = "collection_case"

    __table_args__ = (UniqueConstraint("customer_id", "currency", "episode", "reason", "level"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    episode: int
    reason: str = Field(max_length=20)  # handover | call
    level: int
    opened_on: date
    status: str = Field(default="open", max_length=20, index=True)  # open | closed
    closed_on: date | None = None
    closed_by: str | None = Field(default=None, max_length=60)
    closed_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    collector: str | None = Field(default=None, max_length=60, index=True)  # assigned to


class CollectionNote(SQLModel, table=True):
    """A call or note the collections team logged against a customer."""

    __tablename__ = "collection_note"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    kind: str = Field(max_length=20)  # call | note
    note: str = Field(sa_column=Column(Text, nullable=False))
    logged_by: str = Field(max_length=60)
    logged_on: date
    created_at: datetime = Field(default_factory=utcnow)


class SalesOrder(SQLModel, table=True):
    """An order not yet invoiced: it counts towards the exposure ``credit orders check`` sees."""

    __tablename__ = "sales_order"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    number: str = Field(unique=True, index=True, max_length=60)
    order_date: date
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    status: str = Field(default="open", max_length=20)  # open | invoiced | cancelled
    created_at: datetime = Field(default_factory=utcnow)


class CustomerFeedback(SQLModel, table=True):
    """What a customer said about their terms or about collection (for the policy's research)."""

    __tablename__ = "customer_feedback"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    topic: str = Field(max_length=40)  # terms | limit | collection | service | other
    text: str = Field(sa_column=Column(Text, nullable=False))
    recorded_by: str = Field(max_length=60)
    received_on: date
    created_at: datetime = Field(default_factory=utcnow)


class ServiceTask(SQLModel, table=True):
    """A follow-up for customer service after credit control cut a limit or held a line, so a
    good customer is not quietly lost."""

    __tablename__ = "service_task"
    __table_args__ = (UniqueConstraint("key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120)  # what caused it (idempotency)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reason: str = Field(max_length=300)
    opened_on: date
    status: str = Field(default="open", max_length=20, index=True)  # open | done
    done_on: date | None = None
    done_by: str | None = Field(default=None, max_length=60)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class WorkPartition(SQLModel, table=True):
    """A share of one run's customers that any worker may claim: several workers on several
    machines share one collections run. Claimed ``FOR UPDATE SKIP LOCKED`` (on PostgreSQL) with a
    lease; a partition whose worker died is taken over when the lease ends."""

    __tablename__ = "work_partition"
    __table_args__ = (UniqueConstraint("run_key", "part"),)

    id: int | None = Field(default=None, primary_key=True)
    run_key: str = Field(max_length=120, index=True)  # e.g. collections:2027-03-02:<flow run>
    part: int
    customer_ids: list = _json(list)
    status: str = Field(default="pending", max_length=20, index=True)  # pending|running|done
    claimed_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = None
    attempts: int = 0
    summary: dict | None = _json()
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class FollowUp(SQLModel, table=True):
    """What a recorded decision asks the orchestrator to do next (research a customer, draft the
    request, ask the next approver, publish): committed in the decision's own transaction, so it
    is never lost; run once by whoever claims it first (the service, or the command itself when
    no service runs). A claim carries a lease: a claimer that died lets go when it ends."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=160)  # e.g. approval:request:12:step:31
    kind: str = Field(max_length=40)  # review | complete_review | approval | policy
    params: dict = _json(dict)
    as_of: date | None = None
    requested_by: str = Field(max_length=60)
    status: str = Field(default="pending", max_length=20, index=True)
    claimed_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = None
    not_before: datetime | None = None  # a failed attempt waits until then
    attempts: int = 0
    result: dict | None = _json()
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ServiceInstance(SQLModel, table=True):
    """A running `credit serve`: it says it is alive every few seconds. Commands hand their
    follow-ups to it while one has beaten recently, and reuse its Prefect server."""

    __tablename__ = "service_instance"

    id: str = Field(primary_key=True, max_length=40)
    host: str = Field(max_length=120)
    pid: int
    started_at: datetime = Field(default_factory=utcnow)
    beat_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None
    prefect_url: str | None = Field(default=None, max_length=300)
    web_url: str | None = Field(default=None, max_length=300)


# The other tables, imported so every table is known at once.
from credit.db import models_more as models_more  # noqa: E402
from credit.db.models_web import SignInAttempt as SignInAttempt  # noqa: E402
from credit.db.models_web import UserAccount as UserAccount  # noqa: E402
from credit.db.models_web import WebSession as WebSession  # noqa: E402
