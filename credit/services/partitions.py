"""Several workers share one run: the run's customers are split into partitions, and each worker
claims the next partition nobody holds until none is left.

Claims are ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers on several machines never
wait for each other and never take the same partition) followed by a conditional update; on
SQLite the update alone, under the database's write lock. A claim carries a lease, renewed after
each committed batch, and a token (the partition's claim count): a worker whose lease ended and
whose partition was taken over notices at its next renewal and stops, and its late "done" is
not recorded over the new owner's. Taking a partition over is safe for the ledger: each customer
is dunned under its row lock and each step has a unique key.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select

from credit.app import App
from credit.db.models import WorkPartition, utcnow
from credit.services.collections import RunSummary, dun_customers, run_summary
from credit.services.common import id_col

log = logging.getLogger(__name__)


class PartitionStatus(StrEnum):
    PENDING = "pending"  # free to claim
    RUNNING = "running"  # claimed; free again once its lease ends
    DONE = "done"


LEASE = timedelta(minutes=2)  # renewed after every batch of 500 customers (a few seconds each)


class LeaseLost(RuntimeError):
    """Another worker took this partition over (this worker's lease had ended)."""


def host() -> str:
    return socket.gethostname()


def worker_name() -> str:
    return f"{host()}:{os.getpid()}"


def plan_partitions(app: App, *, run_key: str, customer_ids: list[int], parts: int) -> int:
    """Split the run's customers (in id order) into ``parts`` contiguous partitions. A retried
    run keeps its partitions and reopens those where a customer failed, so that only those are
    dunned again. The number of partitions."""
    with app.uow() as uow:
        s = uow.session
        existing = s.exec(select(WorkPartition).where(WorkPartition.run_key == run_key)).all()
        if existing:
            for p in existing:
                if p.status == PartitionStatus.DONE and (p.summary or {}).get("errors"):
                    p.status, p.summary = PartitionStatus.PENDING, None
                    s.add(p)
            uow.commit()
            return len(existing)
        ids = sorted(set(customer_ids))
        parts = max(1, min(parts, len(ids)))
        size = -(-len(ids) // parts) if ids else 0
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)] if ids else []
        for n, chunk in enumerate(chunks):
            s.add(WorkPartition(run_key=run_key, part=n, customer_ids=chunk))
        uow.commit()
        return len(chunks)


def claim_partition(
    app: App, *, run_key: str, worker: str, now: datetime | None = None
) -> tuple[int, int, int, list[int]] | None:
    """Take the next partition of the run that nobody holds (pending, or running with its lease
    ended): (partition id, number, claim token, customer ids), or None when there is none."""
    now = now or utcnow()
    free = or_(
        col(WorkPartition.status) == PartitionStatus.PENDING,
        and_(
            col(WorkPartition.status) == PartitionStatus.RUNNING,
            col(WorkPartition.lease_until) < now,
        ),
    )
    while True:
        with app.uow() as uow:
            s = uow.session
            query = (
                select(id_col(WorkPartition), WorkPartition.attempts)
                .where(WorkPartition.run_key == run_key, free)
                .order_by(col(WorkPartition.part))
                .limit(1)
            )
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = s.exec(query).first()
            if row is None:
                return None
            pid, attempts = row
            # The update re-checks what the select saw (attempts is the claim's token): on
            # SQLite another worker may have taken the partition in between; then try the next.
            taken = s.exec(
                update(WorkPartition)
                .where(col(WorkPartition.id) == pid, col(WorkPartition.attempts) == attempts, free)
                .values(
                    status=PartitionStatus.RUNNING,
                    claimed_by=worker,
                    lease_until=now + LEASE,
                    attempts=attempts + 1,
                )
            ).rowcount
            if taken != 1:
                continue
            part = s.get(WorkPartition, pid)
            assert part is not None
            result = (pid, part.part, attempts + 1, list(part.customer_ids))
            uow.commit()
            return result


def _mine(partition_id: int, worker: str, token: int) -> Any:
    return and_(
        col(WorkPartition.id) == partition_id,
        col(WorkPartition.claimed_by) == worker,
        col(WorkPartition.attempts) == token,
        col(WorkPartition.status) == PartitionStatus.RUNNING,
    )


