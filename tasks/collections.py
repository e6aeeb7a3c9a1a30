from __future__ import annotations

from datetime import date

from prefect import task

from credit import services
from tasks._runtime import app


@task(name="find-collection-candidates")
def find_collection_candidates(as_of: date) -> list[int]:
    """Ids of customers with something past due or an open dunning episode."""
    return services.collection_candidates(app(), as_of=as_of)


@task(name="dun-customers")
def dun_customers(customer_ids: list[int], as_of: date, dry_run: bool) -> list[dict]:
    """Take the next dunning step for a batch of customers."""
    return services.dun_customers(app(), customer_ids=customer_ids, as_of=as_of, dry_run=dry_run)
