"""Database set-up: migrations and the first published policy."""

from __future__ import annotations

import hashlib
import json
from typing import TypedDict

from sqlmodel import select

from credit import audit
from credit.app import App
from credit.config import load_policy_file
from credit.db.models import (
    CreditPolicy,
    PolicyStatus,
    utcnow,
)
from credit.domain.policy import PolicyBody
from credit.services.common import ServiceError


class SetupResult(TypedDict):
    """The schema's revision (``upgraded``: by this run), and the published policy version
    (``created_policy``: version 1, published by this run)."""

    migrated_to: str | None
    upgraded: bool
    policy_version: int
    created_policy: bool


def init_database(app: App, *, actor: str) -> SetupResult:
    """Create or upgrade the schema; publish ``config/policy.yaml`` as version 1 if there is no
    policy yet. Safe to run any number of times: on an up-to-date database it only reads."""
    from credit.db import migrate  # Alembic is only needed here

    upgraded = migrate.upgrade(app.engine)
    revision = migrate.current_revision(app.engine)
    with app.uow(read_only=True) as uow:  # the usual case: nothing to publish, no write lock
        if uow.session.exec(select(CreditPolicy.id)).first() is not None:
            version, _ = app.published_policy(uow.session)
            return _result(revision, upgraded, policy_version=version, created=False)
    with app.uow() as uow:
        if uow.session.exec(select(CreditPolicy.id)).first() is not None:  # another init won
            version, _ = app.published_policy(uow.session)
            return _result(revision, upgraded, policy_version=version, created=False)
        body = load_policy_file(app.settings.policy_path)
        if body.base_currency != app.settings.base_currency:
            raise ServiceError(
                f"{app.settings.policy_path}: base_currency {body.base_currency} differs "
                f"from CREDIT_BASE_CURRENCY={app.settings.base_currency}"
            )
        row = new_policy_row(
            body,
            version=1,
            proposed_by=actor,
            reason=f"initial policy from {app.settings.policy_path.name}",
        )
        row.status = PolicyStatus.PUBLISHED
        row.published_at = utcnow()
        uow.session.add(row)
        uow.session.flush()
        audit.record(
            uow.session,
            actor=actor,
            action="policy.publish",
            entity_type="credit_policy",
            entity_id=1,
            after={"version": 1, "status": PolicyStatus.PUBLISHED, "sha256": row.body_sha256},
            reason="initial policy",
            policy_version=1,
        )
        uow.commit()
    return _result(revision, upgraded, policy_version=1, created=True)


def _result(
    revision: str | None, upgraded: bool, *, policy_version: int, created: bool
) -> SetupResult:
    return {
        "migrated_to": revision,
        "upgraded": upgraded,
        "policy_version": policy_version,
        "created_policy": created,
    }


def new_policy_row(
    body: PolicyBody, *, version: int, proposed_by: str, reason: str
) -> CreditPolicy:
    data = audit.jsonable(body.model_dump(mode="json"))
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return CreditPolicy(
        version=version,
        name=body.name,
        body=data,
        body_sha256=digest,
        proposed_by=proposed_by,
        reason=reason,
    )
