"""Which ``credit serve`` is running: each one registers, says it is alive every few seconds and
signs off when it stops. Commands ask :func:`running_service` to decide whether to hand their
follow-up over or to run it themselves, and reuse the service's Prefect server."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import update
from sqlmodel import col, select

from credit.app import App
from credit.db.models import ServiceInstance, utcnow

BEAT_EVERY = timedelta(seconds=2)
# A service that has not beaten for this long is taken for gone (killed, machine down): commands
# run their follow-ups themselves again, and its claims are taken over.
ALIVE_WITHIN = timedelta(seconds=10)


class ServiceView(TypedDict):
    id: str
    host: str
    pid: int
    started_at: str
    beat_at: str
    prefect_url: str | None
    web_url: str | None


def _aware(t: datetime) -> datetime:
    # SQLite hands back naive datetimes of what was stored as UTC.
    return t if t.tzinfo is not None else t.replace(tzinfo=utcnow().tzinfo)


def register(app: App, *, prefect_url: str | None, web_url: str | None) -> str:
    """A new service instance; its id."""
    instance = f"{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with app.uow() as uow:
        uow.session.add(
            ServiceInstance(
                id=instance,
                host=socket.gethostname()[:120],
                pid=os.getpid(),
                prefect_url=prefect_url,
                web_url=web_url,
            )
        )
        uow.commit()
    return instance


def beat(app: App, instance: str) -> None:
    with app.uow() as uow:
        uow.session.exec(
            update(ServiceInstance)
            .where(col(ServiceInstance.id) == instance)
            .values(beat_at=utcnow())
        )
        uow.commit()


def sign_off(app: App, instance: str) -> None:
    with app.uow() as uow:
        uow.session.exec(
            update(ServiceInstance)
            .where(col(ServiceInstance.id) == instance)
            .values(stopped_at=utcnow())
        )
        uow.commit()


def running_service(app: App, *, now: datetime | None = None) -> ServiceView | None:
    """The most recently started service that is alive: it beat within ALIVE_WITHIN and, when
    it runs on this machine, its process is there (a killed one is known at once)."""
    since = (now or utcnow()) - ALIVE_WITHIN
    here = socket.gethostname()[:120]
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(ServiceInstance)
            .where(col(ServiceInstance.stopped_at).is_(None), col(ServiceInstance.beat_at) >= since)
            .order_by(col(ServiceInstance.started_at).desc())
        ).all()
    for row in rows:
        if row.host == here and not pid_alive(row.pid):
            continue
        return {
            "id": row.id,
            "host": row.host,
            "pid": row.pid,
            "started_at": _aware(row.started_at).isoformat(timespec="seconds"),
            "beat_at": _aware(row.beat_at).isoformat(timespec="seconds"),
            "prefect_url": row.prefect_url,
            "web_url": row.web_url,
        }
    return None


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is there (one of another user's counts as there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
