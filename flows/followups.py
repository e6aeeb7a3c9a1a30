"""Running follow-ups: the flow each kind of follow-up starts, and the loop a service runs.

A follow-up (``credit.services.followups``) is committed with the decision that asks for it.
:func:`run_one` claims one and runs its flow in this process (the flow run, its tasks and
artifacts show in the Prefect UI like any other); :func:`work` is a service's loop, claiming
whatever is free as soon as it appears.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from credit.app import App
from credit.services import followups
from credit.services.followups import Claimed, FollowUpKind
from flows.approval import approval
from flows.policy import policy
from flows.review import complete_review, credit_review

log = logging.getLogger("credit.followups")


def _review(p: dict[str, Any], as_of: date | None) -> Any:
    assert as_of is not None
    return credit_review(
        customer_code=p["customer_code"],
        requested_by=p["requested_by"],
        as_of=as_of,
        review_key=p["review_key"],
        requested_limit=p.get("requested_limit"),
        override_reason=p.get("override_reason"),
        analyst=p.get("analyst"),
    )


def _complete_review(p: dict[str, Any], as_of: date | None) -> Any:
    assert as_of is not None
    return complete_review(assessment_id=p["assessment_id"], as_of=as_of)


def _approval(p: dict[str, Any], as_of: date | None) -> Any:
    assert as_of is not None
    return approval(request_id=p["request_id"], as_of=as_of)


def _policy(p: dict[str, Any], as_of: date | None) -> Any:
    return policy(version=p["version"], as_of=as_of)


RUNNERS: dict[str, Callable[[dict[str, Any], date | None], Any]] = {
    FollowUpKind.REVIEW: _review,
    FollowUpKind.COMPLETE_REVIEW: _complete_review,
    FollowUpKind.APPROVAL: _approval,
    FollowUpKind.POLICY: _policy,
}


def _jsonable(result: Any) -> dict[str, Any]:
    import json

    try:
        return dict(json.loads(json.dumps(result, default=str)))
    except (TypeError, ValueError):
        return {"result": str(result)}


@contextmanager
def quick_runs() -> Iterator[None]:
    """Flow runs without Prefect's heartbeat thread: a follow-up lasts a second or two, and
    ending a sync run waits for that thread's one-second sleep (measured: a no-op approval run
    took 1.1 s with it, 0.2-0.3 s without). Without heartbeats Prefect cannot mark a killed run
    Crashed (it stays Running in the UI); what runs the follow-up again is its claim's lease."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


# The follow-ups this process is running now: the only claims a service renews.
_running: set[int] = set()
_running_lock = threading.Lock()


def running_now() -> list[int]:
    with _running_lock:
        return sorted(_running)


def _retrying(what: Callable[[], Any], *, tries: int = 5) -> Any:
    """Record an outcome even through a moment of database trouble (SQLite's lock held past its
    busy timeout by a long batch, a dropped PostgreSQL connection)."""
    import time

    for attempt in range(tries):
        try:
            return what()
        except Exception:
            if attempt == tries - 1:
                raise
            log.warning("recording a follow-up's outcome failed; trying again", exc_info=True)
            time.sleep(1 + attempt)
    return None


def run_claimed(app: App, claimed: Claimed, *, claimer: str) -> dict[str, Any]:
    """Run a claimed follow-up's flow and record the outcome; re-raises a failure (recorded as a
    failed attempt first: a refusal of the product's gives up at once, anything else is tried
    again later). Interrupted (Ctrl-C), the claim is given back."""
    from credit.faults import checkpoint
    from credit.services.common import ServiceError

    with _running_lock:
        _running.add(claimed.id)
    try:
        checkpoint("followup.claimed")
        with quick_runs():
            result = _jsonable(RUNNERS[claimed.kind](claimed.params, claimed.as_of))
    except Exception as exc:
        error, final = f"{type(exc).__name__}: {exc}", isinstance(exc, ServiceError)
        status = _retrying(
            lambda: followups.failed(app, claimed, claimer=claimer, error=error, final=final)
        )
        log.error(
            "follow-up %s (%s) failed, attempt %s, now %s:\n%s",
            claimed.id,
            claimed.kind,
            claimed.attempt,
            status,
            traceback.format_exc(),
        )
        raise
    except BaseException:  # Ctrl-C, SystemExit: not done, the next claimer runs it
        _retrying(lambda: followups.release_one(app, claimed, claimer=claimer), tries=1)
        raise
    else:
        _retrying(lambda: followups.finish(app, claimed, claimer=claimer, result=result))
        return result
    finally:
        with _running_lock:
            _running.discard(claimed.id)


def run_one(app: App, followup_id: int, *, claimer: str) -> dict[str, Any] | None:
    """Claim the follow-up and run it here; None when someone else has it (or it is done)."""
    claimed = followups.claim(app, claimer=claimer, followup_id=followup_id)
    if claimed is None:
        return None
    return run_claimed(app, claimed, claimer=claimer)


def drain(
    app: App,
    *,
    claimer: str,
    older_than: timedelta | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run every free follow-up (``older_than``: recorded at least that long ago), one after the
    other, until none is left or ``stop`` is set; how many ran (failures included)."""
    ran = 0
    while (
        not (stop is not None and stop.is_set())
        and (claimed := followups.claim(app, claimer=claimer, older_than=older_than)) is not None
    ):
        ran += 1
        try:
            run_claimed(app, claimed, claimer=claimer)
        except Exception:  # recorded as a failed attempt and logged; the next one still runs
            log.warning("follow-up %s did not complete", claimed.id)
    return ran


def work(
    app: App,
    *,
    claimer: str,
    stop: threading.Event,
    wake: threading.Event,
    poll: float = 0.2,
) -> None:
    """A service's worker: claim and run follow-ups until ``stop``; look again every ``poll``
    seconds, or at once when ``wake`` is set (a decision taken in this process)."""
    while not stop.is_set():
        try:
            if followups.any_free(app):
                drain(app, claimer=claimer, stop=stop)
        except Exception:  # the database away for a moment: log it, keep serving
            log.exception("follow-up worker: looking for work failed; trying again")
            stop.wait(2.0)
        wake.wait(poll)
        wake.clear()
