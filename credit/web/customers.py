"""Customers and the portfolio dashboard: the customer search, a customer's file (each notice
as the customer saw it) and the dashboard with its charts, drawn here as inline SVG from the
service's figures (no script), each beside the table of its numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from credit.domain import workspace as ws
from credit.services import portfolio
from credit.services.common import ServiceError
from credit.web.auth import Access, Person
from credit.web.deps import SiteDep

router = APIRouter()
READERS = [Depends(Access(*sorted(ws.CREDIT_STAFF | {ws.SALES})))]
STAFF = [Depends(Access(*sorted(ws.CREDIT_STAFF)))]

# The stored HTML of a notice, shown in a sandboxed frame of the notice page: no script, no
# request anywhere, no form; the notice's own <style> applies (it is how the customer saw it).
NOTICE_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


def _code(raw: str) -> str:
    return raw.strip().upper()[:40]


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    text: str  # the value as the chart prints it
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per row, scaled to the largest value (negatives drawn empty)."""

    bars: list[Bar]
    width: int
    height: int
    left: int = 150
    span: int = 330
    row: int = 26


def bar_chart(items: Sequence[tuple[str, Decimal, str]]) -> BarChart:
    """``items``: (label, value, the value as printed)."""
    largest = max((v for _, v, _ in items), default=Decimal(0))
    span, row = 330, 26
    bars = [
        Bar(
            label=label,
            value=value,
            text=text,
            y=8 + i * row,
            width=float(value / largest * span) if largest > 0 and value > 0 else 0.0,
        )
        for i, (label, value, text) in enumerate(items)
    ]
    return BarChart(bars=bars, width=600, height=16 + row * len(items), span=span, row=row)


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class that colours it (app.css: .s0, .s1, .s2)
    segments: list[str]  # polyline points, split where a value is missing
    dots: list[tuple[float, float, str]]  # (x, y, the value as printed)


