"""The decisions a command records, with plain (JSON) arguments and answers: the same whether the
command records them itself or the running service does on its behalf (:mod:`credit.cli.remote`).
Each is one use case of :mod:`credit.services`; nothing here decides anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from credit.app import App


def decide(  # noqa: PLR0913  (the decision's own fields, keyword-only)
    a: App,
    *,
    subject: str,
    subject_id: int,
    username: str,
    approve: bool,
    comment: str | None,
    as_of: str,
) -> dict[str, Any]:
    """An approver's decision on a step (a credit request's or a policy version's)."""
    from credit import services

    decided = services.record_decision(
        a,
        subject=subject,
        subject_id=subject_id,
        username=username,
        approve=approve,
        comment=comment,
        as_of=date.fromisoformat(as_of),
    )
    step = decided.step
    return {
        "step": {"level": step.level, "role": step.role, "decision": str(step.decision)},
        "progress": asdict(decided.progress),
        "follow_up": decided.follow_up,
    }


def assess(  # noqa: PLR0913  (the rating's own fields, keyword-only)
    a: App,
    *,
    customer_code: str,
    username: str,
    scores: dict[str, str],
    comment: str,
    override_limit: str | None,
    override_reason: str | None,
    as_of: str,
) -> dict[str, Any]:
    """The analyst's qualitative rating."""
    from credit import services

    return dict(
        services.record_qualitative(
            a,
            customer_code=customer_code,
            username=username,
            scores={k: Decimal(v) for k, v in scores.items()},
            comment=comment,
            override_limit=Decimal(override_limit) if override_limit is not None else None,
            override_reason=override_reason,
            as_of=date.fromisoformat(as_of),
        )
    )


def request_review(  # noqa: PLR0913  (the review's own fields, keyword-only)
    a: App,
    *,
    customer_code: str,
    requested_by: str,
    as_of: str,
    analyst: str | None,
    requested_limit: str | None,
    override_reason: str | None,
    until: str | None = None,
) -> dict[str, Any]:
    """A credit manager's request for a review (``until``: of a temporary limit)."""
    from credit import services

    return dict(
        services.request_review(
            a,
            customer_code=customer_code,
            requested_by=requested_by,
            as_of=date.fromisoformat(as_of),
            analyst=analyst,
            requested_limit=Decimal(requested_limit) if requested_limit is not None else None,
            override_reason=override_reason,
            until=date.fromisoformat(until) if until else None,
        )
    )


OPERATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "decide": decide,
    "assess": assess,
    "request_review": request_review,
}
