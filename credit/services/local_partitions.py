"""A large collections run on one machine uses every core: the run's customers are split into
partitions (the same claims and leases as workers of a pool, :mod:`credit.services.partitions`),
and ``processes - 1`` helper processes of this machine work them beside the run's own process.
Each process sends the notices queued so far after every partition it finishes, so rendering,
the letters' PDFs and the ``.eml`` files are spread over the cores too.

The guarantees are a single process's: each customer is dunned under its lock with one step per
customer, currency and day (a unique key), each notice has its idempotency key, and delivery
claims each notice with a lease. A helper dies with the run (Linux: the parent's death ends it,
after the commit that marks the message it is sending);
a helper that dies alone leaves its partition to the others at once (its process is known dead).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from credit import progress
from credit.app import App
from credit.db.models import WorkPartition
from credit.services import partitions
from credit.services.collections import RunSummary, merge_summaries

log = logging.getLogger(__name__)

PARTS_PER_PROCESS = 6  # a skewed portfolio still ends with every core busy


def processes_for(app: App, customers: int) -> int:
    """How many processes a run over ``customers`` uses: ``CREDIT_COLLECTIONS_PROCESSES`` (the
    machine's cores by default) once there are ``CREDIT_COLLECTIONS_PARALLEL_FROM`` customers."""
    wanted = app.settings.collections_processes or (os.cpu_count() or 1)
    if wanted <= 1 or customers < max(app.settings.collections_parallel_from, 2):
        return 1
    return wanted


def dun_in_processes(
    app: App,
    *,
    customer_ids: list[int],
    as_of: date,
    dry_run: bool,
    processes: int,
    send: bool = True,
) -> dict[str, Any]:
    """Dun ``customer_ids`` in ``processes`` processes of this machine and (``send``) send what
    they queue; the merged summary and each partition's number, worker and size."""
    send = send and not dry_run
    run_key = f"collections:{as_of.isoformat()}:local:{uuid.uuid4().hex[:12]}"
    parts = partitions.plan_partitions(
        app, run_key=run_key, customer_ids=customer_ids, parts=processes * PARTS_PER_PROCESS
    )
    env = app.settings.as_environ() | {"CREDIT_PARENT_PID": str(os.getpid())}
    helpers = [
        _start_helper(run_key, as_of, dry_run=dry_run, send=send, env=env)
        for _ in range(processes - 1)
    ]
    log.info("%s: %d partitions, %d helper process(es)", run_key, parts, len(helpers))
    try:
        _work_here(app, run_key=run_key, as_of=as_of, dry_run=dry_run, send=send, helpers=helpers)
        for helper in helpers:  # they send what is left of their own, then end
            helper.wait()
            if helper.returncode:
                log.warning("helper process %s ended with %s", helper.pid, helper.returncode)
    finally:
        for helper in helpers:  # asked to stop: each ends after the message it is sending
            if helper.poll() is None:
                helper.terminate()
        for helper in helpers:
            try:
                helper.wait(timeout=60)
            except subprocess.TimeoutExpired:
                helper.kill()
    if send:
        from credit.services.outbox import deliver

        deliver(app)  # whatever a helper queued and could not send
    done = partitions.partition_summaries(app, run_key=run_key)
    summary: RunSummary = merge_summaries([p["summary"] for p in done if p["summary"]])
    return {
        "summary": summary,
        "partitions": [{k: p[k] for k in ("part", "worker", "customers")} for p in done],
    }


def _start_helper(
    run_key: str, as_of: date, *, dry_run: bool, send: bool, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "credit.services.local_partitions", run_key, as_of.isoformat()]
    if dry_run:
        argv.append("--dry-run")
    if not send:
        argv.append("--no-send")
    # Its own output goes to its log (main); a terminal sees the run's progress, not a helper's.
    return subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _work_here(
    app: App,
    *,
    run_key: str,
    as_of: date,
    dry_run: bool,
    send: bool,
    helpers: list[subprocess.Popen[bytes]],
) -> None:
    """Claim and dun partitions here until every one is done: free ones first, then those of a
    helper that died (released at once), then wait for those the live helpers hold."""
    reported = 0
    while True:
        while partitions.work_partitions(
            app,
            run_key=run_key,
            as_of=as_of,
            dry_run=dry_run,
            after_partition=_send(app) if send else None,
            limit=1,
        ):
            reported = _report(app, run_key, reported)
        for helper in helpers:
            if helper.poll() is not None and helper.returncode != 0:
                _release(app, run_key=run_key, worker=f"{partitions.host()}:{helper.pid}")
        left = [
            p
            for p in partitions.partition_summaries(app, run_key=run_key)
            if p["status"] != partitions.PartitionStatus.DONE
        ]
        reported = _report(app, run_key, reported)
        if not left:
            return
        if all(h.poll() is not None for h in helpers) and not any(
            p["status"] == partitions.PartitionStatus.PENDING for p in left
        ):
            # every helper ended and someone else's lease runs: the pool's rule applies
            partitions.finish_run(app, run_key=run_key, as_of=as_of, dry_run=dry_run)
            return
        time.sleep(0.2)


def _report(app: App, run_key: str, reported: int) -> int:
    """Tell a watcher how many customers the run's partitions have done, all processes counted."""
    if not progress.watched():
        return reported
    done = sum(
        p["customers"]
        for p in partitions.partition_summaries(app, run_key=run_key)
        if p["status"] == partitions.PartitionStatus.DONE
    )
    if done > reported:
        progress.advance("customers", done - reported)
    return max(done, reported)


def _send(app: App) -> Any:
    from credit.services.outbox import deliver

    def send() -> None:
        deliver(app)

    return send


def _release(app: App, *, run_key: str, worker: str) -> None:
    """Free the partitions a dead helper process held (it is known dead: no lease to wait for)."""
    with app.uow() as uow:
        freed = uow.session.exec(
            update(WorkPartition)
            .where(
                col(WorkPartition.run_key) == run_key,
                col(WorkPartition.claimed_by) == worker,
                col(WorkPartition.status) == partitions.PartitionStatus.RUNNING,
            )
            .values(status=partitions.PartitionStatus.PENDING, lease_until=None)
        ).rowcount
        uow.commit()
    if freed:
        log.warning("%s: took back %d partition(s) of %s, which died", run_key, freed, worker)


def _die_with_parent() -> None:
    """Linux: this helper ends when the run's process dies, as a thread of it would, but not
    between a mail server's acceptance of a message and the commit that marks it sent (ended
    there, the next run would send the message again): the parent's death is a SIGTERM, which
    ends the process at once or right after that commit (:mod:`credit.notices.stopping`)."""
    import signal

    from credit.notices import stopping

    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.ask_to_stop())
    parent = int(os.environ.get("CREDIT_PARENT_PID", "0") or 0)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the lease covers a helper left behind
        return
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str] | None = None) -> None:
    """A helper process: ``python -m credit.services.local_partitions RUN_KEY AS_OF
    [--dry-run] [--no-send]``; settings come from the environment it was started with."""
    _die_with_parent()
    args = list(sys.argv[1:] if argv is None else argv)
    dry_run = "--dry-run" in args
    send = not dry_run and "--no-send" not in args
    run_key, day = [a for a in args if not a.startswith("--")][:2]
    from credit.settings import Settings

    settings = Settings.load(env_file=None)  # the run's settings, as it handed them over
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=settings.log_dir / "collections-helpers.log",
        level=logging.WARNING,
        format=f"%(asctime)s {os.getpid()} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("credit").setLevel(logging.INFO)
    app = App(settings)
    try:
        partitions.work_partitions(
            app,
            run_key=run_key,
            as_of=date.fromisoformat(day),
            dry_run=dry_run,
            after_partition=_send(app) if send else None,
        )
    except Exception:  # the run's process takes its partition back and says so
        log.exception("%s: helper process %s failed", run_key, os.getpid())
        sys.exit(1)
    finally:
        app.engine.dispose()


if __name__ == "__main__":
    main()
