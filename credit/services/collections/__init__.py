"""Collections: the next dunning step per customer and currency, charges, holds and handovers.

Each customer is dunned in one transaction that first takes the customer's row lock, then re-reads
the balance, disputes, promises and holds, decides, and commits the action, the audit events and
the notices together. A payment, dispute or promise recorded after the run selected the customer
(those writers take the same lock) is therefore always seen before a notice is committed.

The modules, in the order they build on each other:

- ``errors``: what a run reports as going wrong;
- ``state``: what a batch reads after its locks (:class:`Batch`), a customer's position in one
  currency (:class:`CustomerPosition`) and the run a step belongs to (:class:`DunningRun`);
- ``charges``, ``promises``, ``steps``, ``clearing``: a level's late fee and interest, promises
  settled, a level taken (step, hold, cases, notices), an episode cleared;
- ``decide``: the next step for one customer in one currency (:class:`DunningOutcome`);
- ``run``: customers dunned a batch per transaction; ``candidates``: who a run looks at and
  whether it may run as of its date; ``summary``: a run's figures.
"""

from __future__ import annotations

from credit.services.collections.candidates import check_run_date, collection_candidates
from credit.services.collections.decide import DunningOutcome
from credit.services.collections.errors import (
    AlreadyTaken,
    AmountOutOfRange,
    CollectionsRunFailed,
)
from credit.services.collections.promises import paid_between
from credit.services.collections.run import BATCH, dun_customer, dun_customers, failure_reason
from credit.services.collections.state import Batch, CustomerPosition, DunningRun
from credit.services.collections.steps import notice_context
from credit.services.collections.summary import (
    ACTIONS_SHOWN,
    OutcomeRow,
    RunSummary,
    merge_summaries,
    run_summary,
)

__all__ = [
    "ACTIONS_SHOWN",
    "BATCH",
    "AlreadyTaken",
    "AmountOutOfRange",
    "Batch",
    "CollectionsRunFailed",
    "CustomerPosition",
    "DunningOutcome",
    "DunningRun",
    "OutcomeRow",
    "RunSummary",
    "check_run_date",
    "collection_candidates",
    "dun_customer",
    "dun_customers",
    "failure_reason",
    "merge_summaries",
    "notice_context",
    "paid_between",
    "run_summary",
]
