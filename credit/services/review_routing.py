"""A periodic review's requests drafted and routed a batch at a time.

Drafting a request and routing it through the approval chain one customer at a time took two
transactions and about 45 statements a customer (24 ms; most of an hour for 100,000 customers).
Here a batch shares one transaction: the customers' open items are read in one query (each
approval notice shows the exposure), the audit events are appended to the chain and the notices
written to the outbox in bulk when the batch ends. What is written is what
:func:`credit.services.draft.draft_request` then
:func:`credit.services.approvals.advance_request` write for each assessment in turn
(``tests/integration/test_review_routing.py``); a batch that fails is rolled back and done one
assessment at a time, so an error is that assessment's alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlmodel import col, select

from credit import audit, notices
from credit.app import App
from credit.db.models import CreditAssessment, Customer, RequestKind
from credit.db.tables import among
from credit.services import ledger
from credit.services.approvals import Progress, advance_request, advance_request_in
from credit.services.common import ServiceError
from credit.services.draft import draft_in, draft_request

log = logging.getLogger(__name__)

BATCH = 200  # requests per transaction


class Routed(NamedTuple):
    """A request drafted from an assessment, and where its approval chain stands."""

    request_id: int
    progress: Progress


def draft_and_route(
    app: App, assessment_ids: Sequence[int], *, as_of: date, batch_size: int = BATCH
) -> dict[int, Routed | ServiceError]:
    """A review request drafted from each complete assessment and sent on to its approvers, by
    assessment id; a :class:`ServiceError` for one that could not be (its reason)."""
    out: dict[int, Routed | ServiceError] = {}
    for i in range(0, len(assessment_ids), batch_size):
        chunk = list(assessment_ids[i : i + batch_size])
        try:
            out.update(_batch(app, chunk, as_of))
        except Exception as exc:  # noqa: BLE001 - redone one by one, where a real error surfaces
            log.warning(
                "drafting a batch of %d request(s) rolled back (%s: %s); drafting each alone",
                len(chunk),
                type(exc).__name__,
                exc,
            )
            for assessment_id in chunk:
                out[assessment_id] = _one(app, assessment_id, as_of)
    return out


def _one(app: App, assessment_id: int, as_of: date) -> Routed | ServiceError:
    try:
        request_id = draft_request(app, assessment_id=assessment_id, kind=RequestKind.REVIEW)
        return Routed(request_id, advance_request(app, request_id=request_id, as_of=as_of))
    except ServiceError as exc:
        return exc


def _batch(app: App, chunk: list[int], as_of: date) -> dict[int, Routed | ServiceError]:
    done: dict[int, Routed | ServiceError] = {}
    with app.uow() as uow:
        s = uow.session
        # Loaded once and held for the batch: the session keeps only weak references, and each
        # request reads its assessment (tens of kilobytes of JSON) and customer several times.
        assessments = s.exec(
            select(CreditAssessment).where(among(s, col(CreditAssessment.id), chunk))
        ).all()
        ids = sorted({a.customer_id for a in assessments})
        held = [*assessments, *s.exec(select(Customer).where(among(s, col(Customer.id), ids)))]
        with ledger.read_ahead(s, ids, as_of), audit.batched(s), notices.batched(s):
            for assessment_id in chunk:
                request_id = draft_in(app, s, assessment_id=assessment_id, kind=RequestKind.REVIEW)
                progress = advance_request_in(app, s, request_id=request_id, as_of=as_of)
                done[assessment_id] = Routed(request_id, progress)
        uow.commit()
        del held
    return done
