"""Customers and the portfolio dashboard, as the people who read them meet them: the search with
its filters and pages, a customer's file (the score's factors with their points, each notice as
the customer saw it, never another customer's), and the dashboard's figures against the ledger."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from credit import services
from credit.app import App
from credit.db.models import CollectionCase, CreditLine, Customer, LineStatus, Notice
from credit.domain import dunning
from credit.domain.money import ZERO
from credit.importers import import_file
from credit.services.ledger import open_items, rate_table
from tests.conftest import SAMPLE
from tests.web.conftest import DAY, browser_page

STRONG = {
    "market_position": Decimal(85),
    "management": Decimal(80),
    "industry_outlook": Decimal(70),
    "reputation": Decimal(85),
}


def rate(app: App, code: str, key: str) -> int:
    """A complete assessment of the customer (research, scorecard, the analyst's rating)."""
    collected = services.collect_customer_data(
        app,
        customer_code=code,
        as_of=DAY,
        requested_by="ben.manager",
        review_key=key,
        analyst="mia.analyst",
    )
    scored = services.score_assessment(app, assessment_id=collected["assessment_id"])
    services.record_qualitative(
        app, customer_code=code, username="mia.analyst", scores=STRONG, comment="market leader"
    )
    return int(scored["assessment_id"])


def publish_line(app: App, code: str) -> None:
    """The whole path to a published credit line: rated, drafted, approved at three levels."""
    request_id = services.draft_request(app, assessment_id=rate(app, code, f"line-{code}"))
    services.advance_request(app, request_id=request_id, as_of=DAY)
    for user in ("carla.manager", "fiona.director", "victor.cfo"):
        services.decide(
            app,
            subject=services.SUBJECT_REQUEST,
            subject_id=request_id,
            username=user,
            approve=True,
            comment="ok",
            as_of=DAY,
        )
    services.publish_request(app, request_id=request_id, as_of=DAY)


def dun(app: App) -> None:
    """The collections run of the business date: reminders to the customers with overdue
    invoices (C-1001, C-1003, C-1005, C-1007, C-1009)."""
    ids = services.collection_candidates(app, as_of=DAY, dry_run=True)
    services.dun_customers(app, customer_ids=ids, as_of=DAY, dry_run=False)


def codes(html: str) -> list[str]:
    if 'id="customers"' not in html:
        return []
    table = html.split('id="customers"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td><a href="/customers/([^"]+)">', table)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" id="{rel}"', html)
    return found.group(1).replace("&amp;", "&") if found else None


# --------------------------------------------------------------------------- search


def test_search_by_name_code_or_tax_id_with_filters(workspace):
    app = workspace.app
    publish_line(app, "C-1001")  # line rated A
    rate(app, "C-1003", "assessed-only")  # an assessment, no line
    dun(app)
    with app.uow() as uow:
        s = uow.session
        line = s.exec(select(CreditLine)).one()
        line.status, line.hold_reason = LineStatus.ON_HOLD, "test: held by a dunning level"
        c1005 = s.exec(select(Customer).where(Customer.code == "C-1005")).one()
        s.add(CollectionCase(customer_id=c1005.id, currency="EUR", episode=1, reason="call",
                             level=2, opened_on=DAY, collector="cora.collector"))  # fmt: skip
        uow.commit()
    sales = workspace.client("sam.sales")

    assert codes(sales.get("/customers", params={"q": "nordwind"}).text) == ["C-1001"]
    assert codes(sales.get("/customers", params={"q": "c-1003"}).text) == ["C-1003"]
    found = sales.get("/customers", params={"q": "DE 811 907 980"})  # the tax id, spaced
    assert codes(found.text) == ["C-1001"] and "Nordwind Logistik GmbH" in found.text
    assert "No customer matches." in sales.get("/customers", params={"q": "%"}).text

    assert codes(sales.get("/customers", params={"rating": "A"}).text) == ["C-1001"]
    assessed = services.customer_overview(app, code="C-1003", as_of=DAY)["assessment"]
    by_rating = sales.get("/customers", params={"rating": assessed["rating"]}).text
    assert "C-1003" in codes(by_rating)  # no line: its latest assessment's rating
    assert codes(sales.get("/customers", params={"hold": "1"}).text) == ["C-1001"]
    assert codes(sales.get("/customers", params={"level": "1"}).text) == [
        "C-1001",
        "C-1003",
        "C-1005",
        "C-1007",
        "C-1009",
    ]
    assert codes(sales.get("/customers", params={"level": "2"}).text) == []
    assert codes(sales.get("/customers", params={"collector": "cora.collector"}).text) == ["C-1005"]
    both = sales.get("/customers", params={"level": "any", "q": "gmbh", "hold": "1"})
    assert codes(both.text) == ["C-1001"]

    refused = sales.get("/customers", params={"rating": "Z", "q": "nord"})
    assert refused.status_code == 400
    assert "the rating &#39;Z&#39; is not one of" in refused.text and 'value="nord"' in refused.text
    assert workspace.client("olga.operator").get("/customers").status_code == 403


def test_pages_of_fifty_in_code_order_without_a_total(workspace, tmp_path: Path):
    app = workspace.app
    rows = ["code,name,email,country,currency,locale,sales_owner_email,registered_on,tax_id"]
    rows += [
        f"C-{n},Pagination Test {n} GmbH,ap{n}@example.com,DE,EUR,de,sales.north@example.com,"
        f"2020-01-01,DE{n:09d}"
        for n in range(2000, 2120)
    ]
    (tmp_path / "more.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with app.uow() as uow:
        import_file(uow.session, kind="customers", path=tmp_path / "more.csv", actor="t",
                    dry_run=False)  # fmt: skip
        uow.commit()
    reader = workspace.client("mia.analyst")

    seen: list[str] = []
    page = reader.get("/customers")
    assert link(page.text, "prev") is None
    while True:
        found = codes(page.text)
        assert 0 < len(found) <= 50
        seen += found
        after = link(page.text, "next")
        if after is None:
            break
        page = reader.get(after)
        assert page.status_code == 200
    assert len(seen) == 12 + 120 and seen == sorted(seen) and len(set(seen)) == len(seen)
    assert [len(seen[i : i + 50]) for i in range(0, len(seen), 50)] == [50, 50, 32]

    back = reader.get(link(page.text, "prev"))  # from the last page back one
    assert codes(back.text) == seen[50:100]
    assert link(back.text, "next") is not None and link(back.text, "first") == "/customers"
    filtered = reader.get("/customers", params={"q": "pagination test"})
    assert len(codes(filtered.text)) == 50
    assert "q=pagination+test" in link(filtered.text, "next")


# --------------------------------------------------------------------------- customer file


def test_customer_file_shows_the_score_and_only_its_own_notices(workspace):
    app = workspace.app
    rate(app, "C-1001", "file")
    dun(app)
    services.record_feedback(app, customer_code="C-1001", topic="terms", by="carla.manager",
                             text="asks for 90 days <b>please</b>", as_of=DAY)  # fmt: skip
    with app.uow() as uow:
        notices = {
            n.kind + ":" + str(n.customer_id): n
            for n in uow.session.exec(select(Notice).where(Notice.kind == "dunning_reminder"))
        }
        ids = {c.code: c.id for c in uow.session.exec(select(Customer))}
    mine = notices[f"dunning_reminder:{ids['C-1001']}"]
    theirs = notices[f"dunning_reminder:{ids['C-1003']}"]
    reader = workspace.client("sam.sales")

    page = reader.get("/customers/c-1001")  # any case
    assert page.status_code == 200, page.text
    html = page.text
    assert "Nordwind Logistik GmbH" in html and 'id="factors"' in html
    assert (
        '<th scope="row">On-time payment ratio</th><td class="num">0.9231</td>'
        '<td>[0.85, 0.95)</td><td class="num">75</td>'
    ) in html
    assert "0.9231 is in the band from 0.85 to under 0.95: 75 points × weight 0.20 = 15.00" in html
    assert "Market position" in html and "market leader" in html  # the analyst's rating
    assert f'href="/customers/C-1001/notices/{mine.id}"' in html
    assert f"/notices/{theirs.id}" not in html
    assert "asks for 90 days &lt;b&gt;please&lt;/b&gt;" in html  # feedback, escaped
    assert "assessment.complete" in html and "dunning.level" in html  # the audit trail
    trail = [e["action"] for e in services.audit_events(app, entity="C-1001", limit=50)]
    assert {"assessment.complete", "dunning.level", "feedback.recorded"} <= set(trail)
    assert "18,250.00" in html  # the overdue invoice, in the aging and the open items

    shown = reader.get(f"/customers/C-1001/notices/{mine.id}")
    assert shown.status_code == 200 and mine.subject in shown.text
    assert f'src="/customers/C-1001/notices/{mine.id}/body"' in shown.text
    assert 'sandbox=""' in shown.text and mine.text.splitlines()[0] in shown.text
    body = reader.get(f"/customers/C-1001/notices/{mine.id}/body")
    assert body.status_code == 200 and body.text == mine.html
    assert body.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    assert body.headers["x-frame-options"] == "SAMEORIGIN"

    for path in (
        f"/customers/C-1001/notices/{theirs.id}",
        f"/customers/C-1001/notices/{theirs.id}/body",
    ):
        refused = reader.get(path)
        assert refused.status_code == 404 and theirs.subject not in refused.text
    assert reader.get(f"/customers/C-1003/notices/{theirs.id}").status_code == 200

    missing = reader.get("/customers/C-9999")
    assert (
        missing.status_code == 404 and "There is no customer with the code C-9999" in missing.text
    )


# --------------------------------------------------------------------------- dashboard


def money_text(value: Decimal) -> str:
    return f"{value:,.2f}"


def row(html: str, table: str, header: str) -> list[str]:
    part = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    found = re.search(rf'<th scope="row">{re.escape(header)}</th>(.*?)</tr>', part, re.S)
    assert found, f"no row {header} in {table}"
    return re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)


MORE_INVOICES = """customer_code,number,issue_date,due_date,amount,currency,applies_to
C-1001,INV-1001-X1,2026-09-10,2026-10-10,5000.00,EUR,
C-1001,CN-1001-X1,2026-09-20,2026-09-20,-1200.00,EUR,INV-1001-X1
C-1003,CN-1003-X2,2026-08-15,2026-08-15,-300.00,EUR,
"""
MORE_PAYMENTS = """customer_code,reference,paid_on,amount,currency,method,invoice_number,status
C-1001,PAY-1001-X1,2026-09-25,1000.00,EUR,bank_transfer,INV-1001-X1,received
C-1005,PAY-1005-X2,2026-09-28,700.00,EUR,bank_transfer,,received
C-1007,PAY-1007-X3,2026-09-29,50.00,EUR,bank_transfer,,bounced
"""


def more_ledger(app: App, tmp_path: Path) -> None:
    """Beyond the sample: exchange rates (the USD customer counts), a credit note applied to an
    invoice and one on account, a partial payment, a payment on account and a bounced one."""
    (tmp_path / "inv.csv").write_text(MORE_INVOICES, encoding="utf-8")
    (tmp_path / "pay.csv").write_text(MORE_PAYMENTS, encoding="utf-8")
    with app.uow() as uow:
        import_file(uow.session, kind="fx-rates", path=SAMPLE / "fx_rates.csv", actor="t",
                    dry_run=False, base_currency="EUR")  # fmt: skip
        for kind, name in (("invoices", "inv.csv"), ("payments", "pay.csv")):
            import_file(uow.session, kind=kind, path=tmp_path / name, actor="t", dry_run=False)
        uow.commit()


def test_dashboard_figures_match_the_ledger(workspace, tmp_path: Path):
    app = workspace.app
    more_ledger(app, tmp_path)
    dun(app)
    page = workspace.client("fiona.director").get("/dashboard")
    assert page.status_code == 200, page.text
    html = page.text

    # aging, straight from every customer's open items, at the day's exchange rates
    direct, exposure = dunning.empty_aging(), {}
    with app.uow() as uow:
        rates = rate_table(uow.session, "EUR")
        for c in uow.session.exec(select(Customer)):
            exposure[c.code] = ZERO
            for cur, items in open_items(uow.session, c.id, DAY).items():
                rate = rates.lookup(cur, DAY)[0]
                for bucket, v in dunning.aging(items, DAY).items():
                    direct[bucket] += v * rate
                    exposure[c.code] += v * rate
    for bucket, value in direct.items():
        assert row(html, "aging-table", bucket)[0] == money_text(value), bucket
    total = money_text(sum(direct.values(), ZERO))
    assert row(html, "aging-table", "Total")[0] == f"<strong>{total}</strong>"

    # DSO, CEI and collection rate: the research report's figures, month by month
    report = services.portfolio_report(app, as_of=DAY)
    assert report["warnings"] == [] and "no USD rate" not in html
    for m in report["monthly"]:
        cells = row(html, "monthly-table", m["month"])
        assert cells[0] == money_text(Decimal(m["receivables_start"]))
        assert cells[1] == money_text(Decimal(m["sales"]))
        assert cells[3] == money_text(Decimal(m["collections"]))
        assert cells[4] == money_text(Decimal(m["receivables_end"]))
        assert cells[5] == (m["dso"] or "-")
        assert cells[6] == (f"{m['cei']}%" if m["cei"] else "-")
        assert cells[7] == (f"{m['collection_rate']}%" if m["collection_rate"] else "-")
    top = re.findall(
        r'<td><a href="/customers/([^"]+)">[^<]+</a></td><td class="num">€([\d,.]+)</td>',
        html.split('id="concentration-table"', 1)[1].split("</table>", 1)[0],
    )
    assert top[:5] == [(c, money_text(Decimal(v))) for c, v in report["concentration"]["top"]]
    owed = sorted((v for v in exposure.values() if v > 0), reverse=True)
    share = (sum(owed[:10], ZERO) / sum(owed, ZERO) * 100).quantize(Decimal("0.1"))
    assert f'id="share">{share}%<' in html
    # five customers at level 1: C-1001, C-1003, C-1005, C-1007 in EUR and C-1009 in USD
    assert row(html, "levels-table", "1: Payment reminder")[0].endswith(">5</a>")
    assert workspace.client("sam.sales").get("/dashboard").status_code == 403


# --------------------------------------------------------------------------- in a browser


@pytest.mark.slow
def test_a_manager_searches_opens_a_file_a_notice_and_the_dashboard(workspace, tmp_path):
    app = workspace.app
    rate(app, "C-1001", "browser")
    rate(app, "C-1001", "browser-again")  # a second assessment: the trend has a line
    dun(app)
    with app.uow() as uow:
        reminder = uow.session.exec(
            select(Notice).where(Notice.kind == "dunning_reminder").order_by(Notice.id)
        ).first()
    with browser_page(workspace.base, "carla.manager") as page:
        page.click("text=Customers")
        page.fill("#q", "nordwind")
        page.click("#search")
        page.wait_for_url("**/customers?q=nordwind*")
        assert page.locator("#customers tbody tr").count() == 1
        page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
        page.click("text=C-1001")
        page.wait_for_url("**/customers/C-1001")
        assert "On-time payment ratio" in page.inner_text("#factors")
        assert page.locator("#trend-chart polyline").count() == 1
        page.screenshot(path=str(tmp_path / "file.png"), full_page=True)
        page.click(f'#notice-list a[href="/customers/C-1001/notices/{reminder.id}"]')
        page.wait_for_url("**/customers/C-1001/notices/*")
        frame = page.frame_locator("#notice-frame")
        assert "INV-1001-OPEN1" in frame.locator("body").inner_text()
        assert page.inner_text("#subject") == reminder.subject
        page.screenshot(path=str(tmp_path / "notice.png"), full_page=True)
        page.click("nav >> text=Dashboard")
        page.wait_for_url("**/dashboard")
        assert page.locator("#aging-chart rect.bar").count() == 5
        assert page.locator("#dso-chart polyline").count() >= 1
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    print(f"screenshots in {tmp_path}")
    for name in ("search", "file", "notice", "dashboard"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
