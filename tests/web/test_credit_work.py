"""The credit manager's and the analyst's pages: start a review, rate, reassign, import; each
action checked in the database and the audit trail, and one journey in Chromium."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, CreditAssessment, Customer, FollowUp
from credit.domain.research_status import AssessmentStatus
from credit.services.followups import FollowUpKind
from tests.web.conftest import DAY, Workspace, browser_page, csrf_of

QUALITATIVE = {
    "score_market_position": "70",
    "score_management": "80",
    "score_industry_outlook": "60",
    "score_reputation": "75",
}


def events(app: App, action: str) -> list[AuditEvent]:
    with app.uow(read_only=True) as uow:
        return list(
            uow.session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            )
        )


def waiting_rating(app: App, code: str, *, analyst: str = "mia.analyst") -> int:
    """A review researched up to the analyst's rating (what the review follow-up does)."""
    collected = services.collect_customer_data(
        app,
        customer_code=code,
        as_of=DAY,
        requested_by="carla.manager",
        review_key=f"web:{code}",
        analyst=analyst,
    )
    scored = services.score_assessment(app, assessment_id=collected["assessment_id"])
    assert scored["status"] == AssessmentStatus.AWAITING_QUALITATIVE
    return collected["assessment_id"]


def assessment(app: App, assessment_id: int) -> CreditAssessment:
    with app.uow(read_only=True) as uow:
        found = uow.session.get(CreditAssessment, assessment_id)
        assert found is not None
        return found


def test_a_manager_starts_a_review_and_a_second_one_is_refused(workspace: Workspace):
    app = workspace.app
    with workspace.client("carla.manager") as c:
        page = c.get("/customers/C-1001/review")
        assert page.status_code == 200 and "Nordwind Logistik GmbH" in page.text
        assert 'value="mia.analyst"' in page.text  # the analysts to choose from
        form = {"csrf": csrf_of(page.text), "requested_limit": "30000", "analyst": "mia.analyst"}
        refused = c.post("/customers/C-1001/review", data=form)  # a limit needs its reason
        assert refused.status_code == 400 and "give the reason" in refused.text
        assert 'value="30000"' in refused.text  # what was typed is kept
        odd = c.post("/customers/C-1001/review", data={**form, "requested_limit": "<b>1</b>"})
        assert odd.status_code == 400 and "&lt;b&gt;1&lt;/b&gt;" in odd.text
        assert "<b>1</b>" not in odd.text
        started = c.post("/customers/C-1001/review", data={**form, "reason": "seasonal peak"})
        assert started.status_code == 303
        assert started.headers["location"] == "/customers/C-1001"
        again = c.post("/customers/C-1001/review", data={**form, "reason": "again"})
        assert again.status_code == 400 and "asked for already" in again.text
        assert c.get("/customers/C-9999/review").status_code == 404
    with app.uow(read_only=True) as uow:
        [row] = uow.session.exec(select(FollowUp).where(FollowUp.kind == FollowUpKind.REVIEW))
    assert row.params["analyst"] == "mia.analyst" and row.params["requested_limit"] == "30000"
    [event] = events(app, "review.requested")
    assert event.actor == "carla.manager" and event.entity_id == "C-1001"
    assert event.reason == "seasonal peak" and event.via and event.via["channel"] == "web"
    assert workspace.woken == [DAY]  # the follow-up handed over once


