"""The change view of a proposal: the customer's credit line as it stands against the proposed
limit, terms and conditions, and the proposal's score and rating against the previous
assessment. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypedDict

from credit.domain.money import fmt_money


@dataclass(frozen=True)
class Terms:
    """A limit with its terms and conditions: a credit line, or what is proposed."""

    limit: Decimal
    currency: str
    terms_days: int
    conditions: list[str]


@dataclass(frozen=True)
class Scored:
    """An assessment's score and rating."""

    assessment_id: int | None
    as_of: date | None
    score: Decimal | None
    rating: str | None


class PreviousAssessment(TypedDict):
    assessment_id: int | None
    as_of: str | None  # ISO date
    rating: str | None
    score: Decimal | None


class ChangeView(TypedDict):
    new_line: bool  # no credit line yet
    line_status: str | None
    previous: PreviousAssessment | None
    lines: list[str]  # every line of the comparison
    changed: list[str]  # the lines that change something


def _pct(old: Decimal, new: Decimal) -> str:
    if old == 0:
        return "from nothing"
    change = ((new - old) / old * 100).quantize(Decimal("0.1"))
    text = f"{change:f}".removesuffix(".0")
    return f"{'+' if change > 0 else ''}{text}%"


def _score(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.quantize(Decimal('0.01')):f}"


def _limit_line(current: Terms | None, proposed: Terms) -> str:
    new = fmt_money(proposed.limit, proposed.currency)
    if current is None:
        return f"limit none: new line → {new}"
    old = fmt_money(current.limit, current.currency)
    if current.currency != proposed.currency:
        return f"limit {old} → {new} (another currency)"
    if current.limit == proposed.limit:
        return f"limit {new} (unchanged)"
    return f"limit {old} → {new} ({_pct(current.limit, proposed.limit)})"


def _terms_line(current: Terms | None, proposed: Terms) -> str:
    if current is None:
        return f"terms none: new line → {proposed.terms_days} days"
    if current.terms_days == proposed.terms_days:
        return f"terms {proposed.terms_days} days (unchanged)"
    way = "longer" if proposed.terms_days > current.terms_days else "shorter"
    return f"terms {current.terms_days} → {proposed.terms_days} days ({way})"


def _conditions_line(current: Terms | None, proposed: Terms) -> str:
    new = ", ".join(proposed.conditions) or "none"
    if current is None:
        return f"conditions none: new line → {new}"
    old = ", ".join(current.conditions) or "none"
    added = [c for c in proposed.conditions if c not in current.conditions]
    removed = [c for c in current.conditions if c not in proposed.conditions]
    if not added and not removed:
        return f"conditions {new} (unchanged)"
    what = [f"added: {', '.join(added)}"] if added else []
    what += [f"removed: {', '.join(removed)}"] if removed else []
    return f"conditions {old} → {new} ({'; '.join(what)})"


def _rating_lines(previous: Scored | None, latest: Scored, rating_order: list[str]) -> list[str]:
    if previous is None:
        return [
            f"rating {latest.rating or '-'} (no earlier assessment)",
            f"score {_score(latest.score)} (no earlier assessment)",
        ]
    if previous.rating == latest.rating:
        rating = f"rating {latest.rating} (unchanged)"
    else:
        rank = {g: i for i, g in enumerate(rating_order)}
        old, new = (
            rank.get(previous.rating or "", len(rank)),
            rank.get(latest.rating or "", len(rank)),
        )
        way = " (better)" if new < old else " (worse)" if new > old else ""
        rating = f"rating {previous.rating} → {latest.rating}{way}"
    if previous.score == latest.score:
        score = f"score {_score(latest.score)} (unchanged)"
    else:
        score = f"score {_score(previous.score)} → {_score(latest.score)}"
        if previous.score is not None and latest.score is not None:
            diff = (latest.score - previous.score).quantize(Decimal("0.01"))
            score += f" ({'+' if diff > 0 else ''}{diff:f})"
    return [rating, score]


def change_view(
    *,
    current: Terms | None,
    proposed: Terms,
    previous: Scored | None,
    latest: Scored,
    rating_order: list[str],
    line_status: str | None = None,
) -> ChangeView:
    """Every line of the comparison, each saying whether it changes and how ("terms 30 → 60
    days (longer)", "limit EUR 50,000.00 → EUR 120,000.00 (+140%)", "rating B → A (better)").

    ``current``: the credit line as it stands (None: a new line); ``previous``: the latest
    earlier completed assessment (None: the first); ``rating_order``: grades best first."""
    lines = [
        _limit_line(current, proposed),
        _terms_line(current, proposed),
        _conditions_line(current, proposed),
        *_rating_lines(previous, latest, rating_order),
    ]
    return {
        "new_line": current is None,
        "line_status": line_status,
        "previous": None
        if previous is None
        else {
            "assessment_id": previous.assessment_id,
            "as_of": previous.as_of.isoformat() if previous.as_of else None,
            "rating": previous.rating,
            "score": previous.score,
        },
        "lines": lines,
        "changed": [line for line in lines if "(unchanged)" not in line],
    }
