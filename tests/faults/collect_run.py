"""A daily collections run as the ``collections`` flow makes it (select, dun in batches, deliver),
without Prefect: the process the fault tests kill and start again.

    python -m tests.faults.collect_run 2027-03-01 [--batch 100]

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
    ids = services.collection_candidates(app, as_of=as_of)
    actions = services.dun_customers(
        app, customer_ids=ids, as_of=as_of, dry_run=False, batch_size=batch
    )
    delivery = services.deliver(app)
    summary = run_summary(actions)
    print(json.dumps({"candidates": len(ids), "levels": summary["levels"], "delivery": delivery}))


if __name__ == "__main__":
    main()