def test_only_the_assigned_analyst_rates(workspace: Workspace):
    app = workspace.app
    aid = waiting_rating(app, "C-1002")
    with workspace.client("carla.manager") as c:  # a manager sees it, but may not rate it
        page = c.get("/ratings/C-1002")
        assert page.status_code == 200 and "assigned to mia.analyst" in page.text
        form = {"csrf": csrf_of(page.text), **QUALITATIVE, "comment": "I know them"}
        refused = c.post("/ratings/C-1002", data=form)
        assert refused.status_code == 400 and "not carla.manager" in refused.text
    with workspace.client("mia.analyst") as c:
        listed = c.get("/ratings")
        assert listed.status_code == 200 and "/ratings/C-1002" in listed.text
        page = c.get("/ratings/C-1002")
        assert "Market share and competitive position" in page.text  # the policy's guidance
        assert "On-time payment ratio" in page.text  # the evidence: quantitative factors
        form = {"csrf": csrf_of(page.text), **QUALITATIVE, "comment": "long-standing customer"}
        bad = c.post("/ratings/C-1002", data={**form, "score_management": "lots"})
        assert bad.status_code == 400 and "not a score" in bad.text
        no_reason = c.post("/ratings/C-1002", data={**form, "proposed_limit": "25000"})
        assert no_reason.status_code == 400 and "needs a reason" in no_reason.text
        assert assessment(app, aid).status == AssessmentStatus.AWAITING_QUALITATIVE
        done = c.post("/ratings/C-1002", data=form)
        assert done.status_code == 303 and done.headers["location"] == "/ratings?rated=C-1002"
        assert "Your rating of Atlas Office Supplies BV" in c.get(done.headers["location"]).text
        assert c.get("/ratings/C-1002").status_code == 404  # nothing waits any more
    rated = assessment(app, aid)
    assert rated.status == AssessmentStatus.COMPLETE and rated.qualitative["by"] == "mia.analyst"
    assert rated.qualitative_score == Decimal("71.75")
    with app.uow(read_only=True) as uow:
        kinds = list(uow.session.exec(select(FollowUp.kind)))
    assert FollowUpKind.COMPLETE_REVIEW in kinds and workspace.woken == [DAY]
    [event] = events(app, "assessment.complete")
    assert event.actor == "mia.analyst"
    assert event.via and event.via["channel"] == "web"


def test_a_manager_reassigns_a_waiting_rating(workspace: Workspace):
    app = workspace.app
    aid = waiting_rating(app, "C-1003")
    with workspace.client("mia.analyst") as c:  # an analyst does not reassign
        page = c.get("/ratings/C-1003")
        assert "Reassign" not in page.text
        answer = c.post(
            "/ratings/C-1003/reassign", data={"csrf": csrf_of(page.text), "to": "ben.manager"}
        )
        assert answer.status_code == 403
    with workspace.client("carla.manager") as c:
        page = c.get("/ratings/C-1003")
        form = {"csrf": csrf_of(page.text), "to": "junior.analyst"}
        refused = c.post("/ratings/C-1003/reassign", data={**form, "reason": " "})
        assert refused.status_code == 400 and "A reason is required" in refused.text
        moved = c.post("/ratings/C-1003/reassign", data={**form, "reason": "mia is away"})
        assert moved.status_code == 303
        note = c.get(moved.headers["location"]).text
        assert "The rating of C-1003 now waits for junior.analyst" in note
    assert assessment(app, aid).analyst == "junior.analyst"
    [event] = events(app, "assessment.reassign")
    assert event.actor == "carla.manager" and event.reason == "mia is away"
    assert event.via and event.via["channel"] == "web"


def customer_names(app: App) -> dict[str, str]:
    with app.uow(read_only=True) as uow:
        return {c.code: c.name for c in uow.session.exec(select(Customer))}


HEADER = "code,name,email,country,currency,locale,sales_owner_email,registered_on,tax_id,postal_address\n"


def test_an_import_shows_its_dry_run_with_located_errors_then_imports_on_confirmation(
    workspace: Workspace,
):
    app = workspace.app
    before = customer_names(app)
    bad = (
        HEADER
        + "C-1001,Nordwind Logistik GmbH,not-an-email,DE,EUR,de,sales.north@example.com,,,\n"
        + "C-2001,New Customer Ltd,ap@new.example,XX,EUR,en,sales.north@example.com,,,\n"
    )
    good = (
        HEADER
        + "C-1002,Atlas Office Supplies B.V.,finance@atlas.example,NL,EUR,en,"
        + "sales.west@example.com,2011-06-01,NL001234567B01,\n"
        + "C-2001,New Customer Ltd,ap@new.example,GB,GBP,en,sales.north@example.com,,,\n"
    )
    with workspace.client("carla.manager") as c:
        token = csrf_of(c.get("/imports").text)
        report = c.post(
            "/imports/customers",
            data={"csrf": token},
            files={"file": ("../../etc/my customers.csv", bad.encode(), "text/csv")},
        )
        assert report.status_code == 400
        assert "2 errors; nothing was imported" in report.text
        rows = re.findall(
            r"<tr><td>(.*?)</td><th scope=\"row\" class=\"num\">(\d+)</th>", report.text
        )
        assert rows == [("my_customers.csv", "2"), ("my_customers.csv", "3")]
        assert "not-an-email" in report.text and "confirm-import" not in report.text
        dry = c.post(
            "/imports/customers",
            data={"csrf": token},
            files={"file": ("customers.csv", good.encode(), "text/csv")},
        )
        assert dry.status_code == 200 and "1 new, 1 changed, 0 unchanged" in dry.text
        assert customer_names(app) == before  # a dry run writes nothing
        ref = re.search(r'name="ref" value="([0-9a-f]{32})"', dry.text)
        assert ref
        forged = c.post(
            "/imports/customers/confirm", data={"csrf": token, "ref": "../../../etc/passwd"}
        )
        assert forged.status_code == 400 and customer_names(app) == before
        done = c.post("/imports/customers/confirm", data={"csrf": token, "ref": ref.group(1)})
        assert done.status_code == 303
        assert (
            "Imported customers.csv: 2 rows: 1 new, 1 changed"
            in c.get(done.headers["location"]).text
        )
        again = c.post("/imports/customers/confirm", data={"csrf": token, "ref": ref.group(1)})
        assert again.status_code == 400 and "upload the file again" in again.text
        assert c.post("/imports/fx-rates", data={"csrf": token}).status_code == 404
    after = customer_names(app)
    assert after["C-1002"] == "Atlas Office Supplies B.V." and after["C-2001"] == "New Customer Ltd"
    [update] = events(app, "import.customers.update")
    create = events(app, "import.customers.create")[-1]  # the sample's import came first
    for event in (update, create):
        assert event.actor == "carla.manager" and event.via and event.via["channel"] == "web"
    assert create.reason == "import of customers.csv"


