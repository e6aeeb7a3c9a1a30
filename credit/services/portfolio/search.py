"""The customer list: search by code, name or tax id, filters, keyset pages of 50."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import exists, func, literal, or_
from sqlalchemy import select as sa_select

from credit.app import App
from credit.db.models import (
    CollectionCase,
    CreditAssessment,
    CreditLine,
    Customer,
    DunningAction,
    LineStatus,
)
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import CaseStatus
from credit.services.common import ServiceError, table_of

PER_PAGE = 50
LEVEL_ANY = "any"  # the level filter: any dunning level above 0


@dataclass(frozen=True)
class CustomerSearch:
    """The customer list's question: ``q`` matches code, name or tax id (any part, any case);
    ``rating`` the rating in force (the line's, else the latest assessment's); ``level`` a
    dunning level (a number, or ``any``); ``on_hold`` lines on hold; ``collector`` an open
    collection case assigned to that collector. ``after`` / ``before``: the page after or
    before a customer code (keyset pages in code order)."""

    q: str = ""
    rating: str = ""
    level: str = ""
    on_hold: bool = False
    collector: str = ""
    after: str = ""
    before: str = ""


class CustomerListRow(TypedDict):
    code: str
    name: str
    country: str
    currency: str
    rating: str | None
    rated_by_line: bool
    limit: Decimal | None
    line_currency: str | None
    terms_days: int | None
    status: str | None
    next_review_on: date | None


class SearchChoices(TypedDict):
    """What the filters offer."""

    ratings: list[str]  # the policy's grades
    levels: list[tuple[int, str]]  # the policy's dunning levels (for the filter)
    collectors: list[tuple[str, str]]  # the directory's collectors: (username, name)


class CustomerPage(TypedDict):
    rows: list[CustomerListRow]
    next_after: str | None  # the code to continue after, when there is a next page
    prev_before: str | None  # the code to go back before, when there is a previous page
    choices: SearchChoices


def _choices(app: App, policy: PolicyBody) -> SearchChoices:
    return {
        "ratings": [r.grade for r in policy.ratings] + [policy.unrated.grade],
        "levels": [(lv.level, lv.label) for lv in policy.dunning.levels],
        "collectors": [(p.username, p.name) for p in app.directory.holders("collector")],
    }


def search_choices(app: App) -> SearchChoices:
    """What the customer list's filters offer (the published policy's ratings and dunning
    levels, the directory's collectors)."""
    with app.uow(read_only=True) as uow:
        return _choices(app, app.published_policy(uow.session)[1])


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _check_search(search: CustomerSearch, choices: SearchChoices) -> None:
    grades = choices["ratings"]
    if search.rating and search.rating not in grades:
        raise ServiceError(f"the rating {search.rating!r} is not one of {', '.join(grades)}")
    levels = [str(level) for level, _ in choices["levels"]]
    if search.level and search.level not in (LEVEL_ANY, *levels):
        raise ServiceError(f"the dunning level {search.level!r} is not one of {', '.join(levels)}")
    if search.collector and search.collector not in dict(choices["collectors"]):
        raise ServiceError(f"{search.collector!r} is not a collector in the directory")
    if len(search.q) > 100:
        raise ServiceError("a search has at most 100 characters")


def _search_conditions(search: CustomerSearch, as_of: date, rating: Any) -> list[Any]:
    cust, line = table_of(Customer), table_of(CreditLine)
    conds: list[Any] = []
    text = search.q.strip().lower()
    if text:
        compact = re.sub(r"[\s.\-/]", "", text)
        conds.append(
            or_(
                func.lower(cust.c.code).like(_like(text), escape="\\"),
                func.lower(cust.c.name).like(_like(text), escape="\\"),
                func.lower(cust.c.tax_id).like(_like(compact or text), escape="\\"),
            )
        )
    if search.rating:
        conds.append(rating == search.rating)
    if search.on_hold:
        conds.append(line.c.status == LineStatus.ON_HOLD)
    if search.level:
        conds.append(_at_level(cust.c.id, search.level, as_of))
    if search.collector:
        case_ = table_of(CollectionCase)
        conds.append(
            exists().where(
                case_.c.customer_id == cust.c.id,
                case_.c.status == CaseStatus.OPEN,
                case_.c.collector == search.collector,
            )
        )
    return conds


def _at_level(customer_id: Any, level: str, as_of: date) -> Any:
    """The customer's last dunning step by ``as_of`` in some currency is at ``level``."""
    da, later = table_of(DunningAction).alias("da"), table_of(DunningAction).alias("later")
    newer = sa_select(literal(1)).where(
        later.c.customer_id == da.c.customer_id,
        later.c.currency == da.c.currency,
        later.c.as_of <= as_of,
        later.c.id > da.c.id,
    )
    at = da.c.level > 0 if level == LEVEL_ANY else da.c.level == int(level)
    return exists().where(da.c.customer_id == customer_id, da.c.as_of <= as_of, at, ~exists(newer))


def search_customers(
    app: App, *, search: CustomerSearch, as_of: date, per_page: int = PER_PAGE
) -> CustomerPage:
    """A page of customers in code order (a keyset page: as fast on the last page as on the
    first; no total is counted)."""
    cust, line, asm = table_of(Customer), table_of(CreditLine), table_of(CreditAssessment)
    assessed = (
        sa_select(asm.c.rating)
        .where(asm.c.customer_id == cust.c.id, asm.c.rating.is_not(None), asm.c.as_of <= as_of)
        .order_by(asm.c.as_of.desc(), asm.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rating = func.coalesce(line.c.rating, assessed)
    with app.uow(read_only=True) as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        choices = _choices(app, policy)
        _check_search(search, choices)
        query = (
            sa_select(
                cust.c.code,
                cust.c.name,
                cust.c.country,
                cust.c.currency,
                rating.label("rating"),
                line.c.id.label("line_id"),
                line.c.limit,
                line.c.currency.label("line_currency"),
                line.c.terms_days,
                line.c.status,
                line.c.next_review_on,
            )
            .select_from(cust.outerjoin(line, line.c.customer_id == cust.c.id))
            .where(*_search_conditions(search, as_of, rating))
        )
        if search.before:
            query = query.where(cust.c.code < search.before).order_by(cust.c.code.desc())
        else:
            query = query.where(cust.c.code > search.after).order_by(cust.c.code)
        found = list(s.execute(query.limit(per_page + 1)))
    more, found = len(found) > per_page, found[:per_page]
    if search.before:
        found.reverse()
    first, last = (found[0].code, found[-1].code) if found else (None, None)
    backwards = bool(search.before)
    return {
        "rows": [_list_row(r) for r in found],
        "next_after": last if (more or backwards) else None,
        "prev_before": first if (more if backwards else bool(search.after)) else None,
        "choices": choices,
    }


def _list_row(r: Any) -> CustomerListRow:
    return {
        "code": r.code,
        "name": r.name,
        "country": r.country,
        "currency": r.currency,
        "rating": r.rating,
        "rated_by_line": r.line_id is not None,
        "limit": r.limit,
        "line_currency": r.line_currency,
        "terms_days": r.terms_days,
        "status": r.status,
        "next_review_on": r.next_review_on,
    }
