"""What `credit status` reports from the database: the service, what it has still to do, and
what waits for people (approvals, ratings) and for the mail server (the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from sqlalchemy import case, func
from sqlmodel import col, select

from credit.app import App
from credit.db.models import Notice, NoticeStatus, ServiceInstance, utcnow
from credit.services.approvals import pending_approvals  # (registers the subjects)
from credit.services.followups import FollowUpView, count_open, open_followups
from credit.services.research import waiting_assessments
from credit.services.service_state import ServiceView, running_service


class OutboxCounts(TypedDict):
    pending: int  # waiting to be sent
    retrying: int  # of those, waiting out a retry after a failed attempt
    failed: int  # given up: `credit notices list --status failed`


class Status(TypedDict):
    service: ServiceView | None
    last_service_seen: str | None  # when no service runs: when one last beat
    follow_ups: dict[str, int]
    open_follow_ups: list[FollowUpView]
    approvals_waiting: int
    approvals_overdue: int
    oldest_approval_due: str | None
    ratings_waiting: int
    outbox: OutboxCounts


def _outbox(app: App) -> OutboxCounts:
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(
                Notice.status,
                func.count(),
                func.coalesce(func.sum(case((col(Notice.attempts) > 0, 1), else_=0)), 0),
            )
            .where(col(Notice.status) != NoticeStatus.SENT)
            .group_by(Notice.status)
        ).all()
    counts: OutboxCounts = {"pending": 0, "retrying": 0, "failed": 0}
    for status, n, tried in rows:
        if status == NoticeStatus.FAILED:
            counts["failed"] += int(n)
        else:
            counts["pending"] += int(n)
            counts["retrying"] += int(tried)
    return counts


def _last_seen(app: App) -> str | None:
    with app.uow(read_only=True) as uow:
        last = uow.session.exec(select(func.max(ServiceInstance.beat_at))).one()
    return last.isoformat(timespec="seconds") if isinstance(last, datetime) else None


def _utc(moment: str) -> datetime:
    at = datetime.fromisoformat(moment)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite: stored as UTC


def house_status(app: App) -> Status:
    """The state of the house, now."""
    now = utcnow()
    service = running_service(app, now=now)
    approvals = pending_approvals(app)
    dues = sorted(_utc(a["due_at"]) for a in approvals if a["due_at"])
    return {
        "service": service,
        "last_service_seen": None if service else _last_seen(app),
        "follow_ups": count_open(app),
        "open_follow_ups": open_followups(app, limit=20),
        "approvals_waiting": len(approvals),
        "approvals_overdue": sum(1 for d in dues if d < now),
        "oldest_approval_due": dues[0].isoformat(timespec="seconds") if dues else None,
        "ratings_waiting": len(waiting_assessments(app)),
        "outbox": _outbox(app),
    }
