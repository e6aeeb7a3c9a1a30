"""Use cases. Each owns its transaction: a credit decision is saved whole (with its audit events and
its outbox notices) or not at all. Services take an :class:`~credit.app.App` and keyword arguments."""

from credit.services._common import (  # noqa: F401
    SUBJECT_POLICY,
    SUBJECT_REQUEST,
    DecisionRefused,
    ServiceError,
    _assessment_view,
    _customer_view,
    _line_view,
    _request_view,
    _step_view,
    add_months,
    get_customer,
    person_email,
)
from credit.services.approvals import (  # noqa: F401
    Progress,
    _assign,
    _audit_refusal,
    _create_steps,
    _steps,
    advance_request,
    decide,
    pending_approvals,
)
from credit.services.collections import (  # noqa: F401
    DunningOutcome,
    _apply_dunning,
    _clear_episode,
    collection_candidates,
    dun_customer,
    dun_customers,
)
from credit.services.ledger import _dunning_state, exposure, load_facts, open_items  # noqa: F401
from credit.services.policy import advance_policy, policy_changes, policy_view, propose_policy  # noqa: F401
from credit.services.publish import publish_request  # noqa: F401
from credit.services.queries import (  # noqa: F401
    audit_events,
    customer_list,
    customer_overview,
    deliver,
    list_notices,
)
from credit.services.research import (  # noqa: F401
    assess_customer,
    check_review_can_start,
    draft_request,
    due_reviews,
    notify_reviews_started,
    review_customers,
)
from credit.services.setup import _new_policy_row, init_database  # noqa: F401
