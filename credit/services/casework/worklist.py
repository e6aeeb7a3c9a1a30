"""The worklist a page at a time: every open case that passes the filters, read set-based (a
handful of queries, whatever the number of cases), ranked by priority; the last action of the
page's customers only."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import (
    AuditHead,
    CollectionCase,
    CollectionNote,
    Customer,
    Dispute,
    DunningAction,
    Invoice,
    Payment,
    PaymentPromise,
    utcnow,
)
from credit.domain import dunning
from credit.domain.money import money
from credit.domain.receivables_status import CaseStatus, PromiseStatus
from credit.services.casework.priority import PRIORITY_RULE, Valuation, valuation
from credit.services.casework.shared import CHUNK, PER_PAGE, Key, View, assignable, level_label
from credit.services.common import table_of
from credit.services.ledger import open_items_many

log = logging.getLogger(__name__)

COLLECTOR_FILTERS = {"mine": "Mine and unassigned", "all": "Everyone's", "unassigned": "Unassigned"}
PROMISE_FILTERS = {
    "": "Any",
    "due": "Promise due (date reached)",
    "week": "Promise due within 7 days",
    "open": "Any open promise",
    "none": "No open promise",
}


@dataclass(frozen=True)
class WorklistFilters:
    """What the worklist shows: ``collector`` is ``mine`` (the viewer's and unassigned),
    ``all``, ``unassigned`` or a username; ``promise`` a key of :data:`PROMISE_FILTERS`."""

    level: int | None = None
    currency: str = ""
    collector: str = "all"
    promise: str = ""
    page: int = 1


class WorklistPage(TypedDict):
    rows: list[View]  # see _case_row, with the level and the last action
    total: int
    page: int
    pages: int
    per_page: int
    base_currency: str
    priority_rule: str
    currencies: list[str]
    levels: list[tuple[int, str]]
    collectors: list[tuple[str, str]]
    ranked_at: datetime  # when the order of the cases was computed
    reranking: bool  # something was recorded since: a new order is being computed


def worklist_page(app: App, *, as_of: date, viewer: str, filters: WorklistFilters) -> WorklistPage:
    """Open cases that pass ``filters``, highest priority first, a page of :data:`PER_PAGE`.

    Ranking needs the open items of every customer with an open case (thousands of documents,
    tens of thousands for the biggest debtors); the amounts and days of every case are kept in
    memory per business date and, after something is recorded, recomputed in the background
    while the last ones are shown, saying so (``ranked_at``, ``reranking``). Promises, levels and
    last actions are always read afresh."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        cases = _open_cases(s, filters, viewer)
        ids = sorted({c.customer_id for c in cases})
        levels, promises = _levels(s, ids), _open_promises(s, ids)
        cases = [
            c for c in cases if _passes(c, filters, levels=levels, promises=promises, as_of=as_of)
        ]
        to_base = valuation(s, policy, as_of)
        ranking = _ranking(app, s, as_of=as_of, to_base=to_base)
        ranks = ranking.ranks | _ranks(s, [c for c in cases if _key(c) not in ranking.ranks],
                                       as_of=as_of, to_base=to_base)  # fmt: skip
        cases.sort(key=lambda c: _rank_order(c, ranks))
        pages = max(1, -(-len(cases) // PER_PAGE))
        page = min(max(1, filters.page), pages)
        rows = []
        for c in cases[(page - 1) * PER_PAGE : page * PER_PAGE]:
            key = _key(c)
            level = levels.get(key, (0, None))[0]
            row = _case_row(c, rank=ranks[key], promise=promises.get(key))
            rows.append(row | {"level": level, "level_name": level_label(policy, level)})
        _add_last_actions(s, rows, levels)
        open_ = CollectionCase.status == CaseStatus.OPEN
        return {
            "rows": rows,
            "total": len(cases),
            "page": page,
            "pages": pages,
            "per_page": PER_PAGE,
            "base_currency": policy.base_currency,
            "priority_rule": PRIORITY_RULE.format(base=policy.base_currency),
            "currencies": sorted(s.exec(select(CollectionCase.currency).where(open_).distinct())),
            "levels": [(lv.level, lv.label) for lv in policy.dunning.levels],
            "collectors": assignable(app, policy),
            "ranked_at": ranking.at,
            "reranking": ranking.stale,
        }


Rank = dict[str, Any]  # a case's amount (and in the base currency), days, oldest due, disputes


@dataclass(frozen=True)
class Ranking:
    ranks: dict[Key, Rank]
    at: datetime
    stale: bool = False


_RANKINGS: dict[tuple[str, date], tuple[tuple[Any, ...], Ranking]] = {}
_REFRESHING: set[tuple[str, date]] = set()
_LOCK = threading.Lock()


def _key(case: Any) -> Key:
    return (case.customer_id, case.currency)


def _rank_order(case: Any, ranks: dict[Key, Rank]) -> tuple[int, int, int, str, str]:
    rank = ranks[_key(case)]
    priority, days = rank["priority"], rank["oldest_overdue_days"]
    return (int(priority is None), -(priority or 0), -days, case.code, case.currency)


def _ranks(s: Session, cases: list[Any], *, as_of: date, to_base: Valuation) -> dict[Key, Rank]:
    """Each case's priority and days overdue, from its customer's open items."""
    items = _open_items(s, sorted({c.customer_id for c in cases}), as_of)
    out: dict[Key, Rank] = {}
    for c in cases:
        position = dunning.dunning_position(items.get(c.customer_id, {}).get(c.currency, []), as_of)
        amount = money(position.overdue_total)
        in_base = to_base.to_base(amount, c.currency)
        days = position.oldest_days_overdue
        out[_key(c)] = {
            "amount": amount,
            "amount_base": money(in_base) if in_base is not None else None,
            "oldest_overdue_days": days,
            "oldest_due_date": position.oldest_due_date,
            "disputed": len(position.disputed_items),
            "weight": to_base.weight(c.customer_id),
            "priority": to_base.priority(c.customer_id, in_base, days),
        }
    return out


def _version(s: Session) -> tuple[Any, ...]:
    """What changes whenever a ranking may: the end of the audit chain (every import, payment
    matched, dispute and dunning step records an event) and the last row of each table read."""
    heads = [
        sa_select(func.max(table_of(t).c.id)).scalar_subquery()
        for t in (Invoice, Payment, Dispute, DunningAction, CollectionCase)
    ]
    audit_head = sa_select(func.max(table_of(AuditHead).c.last_id)).scalar_subquery()
    return tuple(s.execute(sa_select(audit_head, *heads)).one())


def _ranking(app: App, s: Session, *, as_of: date, to_base: Valuation) -> Ranking:
    """The ranking of every open case on ``as_of``: kept while nothing is recorded; after a
    change the last one, marked stale, while a new one is computed in the background."""
    key, version = (app.settings.database_url, as_of), _version(s)
    with _LOCK:
        kept = _RANKINGS.get(key)
    if kept is not None and kept[0] == version:
        return kept[1]
    if kept is None:
        return _rank_all(s, key=key, version=version, to_base=to_base)
    with _LOCK:
        start = key not in _REFRESHING
        _REFRESHING.add(key)
    if start:
        threading.Thread(
            target=_refresh, args=(app, key, version), name="worklist-ranking", daemon=True
        ).start()
    return Ranking(kept[1].ranks, kept[1].at, stale=True)


def _rank_all(
    s: Session,
    *,
    key: tuple[str, date],
    version: tuple[Any, ...],
    to_base: Valuation,
) -> Ranking:
    every = _open_cases(s, WorklistFilters(), viewer="")
    ranking = Ranking(_ranks(s, every, as_of=key[1], to_base=to_base), utcnow())
    with _LOCK:
        while len(_RANKINGS) >= 8 and key not in _RANKINGS:
            _RANKINGS.pop(next(iter(_RANKINGS)))
        _RANKINGS[key] = (version, ranking)
    return ranking


def _refresh(app: App, key: tuple[str, date], version: tuple[Any, ...]) -> None:
    try:
        with app.uow(read_only=True) as uow:
            s = uow.session
            _, policy = app.published_policy(s)
            to_base = valuation(s, policy, key[1])
            _rank_all(s, key=key, version=version, to_base=to_base)
    except Exception:  # the last ranking stays; the next view tries again
        log.exception("ranking the worklist failed")
    finally:
        with _LOCK:
            _REFRESHING.discard(key)


def _open_cases(s: Session, filters: WorklistFilters, viewer: str) -> list[Any]:
    """The open cases the filters of collector and currency let through, as plain rows (what a
    worklist row shows of the case and its customer: thousands of them are read per page)."""
    case, customer = table_of(CollectionCase).c, table_of(Customer).c
    q = (
        sa_select(
            case.id, case.customer_id, case.currency, case.reason, case.opened_on,
            case.collector, customer.code, customer.name,
        )
        .join_from(table_of(CollectionCase), table_of(Customer), customer.id == case.customer_id)
        .where(case.status == CaseStatus.OPEN)
    )  # fmt: skip
    if filters.currency:
        q = q.where(case.currency == filters.currency)
    who = case.collector
    if filters.collector == "mine":
        q = q.where(or_(who == viewer, who.is_(None)))
    elif filters.collector == "unassigned":
        q = q.where(who.is_(None))
    elif filters.collector not in ("all", ""):
        q = q.where(who == filters.collector)
    return list(s.execute(q))


def _levels(s: Session, ids: list[int]) -> dict[Key, tuple[int, date]]:
    """(customer id, currency) -> the dunning level reached and the day it was taken."""
    out: dict[Key, tuple[int, date]] = {}
    step = table_of(DunningAction).c
    for i in range(0, len(ids), CHUNK):
        last = (
            sa_select(func.max(step.id))
            .where(step.customer_id.in_(ids[i : i + CHUNK]))
            .group_by(step.customer_id, step.currency)
        )
        for cid, cur, level, on in s.execute(
            sa_select(step.customer_id, step.currency, step.level, step.as_of).where(
                step.id.in_(last)
            )
        ):
            out[(cid, cur)] = (level, on)
    return out


def _open_promises(s: Session, ids: list[int]) -> dict[Key, PaymentPromise]:
    """(customer id, currency) -> the open promise to pay (the latest, should there be two)."""
    out: dict[Key, PaymentPromise] = {}
    for i in range(0, len(ids), CHUNK):
        for p in s.exec(
            select(PaymentPromise)
            .where(
                col(PaymentPromise.customer_id).in_(ids[i : i + CHUNK]),
                PaymentPromise.status == PromiseStatus.OPEN,
            )
            .order_by(col(PaymentPromise.id))
        ):
            out[(p.customer_id, p.currency)] = p
    return out


def _open_items(
    s: Session, ids: list[int], as_of: date
) -> dict[int, dict[str, list[dunning.OpenItem]]]:
    out: dict[int, dict[str, list[dunning.OpenItem]]] = {}
    for i in range(0, len(ids), CHUNK):
        out.update(open_items_many(s, ids[i : i + CHUNK], as_of))
    return out


def _passes(
    case: Any,
    filters: WorklistFilters,
    *,
    levels: dict[Key, tuple[int, date]],
    promises: dict[Key, PaymentPromise],
    as_of: date,
) -> bool:
    key = (case.customer_id, case.currency)
    if filters.level is not None and levels.get(key, (0, None))[0] != filters.level:
        return False
    promise = promises.get(key)
    if filters.promise == "none":
        return promise is None
    if filters.promise == "open":
        return promise is not None
    if filters.promise in ("due", "week"):
        ahead = 0 if filters.promise == "due" else 7
        return promise is not None and (promise.promised_for - as_of).days <= ahead
    return True


def _case_row(case: Any, *, rank: Rank, promise: PaymentPromise | None) -> View:
    """A worklist row (without its level) of a row of :func:`_open_cases`: amount and days
    overdue as ``credit worklist`` counts them (disputed invoices left out), and the priority."""
    return {
        "case_id": case.id,
        "customer_id": case.customer_id,
        "customer": case.code,
        "name": case.name,
        "task": case.reason,
        "currency": case.currency,
        **rank,
        "opened_on": case.opened_on,
        "collector": case.collector,
        "promised_for": promise.promised_for if promise else None,
        "promised_amount": promise.amount if promise else None,
        "last_action": "",
    }


def _add_last_actions(s: Session, rows: list[View], levels: dict[Key, tuple[int, date]]) -> None:
    """The last dunning step of each row's currency, or the last call or note logged since (one
    query for the page's customers)."""
    ids = {r["customer_id"] for r in rows}
    latest = (
        select(func.max(CollectionNote.id))
        .where(col(CollectionNote.customer_id).in_(ids))
        .group_by(col(CollectionNote.customer_id))
    )
    notes = {
        n.customer_id: n
        for n in s.exec(select(CollectionNote).where(col(CollectionNote.id).in_(latest)))
    }
    for r in rows:
        level, on = levels.get((r["customer_id"], r["currency"]), (0, None))
        text = f"{r['level_name']} on {on.isoformat()}" if level > 0 and on else ""
        note = notes.get(r["customer_id"])
        if note is not None and (on is None or note.logged_on >= on):
            text = f"{note.kind} by {note.logged_by} on {note.logged_on.isoformat()}: {note.note}"
        r["last_action"] = text[:140]


def open_case_count(app: App, *, viewer: str, mine: bool) -> int:
    """How many cases are open (``mine``: assigned to ``viewer`` or to nobody): one count, for
    a home page that links to the worklist instead of ranking every case."""
    case = table_of(CollectionCase).c
    q = sa_select(func.count()).where(case.status == CaseStatus.OPEN)
    if mine:
        q = q.where(or_(case.collector == viewer, case.collector.is_(None)))
    with app.uow(read_only=True) as uow:
        return int(uow.session.execute(q).scalar() or 0)
