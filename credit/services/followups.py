"""Follow-ups: what a recorded decision hands to the orchestrator.

A command or a web action records its decision and, in the same transaction, a follow-up row
(research this customer, draft this assessment's request, continue this request's chain,
continue this policy version). Whoever claims the row first runs it: a running ``credit serve``
within a fraction of a second, or the command itself when no service runs. Because the row is
committed with the decision, a follow-up is never lost (a service that was down finds it when it
comes back); because a claim is a conditional update (``FOR UPDATE SKIP LOCKED`` first on
PostgreSQL), it is never run by two claimers at once. Running one twice after a crash is
harmless: every follow-up continues from what the database says, and its notices carry unique
keys.
"""

from __future__ import annotations

import os
import socket
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.models import FollowUp, utcnow
from credit.services.common import id_col, saved_id
from credit.services.service_state import pid_alive


class FollowUpStatus(StrEnum):
    PENDING = "pending"  # waiting for a claimer (or for its next attempt, see not_before)
    RUNNING = "running"  # claimed; free again once its lease ends
    DONE = "done"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS; `credit status` shows it


class FollowUpKind(StrEnum):
    REVIEW = "review"  # research a customer (then draft and route, unless an analyst is asked)
    COMPLETE_REVIEW = "complete_review"  # draft and route a rated assessment
    APPROVAL = "approval"  # continue a credit request after a decision (publish when approved)
    POLICY = "policy"  # back-test, route or publish a policy version


MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=10)  # a follow-up takes seconds; a service renews its claims anyway
RETRY_AFTER = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))


class FollowUpSpec(NamedTuple):
    """A follow-up to record: what runs, on what, and the key that makes it once."""

    kind: FollowUpKind
    key: str
    params: dict[str, Any]


class Claimed(NamedTuple):
    id: int
    kind: str
    params: dict[str, Any]
    as_of: date | None
    attempt: int


