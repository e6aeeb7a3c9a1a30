"""Use cases. Each owns its transaction: a credit decision is saved whole (with its audit events and
its outbox notices) or not at all. Services take an :class:`~credit.app.App` and keyword arguments.

Names load on first use (PEP 562): a command that lists customers does not load the research,
collections and analytics modules it never calls."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from credit.services.service_desk import (
        close_service_task,
        record_feedback,
        service_tasks,
    )
    from credit.services.setup import init_database

# ``backtest`` is also a submodule's name: importing the submodule (from anywhere) would bind the
# module to this package's attribute. Imported here, the function is bound after it, as before.
from credit.services.backtest import backtest, backtest_summary  # noqa: E402

_WHERE = {
    "ChainRestarted": "credit.services.approvals",
    "DecisionRefused": "credit.services.common",
    "DunningOutcome": "credit.services.collections",
    "Progress": "credit.services.approvals",
    "SUBJECT_POLICY": "credit.services.common",
    "SUBJECT_REQUEST": "credit.services.common",
    "ServiceError": "credit.services.common",
    "add_months": "credit.services.common",
    "advance_policy": "credit.services.policy",
    "advance_request": "credit.services.approvals",
    "approved_requests": "credit.services.publish",
    "audit_events": "credit.services.queries",
    "backtest": "credit.services.backtest",
    "backtest_summary": "credit.services.backtest",
    "cancel_research": "credit.services.research",
    "check_order": "credit.services.receivables",
    "check_review_can_start": "credit.services.research",
    "close_service_task": "credit.services.service_desk",
    "collect_customer_data": "credit.services.research",
    "collection_candidates": "credit.services.collections",
    "customer_list": "credit.services.queries",
    "customer_overview": "credit.services.queries",
    "decide": "credit.services.approvals",
    "deliver": "credit.services.outbox",
    "draft_request": "credit.services.draft",
    "due_reviews": "credit.services.reviews",
    "dun_customer": "credit.services.collections",
    "dun_customers": "credit.services.collections",
    "exposure": "credit.services.ledger",
    "get_customer": "credit.services.common",
    "import_data": "credit.services.imports",
    "init_database": "credit.services.setup",
    "known_user": "credit.services.common",
    "limit_changes": "credit.services.queries",
    "list_notices": "credit.services.queries",
    "list_signals": "credit.services.risk",
    "load_raw": "credit.services.ledger",
    "log_note": "credit.services.receivables",
    "notify_policy_research": "credit.services.analytics",
    "notify_reviews_started": "credit.services.reviews",
    "open_dispute": "credit.services.receivables",
    "open_items": "credit.services.ledger",
    "pending_approvals": "credit.services.approvals",
    "person_email": "credit.services.common",
    "policy_changes": "credit.services.policy",
    "policy_diff": "credit.services.policy",
    "policy_view": "credit.services.policy",
    "portfolio_report": "credit.services.analytics",
    "propose_policy": "credit.services.policy",
    "publish_request": "credit.services.publish",
    "reassign_analyst": "credit.services.research",
    "record_feedback": "credit.services.service_desk",
    "record_promise": "credit.services.receivables",
    "record_qualitative": "credit.services.research",
    "rescore": "credit.services.research",
    "research_customers": "credit.services.research_batch",
    "resolve_dispute": "credit.services.receivables",
    "resume_research": "credit.services.reviews",
    "retry_notices": "credit.services.outbox",
    "review_customers": "credit.services.reviews",
    "scan_risk": "credit.services.risk",
    "score_assessment": "credit.services.research",
    "send_research_reminders": "credit.services.research",
    "service_tasks": "credit.services.service_desk",
    "sweep_approvals": "credit.services.approvals",
    "verify_audit": "credit.services.queries",
    "waiting_assessments": "credit.services.research",
    "worklist": "credit.services.receivables",
}

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
    "import_data",
    "init_database",
    "known_user",
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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
