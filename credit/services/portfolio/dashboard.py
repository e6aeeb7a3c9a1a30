"""The portfolio dashboard: aging, DSO / CEI / collection rate by month, overdue by dunning
level, holds, exposure against limits and concentration, as of a date, in the base currency.

Every figure is the research report's (:func:`credit.services.analytics.portfolio_report`:
the same domain functions, the same conversion at the rates of ``as_of``), read with grouped
queries: no invoice is loaded one by one. Exposure is the report's too: open receivables
(documents less payments and credit notes); open orders are shown beside it."""

from __future__ import annotations

import heapq
import logging
import threading
from collections import defaultdict
from dataclasses import asdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit.app import App
from credit.db.models import (
    AuditHead,
    CreditLine,
    Customer,
    DunningAction,
    Invoice,
    LineStatus,
    Payment,
    SalesOrder,
    utcnow,
)
from credit.domain import analytics
from credit.domain.money import ZERO, money
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import OrderStatus, PaymentStatus
from credit.services.common import table_of
from credit.services.portfolio.fold import ToBase, folded_ledger

log = logging.getLogger(__name__)

TOP = 10  # customers in the concentration and in each list
# Utilisation bands (exposure / limit, percent): (label, from, below)
BANDS: tuple[tuple[str, Decimal | None, Decimal | None], ...] = (
    ("under 50%", None, Decimal(50)),
    ("50-80%", Decimal(50), Decimal(80)),
    ("80-100%", Decimal(80), Decimal(100)),
    ("100% and over", Decimal(100), None),
)

