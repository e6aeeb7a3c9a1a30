"""The hand-off queue and the service registry, on SQLite and PostgreSQL (no Prefect): a follow-up
is recorded once per key, claimed by exactly one of many claimers, retried with pauses, given up
after the last attempt, taken back from a claimer that died; a service counts as running while it
beats and its process is there."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, FollowUp, ServiceInstance, utcnow
from credit.services import followups, service_state
from credit.services.common import ServiceError
from credit.services.followups import FollowUpKind, FollowUpSpec
from credit.settings import Settings
from tests.conftest import import_sample, scratch_postgres

DAY = date(2026, 12, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def house(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch):
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


def record(a: App, n: int) -> list[int]:
    ids = []
    with a.uow() as uow:
        for i in range(n):
            spec = FollowUpSpec(FollowUpKind.APPROVAL, f"t:{i}", {"request_id": i})
            ids.append(followups.enqueue(uow.session, spec, as_of=DAY, by="carla.manager").id)
        # the same key again (a decision retried): the row already there
        again = followups.enqueue(
            uow.session, FollowUpSpec(FollowUpKind.APPROVAL, "t:0", {}), as_of=DAY, by="x"
        )
        assert again.id == ids[0]
        uow.commit()
    return ids


def test_each_follow_up_is_claimed_by_exactly_one_of_many_claimers(house):
    ids = record(house, 40)
    taken: dict[str, list[int]] = {}

    def claimer(name: str) -> None:
        while (c := followups.claim(house, claimer=name)) is not None:
            taken.setdefault(name, []).append(c.id)
            followups.finish(house, c, claimer=name, result={})

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = sorted(i for got in taken.values() for i in got)
    assert claimed == sorted(ids)  # every one, none twice
    assert followups.count_open(house) == {"pending": 0, "running": 0, "failed": 0}


def test_a_failed_attempt_waits_and_the_last_one_gives_up(house):
    [fid] = record(house, 1)
    for attempt in range(1, followups.MAX_ATTEMPTS + 1):
        c = followups.claim(house, claimer="w")
        assert c is not None and c.id == fid and c.attempt == attempt
        status = followups.failed(house, c, claimer="w", error=f"boom {attempt}")
        if attempt < followups.MAX_ATTEMPTS:
            assert status == "pending"
            assert followups.claim(house, claimer="w") is None  # waiting out its pause
            with house.uow() as uow:  # the pause is over
                uow.session.exec(update(FollowUp).values(not_before=utcnow()))
                uow.commit()
    assert status == "failed"
    view = followups.followup(house, fid)
    assert view and view["status"] == "failed" and view["error"] == "boom 5"
    assert followups.claim(house, claimer="w") is None


def test_a_claim_of_a_dead_process_on_this_machine_is_free_again_at_once(house):
    [fid] = record(house, 1)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"service:{socket.gethostname()}:{gone.pid}"
    assert followups.claim(house, claimer=dead) is not None
    assert followups.claim(house, claimer="other") is None  # held, lease running
    assert followups.release_dead(house, alive=set()) == 1
    c = followups.claim(house, claimer="other")
    assert c is not None and c.id == fid and c.attempt == 2


def test_only_the_claimer_may_finish_and_a_late_finish_does_not_count(house):
    [_] = record(house, 1)
    c = followups.claim(house, claimer="a", lease=timedelta(seconds=-1))  # its lease over at once
    assert c is not None
    taken = followups.claim(house, claimer="b")
    assert taken is not None
    assert not followups.finish(house, c, claimer="a", result={})
    assert followups.finish(house, taken, claimer="b", result={"ok": 1})


def test_a_service_runs_while_it_beats_and_its_process_is_there(house):
    assert services.running_service(house) is None
    me = service_state.register(house, prefect_url="http://127.0.0.1:4200/api", web_url=None)
    running = services.running_service(house)
    assert running and running["id"] == me and running["pid"] == os.getpid()
    later = utcnow() + service_state.ALIVE_WITHIN + timedelta(seconds=1)
    assert services.running_service(house, now=later) is None  # stopped beating
    with house.uow() as uow:  # a killed service on this machine: known at once
        uow.session.exec(
            update(ServiceInstance).where(col(ServiceInstance.id) == me).values(pid=_dead_pid())
        )
        uow.commit()
    assert services.running_service(house) is None
    service_state.sign_off(house, me)
    assert services.house_status(house)["service"] is None


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_a_review_asked_for_twice_before_it_starts_is_refused_and_audited_once(house):
    import_sample(house, ("customers", "financials"))
    asked = services.request_review(
        house, customer_code="C-1001", requested_by="ben.manager", as_of=DAY
    )
    view = followups.followup(house, asked["follow_up"])
    assert view and view["kind"] == "review" and view["status"] == "pending"
    with pytest.raises(ServiceError, match="asked for already"):
        services.request_review(
            house, customer_code="C-1001", requested_by="ben.manager", as_of=DAY
        )
    with house.uow() as uow:
        events = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "review.requested")
        ).all()
    assert [e.actor for e in events] == ["ben.manager"]


def test_a_follow_up_whose_runs_never_finish_is_given_up_and_audited(house):
    [fid] = record(house, 1)
    for n in range(1, followups.MAX_ATTEMPTS + 3):  # each claimer dies: its lease just ends
        c = followups.claim(house, claimer=f"w{n}", lease=timedelta(seconds=-1))
        assert c is not None and c.attempt == n
    assert followups.claim(house, claimer="last") is None
    view = followups.followup(house, fid)
    assert view and view["status"] == "failed" and "never finished" in (view["error"] or "")
    with house.uow() as uow:
        [event] = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "follow_up.failed")
        ).all()
    assert event.actor == "system" and event.entity_id == str(fid)