@dataclass(frozen=True)
class LineChart:
    series: list[Series]
    labels: list[tuple[float, str]]  # x positions of the category labels
    ticks: list[tuple[float, str]]  # y positions of the scale
    width: int
    height: int
    top: int
    bottom: int
    left: int
    right: int


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal | None]]],
    *,
    width: int = 600,
    height: int = 200,
) -> LineChart:
    """Lines over categories (months, assessments) on a scale from 0 (or the lowest value) to
    the highest value."""
    values = [v for _, vs in series for v in vs if v is not None]
    low, high = min([Decimal(0), *values]), max([Decimal(1), *values])
    left, right, top, bottom = 48, width - 28, 10, height - 28
    step = (right - left) / max(1, len(labels) - 1)

    def y(v: Decimal) -> float:
        return round(bottom - float((v - low) / (high - low)) * (bottom - top), 1)

    drawn = []
    for n, (name, vs) in enumerate(series):
        segments: list[list[str]] = []
        current: list[str] = []
        dots: list[tuple[float, float, str]] = []
        for i, v in enumerate(vs):
            if v is None:
                segments.append(current)
                current = []
                continue
            point = (round(left + i * step, 1), y(v))
            current.append(f"{point[0]},{point[1]}")
            dots.append((point[0], point[1], f"{v:f}"))
        segments.append(current)
        drawn.append(Series(name, f"s{n}", [" ".join(s) for s in segments if s], dots))
    every = -(-len(labels) // 6)  # at most six labels under the axis
    return LineChart(
        series=drawn,
        labels=[(round(left + i * step, 1), lb) for i, lb in enumerate(labels) if i % every == 0],
        ticks=[(y(t), f"{t.normalize():f}") for t in sorted({low, (low + high) / 2, high})],
        width=width,
        height=height,
        top=top,
        bottom=bottom,
        left=left,
        right=right,
    )


# --------------------------------------------------------------------------- customer list


def _search(query: Mapping[str, str]) -> portfolio.CustomerSearch:
    def get(name: str, size: int = 40) -> str:
        return str(query.get(name, "")).strip()[:size]

    return portfolio.CustomerSearch(
        q=str(query.get("q", "")).strip()[:101],
        rating=get("rating", 3).upper(),
        level=get("level", 3),
        on_hold=bool(get("hold")),
        collector=get("collector", 60),
        after=_code(get("after")),
        before=_code(get("before")),
    )


def _page_link(search: portfolio.CustomerSearch, **position: str) -> str:
    params = {
        "q": search.q,
        "rating": search.rating,
        "level": search.level,
        "hold": "1" if search.on_hold else "",
        "collector": search.collector,
        **position,
    }
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/customers?{query}" if query else "/customers"


@router.get("/customers", response_class=HTMLResponse, dependencies=READERS)
def customers(*, request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    search = _search(request.query_params)
    try:
        page = portfolio.search_customers(here.app, search=search, as_of=here.today())
    except ServiceError as exc:
        refused: portfolio.CustomerPage = {
            "rows": [],
            "next_after": None,
            "prev_before": None,
            "choices": portfolio.search_choices(here.app),
        }
        return here.pages.page(
            "customers/list.html.j2",
            400,
            me=me,
            search=search,
            page=refused,
            error=str(exc),
            next_link="",
            prev_link="",
            first_link="/customers",
        )
    return here.pages.page(
        "customers/list.html.j2",
        me=me,
        search=search,
        page=page,
        error="",
        next_link=_page_link(search, after=page["next_after"]) if page["next_after"] else "",
        prev_link=_page_link(search, before=page["prev_before"]) if page["prev_before"] else "",
        first_link=_page_link(search) if search.after or search.before else "",
    )


# --------------------------------------------------------------------------- customer file


def _not_found(here: SiteDep, me: Person, code: str) -> HTMLResponse:
    return here.pages.message(
        "No such customer",
        f"There is no customer with the code {code}. Search for the customer by name, code or "
        "tax id.",
        ok=False,
        status=404,
        me=me,
        back="/customers?" + urlencode({"q": code}),
        back_label="Search the customers",
    )


@router.get("/customers/{code}", response_class=HTMLResponse, dependencies=READERS)
def customer_file(*, code: str, request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    code = _code(code)
    try:
        found = portfolio.customer_file(here.app, code=code, as_of=here.today())
    except ServiceError:
        return _not_found(here, me, code)
    trend = [t for t in found["trend"] if t["score"] is not None]
    chart = (
        line_chart(
            [str(t["as_of"]) for t in trend], [("score", [t["score"] for t in trend])], height=150
        )
        if len(trend) > 1
        else None
    )
    return here.pages.page(
        "customers/file.html.j2",
        me=me,
        f=found,
        o=found["overview"],
        trend_chart=chart,
        can_review=me.has(ws.MANAGER),
        can_rate=me.has(ws.ANALYST, ws.MANAGER),
        can_collect=me.has(ws.COLLECTOR, ws.MANAGER),
    )


@router.get(
    "/customers/{code}/notices/{notice_id}", response_class=HTMLResponse, dependencies=READERS
)
def notice(*, code: str, notice_id: int, request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    code = _code(code)
    try:
        found = portfolio.customer_notice(here.app, code=code, notice_id=notice_id)
    except ServiceError as exc:
        return here.pages.message(
            "No such notice in this file",
            f"{exc}.",
            ok=False,
            status=404,
            me=me,
            back=f"/customers/{code}",
            back_label="Back to the customer's file",
        )
    return here.pages.page("customers/notice.html.j2", me=me, n=found)


@router.get("/customers/{code}/notices/{notice_id}/body", dependencies=READERS)
def notice_body(*, code: str, notice_id: int, here: SiteDep) -> Response:
    """The notice's HTML exactly as it was sent, for the sandboxed frame of the notice page."""
    try:
        found = portfolio.customer_notice(here.app, code=_code(code), notice_id=notice_id)
    except ServiceError as exc:
        return Response(f"{exc}\n", status_code=404, media_type="text/plain")
    return Response(
        found["html"],
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": NOTICE_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


# --------------------------------------------------------------------------- dashboard


def _charts(d: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's charts, from its figures."""
    cur = d["base_currency"]
    monthly = d["monthly"]
    months = [m["month"] for m in monthly]
    limits = d["limits"]["bands"]
    return {
        "aging": bar_chart([(k, v, f"{cur} {v:,.2f}") for k, v in d["aging"].items()]),
        "dso": line_chart(months, [("DSO (days)", [m["dso"] for m in monthly])]),
        "rates": line_chart(
            months,
            [
                ("CEI (%)", [m["cei"] for m in monthly]),
                ("collection rate (%)", [m["collection_rate"] for m in monthly]),
            ],
        ),
        "levels": bar_chart(
            [(r["label"], r["overdue"], f"{cur} {r['overdue']:,.2f}") for r in d["by_level"]]
        ),
        "limits": bar_chart(
            [(b["band"], Decimal(b["lines"]), f"{b['lines']:,} lines") for b in limits]
        ),
        "concentration": bar_chart(
            [(c["code"], c["exposure"], f"{c['pct']}%") for c in d["concentration"]["top"]]
        ),
    }


@router.get("/dashboard", response_class=HTMLResponse, dependencies=STAFF)
def dashboard(*, request: Request, here: SiteDep) -> HTMLResponse:
    me: Person = request.state.person
    as_of: date = here.today()
    figures = portfolio.dashboard(here.app, as_of=as_of)
    return here.pages.page("customers/dashboard.html.j2", me=me, d=figures, charts=_charts(figures))
