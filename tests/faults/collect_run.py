"""A daily collections run as the ``collections`` flow makes it (select, dun in batches, deliver),
without Prefect: the process the fault tests kill and start again.

    python -m tests.faults.collect_run 2027-03-01 [--batch 100] [--processes 2]

With ``--processes N`` the run is the one a large run makes on one machine: N processes work
partitions of it, each sending what it queued (``credit.services.local_partitions``).

Settings come from the environment (``CREDIT_DATABASE_URL``, ``CREDIT_SMTP_HOST`` ...);
``CREDIT_CRASH_AT`` picks where it dies (see ``credit.faults``). Prints the run's figures as
JSON on success.
"""

from __future__ import annotations

import json
import sys
from datetime import date

from credit import services
from credit.app import App
from credit.services.collections import run_summary
from credit.settings import Settings


def main() -> None:
    as_of = date.fromisoformat(sys.argv[1])
    batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 100
    app = App(Settings.load())
    processes = int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv else 1
    ids = services.collection_candidates(app, as_of=as_of)
    if processes > 1:
        from credit.services.local_partitions import dun_in_processes

        done = dun_in_processes(
            app, customer_ids=ids, as_of=as_of, dry_run=False, processes=processes
        )
        summary = done["summary"]
    else:
        actions = services.dun_customers(
            app, customer_ids=ids, as_of=as_of, dry_run=False, batch_size=batch
        )
        summary = run_summary(actions)
    delivery = services.deliver(app)
    print(json.dumps({"candidates": len(ids), "levels": summary["levels"], "delivery": delivery}))


if __name__ == "__main__":
    main()
