"""Use cases. Each owns its transaction: a credit decision is saved whole (with its audit events and
its outbox notices) or not at all. Services take an :class:`~credit.app.App` and keyword arguments."""

from credit.services._common import (
    SUBJECT_POLICY,
    SUBJECT_REQUEST,
    DecisionRefused,
    ServiceError,
    add_months,
    get_customer,
    person_email,
)
from credit.services.analytics import notify_policy_research, portfolio_report
from credit.services.approvals import (
    ChainRestarted,
    Progress,
    advance_request,
    decide,
    pending_approvals,
    sweep_approvals,
)
from credit.services.backtest import backtest, backtest_summary
from credit.services.collections import (
    DunningOutcome,
    collection_candidates,
    dun_customer,
    dun_customers,
)
from credit.services.draft import draft_request
from credit.services.ledger import exposure, load_raw, open_items
from credit.services.policy import (
    advance_policy,
    policy_changes,
    policy_diff,
    policy_view,
    propose_policy,
)
from credit.services.publish import approved_requests, publish_request
from credit.services.queries import (
    audit_events,
    customer_list,
    customer_overview,
    deliver,
    limit_changes,
    list_notices,
    retry_notices,
    verify_audit,
)
from credit.services.receivables import (
    check_order,
    log_note,
    open_dispute,
    record_promise,
    resolve_dispute,
    worklist,
)
from credit.services.research import (
    cancel_research,
    check_review_can_start,
    collect_customer_data,
    reassign_analyst,
    record_qualitative,
    rescore,
    score_assessment,
    send_research_reminders,
    waiting_assessments,
)
from credit.services.research_batch import research_customers
from credit.services.reviews import (
    due_reviews,
    notify_reviews_started,
    resume_research,
    review_customers,
)
from credit.services.risk import list_signals, scan_risk
from credit.services.service_desk import (
    close_service_task,
    record_feedback,
    service_tasks,
)
from credit.services.setup import init_database

__all__ = [
    "close_service_task",
    "record_feedback",
    "service_tasks",
    "backtest",
    "backtest_summary",
    "notify_policy_research",
    "portfolio_report",
    "check_order",
    "log_note",
    "open_dispute",
    "record_promise",
    "resolve_dispute",
    "worklist",
    "SUBJECT_POLICY",
    "SUBJECT_REQUEST",
    "ChainRestarted",
    "DecisionRefused",
    "DunningOutcome",
    "Progress",
    "ServiceError",
    "add_months",
    "advance_policy",
    "advance_request",
    "audit_events",
    "cancel_research",
    "check_review_can_start",
    "collect_customer_data",
    "collection_candidates",
    "customer_list",
    "customer_overview",
    "decide",
    "deliver",
    "draft_request",
    "due_reviews",
    "dun_customer",
    "dun_customers",
    "exposure",
    "get_customer",
    "init_database",
    "limit_changes",
    "list_notices",
    "retry_notices",
    "verify_audit",
    "list_signals",
    "load_raw",
    "notify_reviews_started",
    "open_items",
    "pending_approvals",
    "person_email",
    "policy_changes",
    "policy_diff",
    "policy_view",
    "propose_policy",
    "approved_requests",
    "publish_request",
    "reassign_analyst",
    "record_qualitative",
    "rescore",
    "review_customers",
    "scan_risk",
    "score_assessment",
    "research_customers",
    "resume_research",
    "send_research_reminders",
    "sweep_approvals",
    "waiting_assessments",
]
