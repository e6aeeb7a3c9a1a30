"""Database set-up: migrations and the first published policy."""

from __future__ import annotations

import hashlib
import json
from typing import Any

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


def init_database(app: App, *, actor: str) -> dict[str, Any]:
    """Create or upgrade the schema; publish ``config/policy.yaml`` as version 1 if there is no
    policy yet. Safe to run any number of times: on an up-to-date database it only reads."""
    from credit.db import migrate  # Alembic is only needed here

    upgraded = migrate.upgrade(app.engine)
    done = {"migrated_to": migrate.current_revision(app.engine), "upgraded": upgraded}
    with app.uow(read_only=True) as uow:  # the usual case: nothing to publish, no write lock
        if uow.session.exec(select(CreditPolicy.id)).first() is not None:
            version, _ = app.published_policy(uow.session)
            return {**done, "policy_version": version, "created_policy": False}
    with app.uow() as uow:
        if uow.session.exec(select(CreditPolicy.id)).first() is not None:  # another init won
            version, _ = app.published_policy(uow.session)
            return {**done, "policy_version": version, "created_policy": False}
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
            after={"version": 1, "status": "published", "sha256": row.body_sha256},
            reason="initial policy",
            policy_version=1,
        )
        uow.commit()
    return {**done, "policy_version": 1, "created_policy": True}


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