@pytest.mark.slow
def test_a_manager_starts_a_review_and_the_analyst_rates_it_in_the_browser(
    workspace: Workspace, tmp_path: Path, prefect_api_url: str
):
    from flows.followups import drain

    app = workspace.app
    upload = tmp_path / "new customers.csv"
    upload.write_text(
        HEADER + "C-2001,New Customer Ltd,ap@new.example,GB,GBP,en,sales.north@example.com,,,\n"
    )
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(HEADER + "C-2001,New Customer Ltd,nobody,GB,GBP,en,sales.north@x.example,,,\n")
    with browser_page(workspace.base, "carla.manager") as page:
        page.goto("/imports")
        page.screenshot(path=str(tmp_path / "imports.png"), full_page=True)
        page.set_input_files("#file-customers", str(wrong))
        page.click("#check-customers")
        assert "1 error; nothing was imported" in page.inner_text("#report-errors")
        assert "nobody" in page.inner_text("#errors")
        page.screenshot(path=str(tmp_path / "import-errors.png"), full_page=True)
        page.click("#upload-again")
        page.set_input_files("#file-customers", str(upload))
        page.click("#check-customers")
        assert "1 new, 0 changed" in page.inner_text("#report-summary")
        page.screenshot(path=str(tmp_path / "import-report.png"), full_page=True)
        page.click("#confirm-import")
        page.wait_for_url("**/imports?kind=customers*")
        assert "Imported new_customers.csv" in page.inner_text("#import-done")
        assert "C-2001" in customer_names(app)
        page.goto("/customers/C-1003/review")
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        page.fill("#requested_limit", "30000")
        page.fill("#reason", "seasonal peak")
        page.select_option("#analyst", "mia.analyst")
        page.click("#start-review")
        page.wait_for_url("**/customers/C-1003")
    assert drain(app, claimer="test") == 1  # the research step: collect, score, ask mia
    with browser_page(workspace.base, "mia.analyst") as page:
        page.goto("/ratings")
        page.screenshot(path=str(tmp_path / "ratings.png"), full_page=True)
        page.click("text=Rate")
        page.wait_for_url("**/ratings/C-1003")
        page.screenshot(path=str(tmp_path / "rating.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # on a phone
        page.screenshot(path=str(tmp_path / "rating-phone.png"), full_page=True)
        for name, value in QUALITATIVE.items():
            page.fill(f"#{name}", value)
        page.fill("#comment", "steady retailer, good references")
        page.click("#submit-rating")
        page.wait_for_url("**/ratings?rated=C-1003")
        assert "Your rating of Brightline Retail SARL" in page.inner_text("#ratings-note")
        page.screenshot(path=str(tmp_path / "rated.png"), full_page=True)
    with app.uow(read_only=True) as uow:
        [a] = uow.session.exec(select(CreditAssessment))
    assert a.status == AssessmentStatus.COMPLETE and a.qualitative["by"] == "mia.analyst"
    assert a.requested_limit == Decimal("30000.00") and a.override_reason == "seasonal peak"
