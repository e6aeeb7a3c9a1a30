"""Use cases. Each owns its transaction: a credit decision is saved whole (with its audit events and
its outbox notices) or not at all. Services take an :class:`~credit.app.App` and keyword arguments.

The imports under ``TYPE_CHECKING`` are the one list of use cases: type checkers read them, and so
does :func:`__getattr__`, which loads a name's module on first use (PEP 562). A command that lists
customers does not load research, collections and analytics: loading them all would add about
0.4 s to every command (measured with ``bench.cli_latency``)."""

# ruff: noqa: F401  (these imports are the package's public names)

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from credit.lazy import package

if TYPE_CHECKING:
    from credit.services.account_statement import customer_statement
    from credit.services.analytics import notify_policy_research, portfolio_report
    from credit.services.approval_chain.subjects.order_release import request_order_release
    from credit.services.approval_chain.subjects.write_off import propose_write_off
    from credit.services.approvals import (
        ChainRestarted,
        Progress,
        advance_request,
        decide,
        decision_followup_key,
        pending_approvals,
        record_decision,
        sweep_approvals,
    )
    from credit.services.backtest import backtest, backtest_summary
    from credit.services.cash.queue import (
        match_payment,
        payment_entry,
        unmatch_payment,
        unmatched_payments,
    )
    from credit.services.cash.statements import apply_statements, import_statement
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
    from credit.services.contacts import customer_contacts
    from credit.services.draft import draft_request
    from credit.services.followups import (
        FollowUpView,
        followup,
        followup_by_key,
        open_followups,
    )
    from credit.services.imports import import_data
    from credit.services.ledger import exposure, load_raw, open_items
    from credit.services.limits.groups import (
        add_members,
        create_group,
        list_groups,
        remove_member,
        set_group_limit,
        show_group,
    )
    from credit.services.limits.temporary import expire_temporary_limits
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
        dispute_list,
        log_note,
        open_dispute,
        record_promise,
        remind_dispute_owners,
        resolve_dispute,
        worklist,
    )
    from credit.services.receivables.dunning_profiles import assign_dunning_profile
    from credit.services.receivables.exemptions import exempt_customer, revoke_exemption
    from credit.services.receivables.write_offs import list_write_offs
    from credit.services.research import (
        cancel_research,
        check_review_can_start,
        collect_customer_data,
        reassign_analyst,
        record_qualitative,
        request_review,
        rescore,
        score_assessment,
        send_research_reminders,
        waiting_assessments,
    )
    from credit.services.research_batch import research_customers
    from credit.services.reviews import (
        count_due_lines,
        due_reviews,
        due_reviews_page,
        notify_reviews_started,
        resume_research,
        review_customers,
    )
    from credit.services.risk import list_signals, scan_risk
    from credit.services.service_desk import close_service_task, record_feedback, service_tasks
    from credit.services.service_state import ServiceView, running_service
    from credit.services.setup import init_database
    from credit.services.status import Status, house_status


# Each name's module (read from the ``TYPE_CHECKING`` imports above), loaded on first use.
_where, __getattr__, __dir__ = package(globals(), __file__)


class _Package(types.ModuleType):
    """``backtest`` is also a submodule's name: importing the submodule (from anywhere, lazily or
    not) binds it to this package's attribute. This binds the use case of that name instead."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _where():
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
