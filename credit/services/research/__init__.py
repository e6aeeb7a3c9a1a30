"""Research: collect and clean a customer's data, score it, ask the analyst for the qualitative
part, combine, rate and recommend. Each step is its own transaction and safe to repeat.

- :mod:`.collect`: the snapshot of a customer's data (the first step);
- :mod:`.decision`: score, signals, rating and recommendation, without I/O;
- :mod:`.effects`: the signals answered, the flag closed, the audit and notices of a decision;
- :mod:`.score`: the second step (complete, or ask the analyst);
- :mod:`.analyst`: the qualitative rating, its reminders, reassignment and cancellation.
"""

from __future__ import annotations

from credit.services.research.analyst import (
    QualitativeRecorded,
    ReminderCounts,
    WaitingAssessment,
    cancel_research,
    reassign_analyst,
    record_qualitative,
    send_research_reminders,
    waiting_assessments,
)
from credit.services.research.collect import (
    COLLECTED,
    Collected,
    ReviewRequested,
    audit_collected,
    check_review_can_start,
    collect_customer_data,
    collected_snapshot,
    refuse_if_review_open,
    request_review,
)
from credit.services.research.decision import (
    Outcome,
    Rating,
    ScoredSummary,
    complete_fields,
    decide,
    first_own_rating,
    in_customer_currency,
    recommend_with_signals,
    rescore,
    risk_effects_view,
    scan_assessment,
    scored_summary,
)
from credit.services.research.effects import (
    complete,
    open_signals,
    outcome_effects,
    qualitative_context,
)
from credit.services.research.score import score_assessment

__all__ = [
    "COLLECTED",
    "Collected",
    "ReviewRequested",
    "Outcome",
    "QualitativeRecorded",
    "Rating",
    "ReminderCounts",
    "ScoredSummary",
    "WaitingAssessment",
    "audit_collected",
    "cancel_research",
    "check_review_can_start",
    "collect_customer_data",
    "collected_snapshot",
    "complete",
    "complete_fields",
    "decide",
    "first_own_rating",
    "in_customer_currency",
    "open_signals",
    "outcome_effects",
    "qualitative_context",
    "reassign_analyst",
    "recommend_with_signals",
    "record_qualitative",
    "refuse_if_review_open",
    "request_review",
    "rescore",
    "risk_effects_view",
    "scan_assessment",
    "score_assessment",
    "scored_summary",
    "send_research_reminders",
    "waiting_assessments",
]
