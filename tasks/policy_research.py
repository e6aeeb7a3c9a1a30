from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from credit import services
from tasks.runtime import app


@task(name="portfolio-analytics")
def portfolio_report(as_of: date, months: int) -> dict[str, Any]:
    """Aging, DSO, collection rate and CEI, rating outcomes, concentration, policy outcomes."""
    return services.portfolio_report(app(), as_of=as_of, months=months)


@task(name="write-policy-report")
def write_policy_report(report: dict[str, Any]) -> str:
    """Markdown and PNG charts under the reports folder; the same Markdown as a Prefect artifact."""
    from credit.reports import write_report

    path = write_report(report, Path(app().settings.reports_dir))
    create_markdown_artifact(
        key=f"policy-research-{report['as_of']}",
        markdown=path.read_text(encoding="utf-8"),
        description=f"Credit policy research as of {report['as_of']} ({path.parent})",
    )
    return str(path.resolve())


@task(name="notify-policy-committee")
def notify_policy_committee(
    as_of: date, report: dict[str, Any], path: str, review_due: bool
) -> int:
    return services.notify_policy_research(
        app(), as_of=as_of, report=report, path=path, review_due=review_due
    )
