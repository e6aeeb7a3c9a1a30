"""The policy research report on the sample ledger: figures, Markdown, charts, committee notice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import select

from credit import services
from credit.db.models import Notice
from credit.reports import write_report
from tests.conftest import import_sample
from tests.integration.test_lifecycle_services import DAY, decide, review
from tests.integration.test_research import import_rates

AS_OF = date(2026, 12, 31)


def test_report_with_charts_and_the_committee_notice(story, tmp_path):
    report = services.portfolio_report(story, as_of=AS_OF, months=6)
    assert report["warnings"] == ["no USD rate to EUR: left out"]  # said, not silently dropped
    import_rates(story)
    rid = review(story, "C-1003", "30000")
    decide(story, rid, "carla.manager")
    services.publish_request(story, request_id=rid, as_of=DAY)
    for day in (DAY, date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16), date(2026, 11, 30)):
        import_sample(story, ("payments",), payments_until=day)  # the day's bank statement
        for cid in services.collection_candidates(story, as_of=day):
            services.dun_customer(story, customer_id=cid, as_of=day, dry_run=False)
    import_sample(story, ("payments",), payments_until=AS_OF)

    report = services.portfolio_report(story, as_of=AS_OF, months=6)
    assert [m["month"] for m in report["monthly"]] == [
        "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"
    ]  # fmt: skip
    # The aging buckets add up to the receivables, and each month's figures tie out.
    assert sum(Decimal(v) for v in report["aging"].values()) == Decimal(report["receivables"])
    for m in report["monthly"]:
        start, sales, charges, paid, end = (
            Decimal(m[k])
            for k in ("receivables_start", "sales", "charges", "collections", "receivables_end")
        )
        assert start + sales + charges - paid == end
    assert report["outcomes"]["holds"] == 4 and report["outcomes"]["handovers"] == 3
    assert {r["rating"] for r in report["by_rating"]} >= {"C", "unrated"}
    assert report["utilisation"]["C-1003"]["limit"] == "30000.00"
    assert report["warnings"] == []

    path = write_report(report, tmp_path / "reports")
    text = path.read_text()
    assert text.startswith("# Credit policy research as of 2026-12-31")
    assert "## Collection per month" in text and "| 2026-12 |" in text
    import matplotlib.image as mpimg

    for name in ("trend.png", "aging.png", "ratings.png"):
        png = path.parent / name
        assert f"({name})" in text and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = mpimg.imread(png)
        height, width = pixels.shape[:2]
        assert height > 200 and width > 400
        assert pixels.min() < pixels.max()  # not a blank image: something was drawn

    nid = services.notify_policy_research(story, as_of=AS_OF, report=report, path=str(path))
    with story.uow() as uow:
        notice = uow.session.exec(select(Notice).where(Notice.id == nid)).one()
    assert notice.kind == "policy_research_report"
    # The committee the policy names (finance_director, cfo) and the credit team.
    assert {"fiona.meyer@example.com", "victor.lindqvist@example.com"} <= set(notice.recipients)
    assert str(path) in notice.text and "Receivables" in notice.text