def claimer_name(role: str) -> str:
    """``service:host:pid`` or ``cli:host:pid``: who holds a claim, and where to look for it."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


def enqueue(s: Session, spec: FollowUpSpec, *, as_of: date | None, by: str) -> FollowUp:
    """Record a follow-up in the caller's transaction (the decision's); the one already there
    under the same key when the decision is retried."""
    there = s.exec(select(FollowUp).where(FollowUp.key == spec.key)).first()
    if there is not None:
        return there
    row = FollowUp(key=spec.key, kind=spec.kind, params=spec.params, as_of=as_of, requested_by=by)
    s.add(row)
    s.flush()
    return row


def _free(now: datetime) -> Any:
    waiting = and_(
        col(FollowUp.status) == FollowUpStatus.PENDING,
        or_(col(FollowUp.not_before).is_(None), col(FollowUp.not_before) <= now),
    )
    abandoned = and_(
        col(FollowUp.status) == FollowUpStatus.RUNNING, col(FollowUp.lease_until) < now
    )
    return or_(waiting, abandoned)


def claim(
    app: App,
    *,
    claimer: str,
    followup_id: int | None = None,
    lease: timedelta = LEASE,
    older_than: timedelta | None = None,
) -> Claimed | None:
    """Take the oldest free follow-up (or the one given) for ``claimer``; None when there is none
    (or the one given is done, or held by someone else). ``older_than``: only one recorded at
    least that long ago (a sweep leaves a command the follow-up it is about to run)."""
    now = utcnow()
    while True:
        with app.uow() as uow:
            s = uow.session
            query = select(id_col(FollowUp), FollowUp.attempts).where(_free(now))
            if followup_id is not None:
                query = query.where(col(FollowUp.id) == followup_id)
            if older_than is not None:
                query = query.where(col(FollowUp.created_at) <= now - older_than)
            query = query.order_by(col(FollowUp.id)).limit(1)
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = s.exec(query).first()
            if row is None:
                return None
            fid, attempts = row
            # The update re-checks what the select saw: on SQLite another claimer may have
            # taken it in between; then look again.
            taken = s.exec(
                update(FollowUp)
                .where(col(FollowUp.id) == fid, col(FollowUp.attempts) == attempts, _free(now))
                .values(
                    status=FollowUpStatus.RUNNING,
                    claimed_by=claimer,
                    lease_until=now + lease,
                    attempts=attempts + 1,
                    started_at=now,
                )
            ).rowcount
            if taken != 1:
                continue
            f = s.get(FollowUp, fid)
            assert f is not None
            if attempts >= MAX_ATTEMPTS + 2:  # its runs ended the process each time (OOM, kill)
                f.status, f.finished_at = FollowUpStatus.FAILED, now
                f.error = f"given up: claimed {attempts} times, never finished"
                s.add(f)
                _audit_given_up(s, fid, attempts=attempts, error=f.error)
                uow.commit()
                continue
            claimed = Claimed(fid, f.kind, dict(f.params), f.as_of, attempts + 1)
            uow.commit()
            return claimed


def _mine(c: Claimed, claimer: str) -> Any:
    return and_(
        col(FollowUp.id) == c.id,
        col(FollowUp.claimed_by) == claimer,
        col(FollowUp.attempts) == c.attempt,
        col(FollowUp.status) == FollowUpStatus.RUNNING,
    )


def finish(app: App, c: Claimed, *, claimer: str, result: dict[str, Any]) -> bool:
    """Record the follow-up done (if this claimer still holds it)."""
    with app.uow() as uow:
        done = uow.session.exec(
            update(FollowUp)
            .where(_mine(c, claimer))
            .values(
                status=FollowUpStatus.DONE,
                result=result,
                error=None,
                lease_until=None,
                finished_at=utcnow(),
            )
        ).rowcount
        uow.commit()
    return done == 1


def failed(
    app: App, c: Claimed, *, claimer: str, error: str, final: bool = False
) -> FollowUpStatus:
    """Record a failed attempt: pending again after a growing pause; FAILED after the last one,
    or at once when ``final`` (a refusal: trying again would be refused again), audited."""
    last = final or c.attempt >= MAX_ATTEMPTS
    pause = RETRY_AFTER[min(c.attempt, len(RETRY_AFTER)) - 1]
    status = FollowUpStatus.FAILED if last else FollowUpStatus.PENDING
    with app.uow() as uow:
        changed = uow.session.exec(
            update(FollowUp)
            .where(_mine(c, claimer))
            .values(
                status=status,
                error=error[:2000],
                lease_until=None,
                not_before=None if last else utcnow() + pause,
                finished_at=utcnow() if last else None,
            )
        ).rowcount
        if last and changed:
            _audit_given_up(uow.session, c.id, attempts=c.attempt, error=error)
        uow.commit()
    return status


def _audit_given_up(s: Session, followup_id: int, *, attempts: int, error: str) -> None:
    """A follow-up given up: what a decision asked for did not happen (`credit status` lists
    it; the error says why)."""
    row = s.get(FollowUp, followup_id)
    audit.record(
        s,
        actor="system",
        action="follow_up.failed",
        entity_type="follow_up",
        entity_id=followup_id,
        before={"status": FollowUpStatus.RUNNING, "attempts": attempts},
        after={
            "status": FollowUpStatus.FAILED,
            "kind": row.kind if row else "",
            "key": row.key if row else "",
        },
        reason=error[:500],
    )


def release_one(app: App, c: Claimed, *, claimer: str) -> None:
    """Give one claim back (its run was interrupted before it finished): pending again."""
    with app.uow() as uow:
        uow.session.exec(
            update(FollowUp)
            .where(_mine(c, claimer))
            .values(status=FollowUpStatus.PENDING, lease_until=None)
        )
        uow.commit()


def release_dead(app: App, *, alive: set[str]) -> int:
    """Claims of this host's processes that are gone (a service or command that was killed)
    are free again at once, not only when their lease ends. ``alive``: claimer names known to
    run elsewhere on this host (none usually)."""
    prefix = f":{socket.gethostname()}:"
    with app.uow() as uow:
        s = uow.session
        held = s.exec(
            select(FollowUp.id, FollowUp.claimed_by).where(
                col(FollowUp.status) == FollowUpStatus.RUNNING
            )
        ).all()
        dead = [
            fid
            for fid, who in held
            if who and prefix in who and who not in alive and not _pid_alive(who)
        ]
        if dead:
            s.exec(
                update(FollowUp)
                .where(col(FollowUp.id).in_(dead), col(FollowUp.status) == FollowUpStatus.RUNNING)
                .values(status=FollowUpStatus.PENDING, lease_until=None)
            )
        uow.commit()
    return len(dead)


def _pid_alive(claimer: str) -> bool:
    try:
        pid = int(claimer.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return True  # not ours to judge: wait for the lease
    return pid == os.getpid() or pid_alive(pid)


def renew(app: App, *, claimer: str, ids: list[int], lease: timedelta = LEASE) -> None:
    """Extend the leases of the follow-ups ``claimer`` is running now (``ids``: a service's
    workers say which; a claim nobody works on any more is left to its lease)."""
    if not ids:
        return
    with app.uow() as uow:
        uow.session.exec(
            update(FollowUp)
            .where(
                col(FollowUp.id).in_(ids),
                col(FollowUp.claimed_by) == claimer,
                col(FollowUp.status) == FollowUpStatus.RUNNING,
            )
            .values(lease_until=utcnow() + lease)
        )
        uow.commit()


class FollowUpView(TypedDict):
    id: int
    kind: str
    key: str
    status: str
    requested_by: str
    created_at: str
    attempts: int
    claimed_by: str | None
    error: str | None
    result: dict[str, Any] | None


def _view(f: FollowUp) -> FollowUpView:
    return {
        "id": saved_id(f),
        "kind": f.kind,
        "key": f.key,
        "status": f.status,
        "requested_by": f.requested_by,
        "created_at": f.created_at.isoformat(timespec="seconds"),
        "attempts": f.attempts,
        "claimed_by": f.claimed_by,
        "error": f.error,
        "result": f.result,
    }


def followup(app: App, followup_id: int) -> FollowUpView | None:
    with app.uow(read_only=True) as uow:
        f = uow.session.get(FollowUp, followup_id)
        return _view(f) if f is not None else None


def followup_by_key(app: App, key: str) -> FollowUpView | None:
    with app.uow(read_only=True) as uow:
        f = uow.session.exec(select(FollowUp).where(FollowUp.key == key)).first()
        return _view(f) if f is not None else None


def open_followups(app: App, *, limit: int = 50) -> list[FollowUpView]:
    """Follow-ups not done yet (waiting, running, or given up), oldest first."""
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(FollowUp)
            .where(col(FollowUp.status) != FollowUpStatus.DONE)
            .order_by(col(FollowUp.id))
            .limit(limit)
        ).all()
        return [_view(f) for f in rows]


def count_open(app: App) -> dict[str, int]:
    """How many follow-ups are pending, running and failed."""
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(FollowUp.status, func.count())
            .where(col(FollowUp.status) != FollowUpStatus.DONE)
            .group_by(FollowUp.status)
        ).all()
    counts = {str(status): int(n) for status, n in rows}
    return {s: counts.get(s, 0) for s in ("pending", "running", "failed")}


def open_with_prefix(s: Session, prefix: str) -> bool:
    """Whether a follow-up whose key starts with ``prefix`` is not done yet."""
    return (
        s.exec(
            select(id_col(FollowUp)).where(
                col(FollowUp.key).startswith(prefix, autoescape=True),
                col(FollowUp.status).in_([FollowUpStatus.PENDING, FollowUpStatus.RUNNING]),
            )
        ).first()
        is not None
    )


def any_free(app: App) -> bool:
    """Whether a follow-up is waiting to be claimed now (a cheap poll)."""
    with app.uow(read_only=True) as uow:
        return (
            uow.session.exec(select(id_col(FollowUp)).where(_free(utcnow())).limit(1)).first()
            is not None
        )
