"""Use cases. Each owns its transaction: a credit decision is saved whole (with its audit events and
its outbox notices) or not at all. Services take an :class:`~credit.app.App` and keyword arguments.

The names below are the use cases the entry points (CLI, web, tasks) call, each imported once from
the module that holds it. Loading them all costs about as much as loading one (the database and
template libraries dominate), so nothing is loaded lazily."""

# ruff: noqa: F401  (these imports are the package's public names)

from __future__ import annotations

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
from credit.services.common import (
    SUBJECT_POLICY,
    SUBJECT_REQUEST,
    DecisionRefused,
    ServiceError,
    add_months,
    get_customer,
    known_user,
    person_email,
)
from credit.services.draft import draft_request
from credit.services.imports import import_data
from credit.services.ledger import exposure, load_raw, open_items
from credit.services.outbox import deliver, retry_notices
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
    limit_changes,
    list_notices,
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
from credit.services.service_desk import close_service_task, record_feedback, service_tasks
from credit.services.setup import init_database
