"""A periodic review's requests drafted and routed a batch per transaction write what drafting
and routing each on its own writes (requests, approval steps, links, audit events, notices); a
batch that fails is rolled back and done one request at a time, the failure that one's alone."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import col, select

from bench.portfolio import generate
from credit.app import App
from credit.db.models import (
    ApprovalLink,
    ApprovalStep,
    AuditEvent,
    CreditAssessment,
    CreditRequest,
    Notice,
)
from credit.services import review_routing
from credit.services.research_batch import research_customers
from credit.services.review_routing import Routed, draft_and_route
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, scratch_postgres
from tests.integration.test_research_batch import (
    DAY,
    NOW,
    PORTFOLIO,
    REQUESTER,
    copy,
    due_list,
    portfolio,  # noqa: F401  # the module's portfolio fixture
)

TOKEN = re.compile(r"/approve/[^\s\"'<>]+")  # an approval link's token is random
WHEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")  # a due time: the clock's, plus hours


def plain(text: str) -> str:
    return WHEN.sub("(when)", TOKEN.sub("/approve/(token)", text))


def researched(app: App) -> list[int]:
    """The complete assessments of the review (research, as the flow does it first)."""
    done = research_customers(
        app, due=due_list(app), as_of=DAY, requested_by=REQUESTER, notify_ready=False, now=NOW
    )
    return [r["assessment_id"] for r in done if r["status"] == "complete"]


def timeless(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not isinstance(v, datetime) and k != "nonce"}


def written(app: App) -> dict[str, Any]:
    """Everything drafting and routing wrote, without clock times, nonces and link tokens."""
    with app.uow() as uow:
        s = uow.session

        def rows(model: Any) -> list[dict[str, Any]]:
            return [timeless(r.model_dump()) for r in s.exec(select(model).order_by(model.id))]

        events = [
            (e.actor, e.action, e.entity_type, e.entity_id, e.before, e.reason, e.policy_version,
             {k: v for k, v in e.after.items() if k != "due_at"} if isinstance(e.after, dict)
             else e.after)
            for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        ]  # fmt: skip
        sent = [
            (n.idempotency_key, n.kind, n.customer_id, tuple(n.recipients), plain(n.subject),
             plain(n.text), plain(n.html))
            for n in s.exec(select(Notice).order_by(col(Notice.idempotency_key)))
        ]  # fmt: skip
        return {
            "requests": rows(CreditRequest),
            "steps": rows(ApprovalStep),
            "links": rows(ApprovalLink),
            "events": events,
            "notices": sent,
        }


def one_at_a_time(app: App, ids: list[int]) -> dict[int, Any]:
    return {i: review_routing._one(app, i, DAY) for i in ids}


def brief(out: dict[int, Any]) -> dict[int, Any]:
    """What a run reports of each request (a batch's notices get their ids when it ends)."""
    return {
        i: (r.request_id, r.progress.status, r.progress.waiting_for)
        if isinstance(r, Routed)
        else str(r)
        for i, r in out.items()
    }


def test_batches_write_what_one_request_at_a_time_writes(portfolio, tmp_path, caplog):  # noqa: F811
    one, many = copy(portfolio, tmp_path, "one"), copy(portfolio, tmp_path, "many")
    ids = researched(one)
    assert ids == researched(many) and len(ids) > 10
    alone = one_at_a_time(one, ids)
    batched = draft_and_route(many, ids, as_of=DAY, batch_size=7)
    assert "rolled back" not in caplog.text  # every batch went through as one
    assert brief(batched) == brief(alone)
    assert all(isinstance(r, Routed) for r in batched.values())
    a, b = written(one), written(many)
    made = [r for r in a["requests"] if r["assessment_id"] in set(ids)]
    assert len(made) == len(ids) and a["steps"] and a["links"]
    assert {n[1] for n in a["notices"]} >= {"request_drafted", "approval_needed"}
    for part in a:
        assert a[part] == b[part], part
    with many.uow() as uow:  # the chain holds: the batch's events were appended in bulk
        from credit import audit

        assert audit.verify(uow.session).ok
    # again: the requests drafted are returned, nothing is written twice
    assert brief(draft_and_route(many, ids, as_of=DAY, batch_size=7)) == brief(batched)
    assert written(many) == b


def test_a_batch_that_fails_is_redone_one_request_at_a_time(portfolio, tmp_path, caplog):  # noqa: F811
    healthy, failing = copy(portfolio, tmp_path, "healthy"), copy(portfolio, tmp_path, "failing")
    ids = researched(healthy)
    assert ids == researched(failing)
    unlucky = ids[9]
    for app in (healthy, failing):  # a limit asked for without a reason cannot be drafted
        with app.uow() as uow:
            a = uow.session.get(CreditAssessment, unlucky)
            assert a is not None and a.recommended_limit is not None
            a.requested_limit, a.override_reason = a.recommended_limit + 1000, None
            uow.session.add(a)
            uow.commit()
    expected = one_at_a_time(healthy, ids)
    got = draft_and_route(failing, ids, as_of=DAY, batch_size=7)
    assert "drafting a batch of 7 request(s) rolled back" in caplog.text
    assert brief(got) == brief(expected)
    assert "no reason was given" in str(got[unlucky])
    assert written(failing) == written(healthy)


def test_on_postgresql_batches_write_what_one_request_at_a_time_writes(caplog):
    """PostgreSQL's own paths: the batch's ids as one array, the notices by COPY, row locks."""
    with scratch_postgres() as one_url, scratch_postgres() as many_url:
        apps = []
        for url in (one_url, many_url):
            generate(url, **PORTFOLIO)
            apps.append(
                App(
                    Settings.load(
                        env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}
                    )
                )
            )
        one, many = apps
        ids = researched(one)
        assert ids == researched(many) and len(ids) > 10
        alone = one_at_a_time(one, ids)
        batched = draft_and_route(many, ids, as_of=DAY, batch_size=40)
        assert "rolled back" not in caplog.text
        assert brief(batched) == brief(alone)
        assert written(one) == written(many)
        for app in apps:
            app.engine.dispose()


@pytest.mark.parametrize("batch_size", [1, 200])
def test_any_batch_size_routes_every_request(portfolio, tmp_path, batch_size):  # noqa: F811
    app = copy(portfolio, tmp_path, f"size{batch_size}")
    ids = researched(app)
    got = draft_and_route(app, ids, as_of=DAY, batch_size=batch_size)
    assert list(got) == ids
    assert all(isinstance(r, Routed) and r.progress.status == "in_approval" for r in got.values())
