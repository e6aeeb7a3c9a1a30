from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

from prefect import task
from prefect.artifacts import create_table_artifact
from sqlmodel import select

from credit import services
from credit.services.approvals import SweepCounts
from tasks.runtime import app


@task(name="advance-request")
def advance_request(request_id: int, as_of: date) -> dict:
    """Route or continue a credit request's approval chain from the database state."""
    return asdict(services.advance_request(app(), request_id=request_id, as_of=as_of))


@task(name="find-approved-requests")
def approved_requests() -> list[int]:
    """Requests approved at every level and not published yet (a follow-up that did not run)."""
    return services.approved_requests(app())


@task(name="advance-policy")
def advance_policy(version: int, backtest: dict | None = None) -> dict:
    """Route, publish or reject a policy version from the database state."""
    return asdict(services.advance_policy(app(), version=version, backtest=backtest))


@task(name="backtest-policy")
def backtest_policy(version: int, as_of: date, days: int = 90, every: int = 30) -> dict | None:
    """Shadow-run a draft against the stored history (nothing sent or changed); the result as a
    table artifact, and a summary for the approval notice."""
    from credit.db.models import CreditPolicy
    from credit.domain.authority import PolicyStatus

    a = app()
    with a.uow() as uow:
        row = uow.session.exec(select(CreditPolicy).where(CreditPolicy.version == version)).first()
        if row is None or row.status not in (PolicyStatus.DRAFT, PolicyStatus.IN_APPROVAL):
            return None  # decided: nothing to compare any more
        draft = row.status == PolicyStatus.DRAFT
    from credit.services.backtest import span

    result = services.backtest(
        a, version=version, dates=span(as_of - timedelta(days=days), as_of, every)
    )
    create_table_artifact(
        key=f"policy-v{version}-backtest",
        table=[
            {
                "date": d["date"],
                "customer": d["customer"],
                "changed": ", ".join(d["changed"]),
                "rating": f"{d['live']['rating']} -> {d['draft']['rating']}",
                "limit": f"{d['live']['limit']} -> {d['draft']['limit']}",
            }  # fmt: skip
            for d in result["decisions"]
        ]
        or [{"date": as_of.isoformat(), "customer": "-", "changed": "no decision changes"}],
        description=f"Back-test of policy version {version} against version {result['against']}",
    )
    # A proposal is back-tested and routed at once (the summary is in its approval notices); the
    # flow adds the full result as an artifact.
    return services.backtest_summary(result) if draft else None


@task(name="remind-dispute-owners")
def remind_dispute_owners(as_of: date) -> dict:
    """Reminders to the owners of disputes past their due date, escalations (each sent once)."""
    return dict(services.remind_dispute_owners(app(), as_of=as_of))


@task(name="sweep-approvals")
def sweep_approvals(as_of: date) -> SweepCounts:
    """Reminders and escalations for overdue approval steps (each sent once)."""
    return services.sweep_approvals(app(), as_of=as_of)
