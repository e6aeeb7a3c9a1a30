"""Several workers share one run: the run's customers are split into partitions, and each worker
claims the next partition nobody holds until none is left.

Claims are ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers on several machines never
wait for each other and never take the same partition) followed by a conditional update; on
SQLite the update alone, under the database's write lock. A claim carries a lease, renewed after
each committed batch: the partition of a worker that died is taken over when its lease ends (or
at once by the run that started the workers, once they have all finished). Taking a partition
over is safe: each customer is dunned under its row lock and each step has a unique key.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import col, select

from credit.app import App
from credit.db.models import WorkPartition, utcnow
from credit.services.collections import dun_customers, run_summary

LEASE = timedelta(minutes=10)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def plan_partitions(app: App, *, run_key: str, customer_ids: list[int], parts: int) -> int:
    """Split the run's customers (in id order) into ``parts`` contiguous partitions; a retried run
    finds its partitions already there and keeps them. The number of partitions."""
    with app.uow() as uow:
        s = uow.session
        existing = s.exec(
            select(func.count()).select_from(WorkPartition).where(WorkPartition.run_key == run_key)
        ).one()
        if existing:
            return existing
        ids = sorted(set(customer_ids))
        parts = max(1, min(parts, len(ids)))
        size = -(-len(ids) // parts) if ids else 0
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)] if ids else []
        for n, chunk in enumerate(chunks):
            s.add(WorkPartition(run_key=run_key, part=n, customer_ids=chunk))
        uow.commit()
        return len(chunks)


def claim_partition(
    app: App, *, run_key: str, worker: str, take_over: bool = False, now: datetime | None = None
) -> tuple[int, int, list[int]] | None:
    """Take the next partition of the run that nobody holds (pending, or running with its lease
    ended; with ``take_over`` also one still leased, for a run whose workers have all finished):
    (partition id, number, customer ids), or None when there is nothing left."""
    now = now or utcnow()
    free = [WorkPartition.status == "pending"]
    if take_over:
        free.append(WorkPartition.status == "running")
    else:
        free.append(and_(WorkPartition.status == "running", col(WorkPartition.lease_until) < now))
    while True:
        with app.uow() as uow:
            s = uow.session
            query = (
                select(WorkPartition.id, WorkPartition.attempts)
                .where(WorkPartition.run_key == run_key, or_(*free))
                .order_by(col(WorkPartition.part))
                .limit(1)
            )
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = s.exec(query).first()
            if row is None:
                return None
            pid, attempts = row
            # The update re-checks what the select saw (attempts is the claim's version): on
            # SQLite another worker may have taken the partition in between, so try the next.
            taken = s.execute(
                update(WorkPartition)
                .where(
                    col(WorkPartition.id) == pid,
                    WorkPartition.attempts == attempts,
                    or_(*free),
                )
                .values(
                    status="running",
                    claimed_by=worker,
                    lease_until=now + LEASE,
                    attempts=WorkPartition.attempts + 1,
                )
            ).rowcount  # type: ignore[attr-defined]
            if taken != 1:
                continue
            part = s.get(WorkPartition, pid)
            assert part is not None
            result = (pid, part.part, list(part.customer_ids))
            uow.commit()
            return result


def renew_lease(app: App, *, partition_id: int, worker: str) -> None:
    with app.uow() as uow:
        uow.session.execute(
            update(WorkPartition)
            .where(col(WorkPartition.id) == partition_id, WorkPartition.claimed_by == worker)
            .values(lease_until=utcnow() + LEASE)
        )
        uow.commit()


def finish_partition(app: App, *, partition_id: int, worker: str, summary: dict[str, Any]) -> None:
    with app.uow() as uow:
        uow.session.execute(
            update(WorkPartition)
            .where(col(WorkPartition.id) == partition_id)
            .values(
                status="done",
                claimed_by=worker,
                summary=summary,
                lease_until=None,
                finished_at=utcnow(),
            )
        )
        uow.commit()


def work_partitions(
    app: App,
    *,
    run_key: str,
    as_of: date,
    dry_run: bool,
    worker: str | None = None,
    take_over: bool = False,
    after_batch: Callable[[], None] | None = None,
) -> list[int]:
    """Claim and dun partitions of the run until none is left; the partition numbers done here."""
    worker = worker or worker_name()
    done: list[int] = []
    while claimed := claim_partition(app, run_key=run_key, worker=worker, take_over=take_over):
        pid, number, ids = claimed

        def batch_done(pid: int = pid) -> None:
            renew_lease(app, partition_id=pid, worker=worker)
            if after_batch is not None:
                after_batch()

        outcomes = dun_customers(
            app, customer_ids=ids, as_of=as_of, dry_run=dry_run, after_batch=batch_done
        )
        finish_partition(app, partition_id=pid, worker=worker, summary=run_summary(outcomes))
        done.append(number)
    return done


def partition_summaries(app: App, *, run_key: str) -> list[dict[str, Any]]:
    """Each partition's number, status, worker and summary, in partition order."""
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
                "summary": p.summary,
            }
            for p in rows
        ]