_CACHE: dict[tuple[Any, ...], tuple[tuple[Any, ...], dict[str, Any]]] = {}
_CACHE_LOCK = threading.Lock()
_CACHED = 8


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` in percent of ``whole``, as the analytics round them (None for nothing)."""
    if whole <= 0:
        return None
    return (part / whole * 100).quantize(analytics.PCT, rounding=ROUND_HALF_UP)


def _version(s: Session) -> tuple[Any, ...]:
    """What changes whenever the figures may: the end of the audit chain (every import and
    decision records an event) and the last row of each table they read."""
    heads = [
        sa_select(func.max(table_of(t).c.id)).scalar_subquery()
        for t in (Invoice, Payment, SalesOrder, DunningAction, CreditLine, Customer)
    ]
    audit_head = sa_select(func.max(table_of(AuditHead).c.last_id)).scalar_subquery()
    return tuple(s.execute(sa_select(audit_head, *heads)).one())


def _positions(
    s: Session, as_of: date, to_base: ToBase
) -> tuple[dict[str, Decimal], dict[str, tuple[Decimal, Decimal]], list[str]]:
    """Each customer's exposure on ``as_of`` in the base currency (open receivables: its
    documents issued by then less its payments received by then), each credit line's
    (exposure, limit) and the customers whose line is on hold: one grouped query."""
    inv, pay, cust, line = (table_of(t) for t in (Invoice, Payment, Customer, CreditLine))
    moves = union_all(
        sa_select(inv.c.customer_id, inv.c.currency, inv.c.amount).where(inv.c.issue_date <= as_of),
        sa_select(pay.c.customer_id, pay.c.currency, -pay.c.amount).where(
            pay.c.status == PaymentStatus.RECEIVED, pay.c.paid_on <= as_of
        ),
    ).subquery("moves")
    net = (
        sa_select(moves.c.customer_id, moves.c.currency, func.sum(moves.c.amount).label("net"))
        .group_by(moves.c.customer_id, moves.c.currency)
        .subquery("net")
    )
    exposure: dict[str, Decimal] = defaultdict(Decimal)
    limits: dict[str, Decimal] = {}
    held: list[str] = []
    query = (
        sa_select(
            cust.c.code, net.c.currency, net.c.net, line.c.limit, line.c.currency, line.c.status
        )
        .select_from(
            cust.outerjoin(net, net.c.customer_id == cust.c.id).outerjoin(
                line, line.c.customer_id == cust.c.id
            )
        )
        .where(or_(net.c.customer_id.is_not(None), line.c.id.is_not(None)))
    )
    for code, currency, amount, limit, line_currency, status in s.execute(query):
        value = None if currency is None else to_base(amount, currency)
        if value is not None:
            exposure[code] += value
        if limit is None or code in limits:
            continue
        in_base = to_base(limit, line_currency)
        if in_base is not None:
            limits[code] = in_base
            if status == LineStatus.ON_HOLD:
                held.append(code)
    lines = {c: (exposure.get(c, ZERO), limit) for c, limit in limits.items()}
    return dict(exposure), lines, held


def _holds(
    s: Session, held: list[str], lines: dict[str, tuple[Decimal, Decimal]]
) -> dict[str, Any]:
    """The lines on hold: how many, their exposure, the largest with why they are held."""
    largest = sorted(held, key=lambda c: (-lines[c][0], c))[:TOP]
    cust, line = table_of(Customer), table_of(CreditLine)
    why = {
        r.code: r
        for r in s.execute(
            sa_select(cust.c.code, cust.c.name, line.c.hold_reason)
            .join(line, line.c.customer_id == cust.c.id)
            .where(cust.c.code.in_(largest))
        )
    }
    return {
        "count": len(held),
        "exposure": money(sum((lines[c][0] for c in held), ZERO)),
        "limit": money(sum((lines[c][1] for c in held), ZERO)),
        "top": [
            {
                "code": c,
                "name": why[c].name,
                "reason": why[c].hold_reason or "",
                "exposure": money(lines[c][0]),
                "limit": money(lines[c][1]),
            }
            for c in largest
        ],
    }


def _band(pct: Decimal | None) -> str:
    if pct is None:
        return "no limit"
    return next(
        label
        for label, low, high in BANDS
        if (low is None or pct >= low) and (high is None or pct < high)
    )


def _limits(lines: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Any]:
    """Exposure against limits: the lines by utilisation band and the most used lines."""
    util = analytics.utilisation(lines)
    bands: dict[str, dict[str, Any]] = {
        label: {"band": label, "lines": 0, "exposure": ZERO, "limit": ZERO}
        for label in [b[0] for b in BANDS] + ["no limit"]
    }
    for code, (exposure, limit) in lines.items():
        entry = bands[_band(util[code])]
        entry["lines"] += 1
        entry["exposure"] += exposure
        entry["limit"] += limit
    most = heapq.nsmallest(
        TOP, (c for c in lines if util[c] is not None), key=lambda c: (-(util[c] or ZERO), c)
    )
    total_exposure = sum((e for e, _ in lines.values()), ZERO)
    total_limit = sum((lim for _, lim in lines.values()), ZERO)
    return {
        "bands": [
            {**b, "exposure": money(b["exposure"]), "limit": money(b["limit"])}
            for b in bands.values()
        ],
        "most_used": [
            {"code": c, "exposure": money(lines[c][0]), "limit": money(lines[c][1]), "pct": util[c]}
            for c in most
        ],
        "lines": len(lines),
        "exposure": money(total_exposure),
        "limit": money(total_limit),
        "pct": _pct(total_exposure, total_limit),
    }


def _overdue_by_level(
    s: Session, as_of: date, to_base: ToBase, policy: PolicyBody
) -> list[dict[str, Any]]:
    """Customers (per currency) at each dunning level by their last step on or before
    ``as_of``, with what was overdue when that step was taken."""
    da = table_of(DunningAction)
    last = (
        sa_select(func.max(da.c.id))
        .where(da.c.as_of <= as_of)
        .group_by(da.c.customer_id, da.c.currency)
    )
    found: dict[int, dict[str, Any]] = {}
    for level, currency, count, total in s.execute(
        sa_select(da.c.level, da.c.currency, func.count(), func.sum(da.c.overdue_total))
        .where(da.c.id.in_(last), da.c.level > 0)
        .group_by(da.c.level, da.c.currency)
    ):
        label = (
            policy.dunning_level(level).label
            if level <= len(policy.dunning.levels)
            else f"level {level}"
        )
        entry = found.setdefault(
            level, {"level": level, "label": label, "accounts": 0, "overdue": ZERO}
        )
        entry["accounts"] += count
        entry["overdue"] += to_base(total, currency) or ZERO
    return [{**e, "overdue": money(e["overdue"])} for _, e in sorted(found.items())]


def _open_orders(s: Session, to_base: ToBase) -> Decimal:
    order = table_of(SalesOrder)
    total = ZERO
    for currency, amount in s.execute(
        sa_select(order.c.currency, func.sum(order.c.amount))
        .where(order.c.status == OrderStatus.OPEN)
        .group_by(order.c.currency)
    ):
        total += to_base(amount, currency) or ZERO
    return money(total)


def _read(s: Session, app: App, *, as_of: date, months: int) -> dict[str, Any]:
    version, policy = app.published_policy(s)
    to_base = ToBase.of(s, policy.base_currency, as_of)
    ledger = folded_ledger(s, as_of=as_of, months=months, to_base=to_base)
    exposure, lines, held = _positions(s, as_of, to_base)
    ranked, share = analytics.concentration(exposure, TOP)
    aging = analytics.aging(ledger, as_of)
    positive = sum((v for v in exposure.values() if v > 0), ZERO)
    return {
        "as_of": as_of,
        "months": months,
        "policy_version": version,
        "base_currency": policy.base_currency,
        "receivables": money(ledger.receivables(as_of)),
        "aging": {k: money(v) for k, v in aging.items()},
        "overdue": money(sum((v for k, v in aging.items() if k != "current"), ZERO)),
        "monthly": [asdict(m) for m in analytics.monthly_figures(ledger, as_of, months)],
        "by_level": _overdue_by_level(s, as_of, to_base, policy),
        "holds": _holds(s, held, lines),
        "limits": _limits(lines),
        "open_orders": _open_orders(s, to_base),
        "concentration": {
            "top": [{"code": c, "exposure": money(v), "pct": _pct(v, positive)} for c, v in ranked],
            "share_pct": share,
            "total": money(positive),
        },
        "warnings": sorted(set(to_base.warnings)),
    }


def dashboard(app: App, *, as_of: date, months: int = 12, wait: bool = False) -> dict[str, Any]:
    """The dashboard's figures as of a date. Computed once for what the database holds: until
    something is recorded (an import, a decision, a dunning step), a repeated call returns the
    same figures from memory. After a change, the figures computed last for the same date are
    returned at once, marked ``refreshing`` with when they were computed, while newer ones are
    computed in the background (a person never waits seconds for a chart); ``wait`` waits for
    them instead (the first call ever for a date always does)."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        version = _version(s)
    key = (app.settings.database_url, as_of, months)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached[0] == version:
        return {**cached[1], "refreshing": False}
    if cached is not None and not wait:
        _refresh_in_background(app, key, version)
        return {**cached[1], "refreshing": True}
    return _compute(app, key, version)


_RUNNING: set[tuple[Any, ...]] = set()


def _compute(app: App, key: tuple[Any, ...], version: tuple[Any, ...]) -> dict[str, Any]:
    _url, as_of, months = key
    with app.uow(read_only=True) as uow:
        figures = {
            **_read(uow.session, app, as_of=as_of, months=months),
            "computed_at": utcnow(),
        }
    with _CACHE_LOCK:
        while len(_CACHE) >= _CACHED and key not in _CACHE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (version, figures)
    return {**figures, "refreshing": False}


def _refresh_in_background(app: App, key: tuple[Any, ...], version: tuple[Any, ...]) -> None:
    with _CACHE_LOCK:
        if key in _RUNNING:
            return
        _RUNNING.add(key)

    def run() -> None:
        try:
            _compute(app, key, version)
        except Exception:  # the stale figures stay; the next view tries again
            log.exception("refreshing the dashboard failed")
        finally:
            with _CACHE_LOCK:
                _RUNNING.discard(key)

    threading.Thread(target=run, name="dashboard-refresh", daemon=True).start()