def renew_lease(app: App, *, partition_id: int, worker: str, token: int) -> None:
    """Extend this worker's lease; :class:`LeaseLost` if the partition was taken over."""
    with app.uow() as uow:
        renewed = uow.session.exec(
            update(WorkPartition)
            .where(_mine(partition_id, worker, token))
            .values(lease_until=utcnow() + LEASE)
        ).rowcount
        uow.commit()
    if renewed != 1:
        raise LeaseLost(f"partition {partition_id} was taken over; {worker} stops")


def finish_partition(
    app: App, *, partition_id: int, worker: str, token: int, summary: RunSummary
) -> bool:
    """Record the partition done with its summary, if this worker still holds it."""
    with app.uow() as uow:
        done = uow.session.exec(
            update(WorkPartition)
            .where(_mine(partition_id, worker, token))
            .values(
                status=PartitionStatus.DONE, summary=summary, lease_until=None, finished_at=utcnow()
            )
        ).rowcount
        uow.commit()
    if done != 1:
        log.warning("partition %s was taken over before %s finished it", partition_id, worker)
    return done == 1


def work_partitions(
    app: App,
    *,
    run_key: str,
    as_of: date,
    dry_run: bool,
    worker: str | None = None,
    after_partition: Callable[[], None] | None = None,
    limit: int | None = None,
) -> list[int]:
    """Claim and dun partitions of the run until none is free (or ``limit`` are done); the
    partition numbers done here. ``after_partition`` runs after each (say, send its notices).
    Stops (:class:`LeaseLost`) if a partition it holds was taken over."""
    worker = worker or worker_name()
    done: list[int] = []
    while (limit is None or len(done) < limit) and (
        claimed := claim_partition(app, run_key=run_key, worker=worker)
    ):
        pid, number, token, ids = claimed

        def renew(pid: int = pid, token: int = token) -> None:
            renew_lease(app, partition_id=pid, worker=worker, token=token)

        outcomes = dun_customers(
            app, customer_ids=ids, as_of=as_of, dry_run=dry_run, after_batch=renew
        )
        if finish_partition(
            app, partition_id=pid, worker=worker, token=token, summary=run_summary(outcomes)
        ):
            done.append(number)
        if after_partition is not None:
            after_partition()
    return done


def finish_run(
    app: App,
    *,
    run_key: str,
    as_of: date,
    dry_run: bool,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[int]:
    """Make sure every partition of the run gets done: work the free ones here, and wait for the
    ones other workers hold until they are done or their lease ends (the worker died), then take
    those over. Never takes a partition whose lease is running."""
    done: list[int] = []
    while True:
        done += work_partitions(app, run_key=run_key, as_of=as_of, dry_run=dry_run)
        held = [
            p
            for p in partition_summaries(app, run_key=run_key)
            if p["status"] != PartitionStatus.DONE
        ]
        if not held:
            return done
        ends = [p["lease_until"] for p in held if p["lease_until"] is not None]
        wait = min(ends) - utcnow() if ends else timedelta(seconds=poll)
        sleep(min(max(wait.total_seconds(), 0.2), poll))


def partition_summaries(app: App, *, run_key: str) -> list[dict[str, Any]]:
    """Each partition's number, status, worker, lease, claims and summary, in partition order."""
    with app.uow() as uow:
        rows = uow.session.exec(
            select(WorkPartition)
            .where(WorkPartition.run_key == run_key)
            .order_by(col(WorkPartition.part))
        ).all()
        return [
            {
                "part": p.part,
                "status": p.status,
                "worker": p.claimed_by,
                "customers": len(p.customer_ids),
                "attempts": p.attempts,
                "lease_until": _aware(p.lease_until),
                "summary": p.summary,
            }
            for p in rows
        ]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; leases are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    from datetime import UTC

    return value.replace(tzinfo=UTC)


def unfinished_with_lease_ended(app: App, *, run_key: str) -> int:
    """Partitions held by a worker whose lease has ended (it died, or stalls)."""
    now = utcnow()
    return sum(
        1
        for p in partition_summaries(app, run_key=run_key)
        if p["status"] == PartitionStatus.RUNNING
        and p["lease_until"] is not None
        and p["lease_until"] < now
    )


__all__ = [
    "LeaseLost",
    "PartitionStatus",
    "claim_partition",
    "finish_partition",
    "finish_run",
    "plan_partitions",
    "renew_lease",
    "work_partitions",
]
