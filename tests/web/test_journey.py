"""The whole lifecycle of the sample data in the workspace, as each role meets it: Chromium
(Playwright) signed in as each person, against a real `credit serve` (its workers run the
follow-ups with Prefect). A manager starts a review, the analyst rates, the requester is refused
as an approver, two approvers approve, the line is published; a collector works a case through a
promise and a dispute; the committee publishes a policy version; the operator retries a failed
notice. Each step is checked on screen, in the database and in the audit trail; every free text
typed carries HTML, which must come back as text."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import (
    AuditEvent,
    CreditLine,
    CreditPolicy,
    CreditRequest,
    Customer,
    Dispute,
    Notice,
    PaymentPromise,
)
from credit.resources import resource_dir
from tests.conftest import SAMPLE, STORY_STARTS, import_sample
from tests.e2e.conftest import cli, forget_deployments  # noqa: F401 - the fixture
from tests.e2e.test_serve import _app, serving, wait_for
from tests.integration.test_web import free_port
from tests.web.conftest import add_accounts, browser_page, needs_chromium
from tests.web.test_collections import RUNS
from tests.web.test_operations import failed_notice

pytestmark = pytest.mark.slow
HTML = "<script>alert('x')</script><b>bold</b>"
QUALITATIVE = {"market_position": "85", "management": "80", "industry_outlook": "70",
               "reputation": "85"}  # fmt: skip


@pytest.fixture(autouse=True)
def _no_deployments_left(prefect_api_url):
    yield
    forget_deployments()


def events(app: App, action: str) -> list[AuditEvent]:
    with app.uow(read_only=True) as uow:
        return list(
            uow.session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            )
        )


def by_web(event: AuditEvent, actor: str) -> None:
    assert event.actor == actor, (event.action, event.actor)
    assert event.via and event.via["channel"] == "web" and event.via["method"] == "password"


def escaped(page) -> None:
    """The HTML typed is shown as text, never run or rendered."""
    assert "<script>alert('x')</script>" in page.inner_text("main")
    assert page.locator("main b", has_text="bold").count() == 0


def request_of(app: App, code: str) -> CreditRequest | None:
    with app.uow(read_only=True) as uow:
        return uow.session.exec(
            select(CreditRequest)
            .join(Customer, col(Customer.id) == col(CreditRequest.customer_id))
            .where(Customer.code == code)
            .order_by(col(CreditRequest.id).desc())
        ).first()


@pytest.fixture
def house(cli, tmp_path):  # noqa: F811
    """The sample story's ledger with its collections runs up to 30 November, everyone's
    account, one notice the mail server refused for good."""
    port = str(free_port())
    cli.env.update(CREDIT_WEB_PORT=port, CREDIT_WEB_BASE_URL=f"http://127.0.0.1:{port}")
    cli("init")
    app = _app(cli)
    import_sample(app, payments_until=STORY_STARTS)
    for kind, name in (("fx-rates", "fx_rates"), ("orders", "orders")):
        cli("import", kind, str(SAMPLE / f"{name}.csv"))
    for day in RUNS:  # the sample story's collections: C-1007 and C-1009 are handed over
        import_sample(app, ("payments",), payments_until=day)
        ids = services.collection_candidates(app, as_of=day)
        services.dun_customers(app, customer_ids=ids, as_of=day, dry_run=False)
    add_accounts(app)
    failed = failed_notice(app, key="journey:failed")
    return app, f"http://127.0.0.1:{port}", failed


def test_every_role_works_the_sample_lifecycle_in_the_browser(cli, house, tmp_path):  # noqa: F811
    needs_chromium()
    app, base, failed = house
    shots = tmp_path
    with serving(cli):
        review_and_rating(app, base, shots)
        approvals(app, base, shots)
        collections(app, base, shots)
        committee(app, base, shots)
        operator(app, base, failed, shots)
    assert services.verify_audit(app)["ok"]


def review_and_rating(app: App, base: str, shots: Path) -> None:
    with browser_page(base, "carla.manager") as page:
        page.goto("/customers?q=C-1001")
        page.click("a[href='/customers/C-1001']")
        page.wait_for_url("**/customers/C-1001")
        page.goto("/customers/C-1001/review")
        page.fill("#requested_limit", "120000")
        page.fill("#reason", "Sales plan for 2027 " + HTML)
        page.select_option("#analyst", "mia.analyst")
        page.click("#start-review")
        page.wait_for_url("**/customers/C-1001")
        page.screenshot(path=str(shots / "1-review-started.png"), full_page=True)
    by_web(events(app, "review.requested")[-1], "carla.manager")
    wait_for(lambda: any(w["customer"] == "C-1001" for w in services.waiting_assessments(app)),
             "the research of C-1001 (by the service)", 120)  # fmt: skip
    with browser_page(base, "mia.analyst") as page:
        assert "1" in page.inner_text("#tile-ratings")
        page.goto("/ratings")
        page.click("a[href='/ratings/C-1001']")
        page.wait_for_url("**/ratings/C-1001")
        for name, value in QUALITATIVE.items():
            page.fill(f"#score_{name}", value)
        page.fill("#comment", "Market leader " + HTML)
        page.click("#submit-rating")
        page.wait_for_url("**/ratings?rated=C-1001")
        page.screenshot(path=str(shots / "2-rated.png"), full_page=True)
    rated = events(app, "assessment.complete")
    assert rated, "the rating is audited"
    by_web(rated[-1], "mia.analyst")
    wait_for(lambda: (r := request_of(app, "C-1001")) is not None and r.status == "in_approval",
             "the request to be drafted and routed (by the service)", 120)  # fmt: skip


def approvals(app: App, base: str, shots: Path) -> None:
    request = request_of(app, "C-1001")
    assert request is not None
    url = f"/approvals/request/{request.id}"
    # carla requested the review: four eyes refuse her, and nothing changes
    with browser_page(base, "carla.manager") as page:
        page.goto(url)
        page.fill("#comment", "I approve my own " + HTML)
        page.click("#approve")
        page.locator("#refused").wait_for()
        page.screenshot(path=str(shots / "3-four-eyes.png"), full_page=True)
        assert "requested" in page.inner_text("#refused").lower()
    assert events(app, "approval.refused")[-1].actor == "carla.manager"
    for approver in ("ben.manager", "fiona.director"):
        with browser_page(base, approver) as page:
            page.goto("/approvals")
            page.click(f"a[href='{url}']")
            page.wait_for_url(f"**{url}")
            assert "120,000.00" in page.inner_text("main")
            page.fill("#comment", f"Fine by {approver} " + HTML)
            page.click("#approve")
            page.wait_for_url(re.compile(rf".*{url}\?done=1$"))
            page.screenshot(path=str(shots / f"4-approved-{approver}.png"), full_page=True)
            if approver == "fiona.director":
                escaped(page)
        by_web(events(app, "approval.approve")[-1], approver)

    def published() -> bool:
        with app.uow(read_only=True) as uow:
            line = uow.session.exec(
                select(CreditLine)
                .join(Customer, col(Customer.id) == col(CreditLine.customer_id))
                .where(Customer.code == "C-1001", CreditLine.status == "active")
            ).first()
            return line is not None and line.limit == 120000

    wait_for(published, "the line of C-1001 to be published (by the service)", 120)
    with browser_page(base, "carla.manager") as page:
        page.goto("/customers/C-1001")
        assert "120,000.00" in page.inner_text("main")
        page.screenshot(path=str(shots / "5-published.png"), full_page=True)


def collections(app: App, base: str, shots: Path) -> None:
    promised_for = app.settings.today() + timedelta(days=7)
    with browser_page(base, "cora.collector") as page:
        page.goto("/worklist?collector=all")
        page.screenshot(path=str(shots / "6-worklist.png"), full_page=True)
        page.click("a[href='/cases/C-1007']")
        page.wait_for_url("**/cases/C-1007")
        page.fill("#promise-amount", "9800")
        page.fill("#promise-date", promised_for.isoformat())
        page.fill("#promise-note", "CFO promised " + HTML)
        page.click("#record-promise")
        page.locator("#done").wait_for()
        invoice = page.locator("#dispute-invoice option").first.get_attribute("value")
        page.select_option("#dispute-invoice", invoice)
        page.fill("#dispute-reason", "Short shipment " + HTML)
        page.click("#open-dispute")
        page.locator("#done").wait_for()
        escaped(page)
        page.screenshot(path=str(shots / "7-case.png"), full_page=True)
    with app.uow(read_only=True) as uow:
        promise = uow.session.exec(
            select(PaymentPromise).order_by(col(PaymentPromise.id).desc())
        ).first()
        dispute = uow.session.exec(select(Dispute).order_by(col(Dispute.id).desc())).first()
    assert promise is not None and promise.amount == 9800 and promise.promised_for == promised_for
    assert dispute is not None and HTML in dispute.reason
    with app.uow(read_only=True) as uow:
        promised = uow.session.exec(
            select(AuditEvent).where(col(AuditEvent.action).startswith("promise."))
        ).all()
    by_web(promised[-1], "cora.collector")
    by_web(events(app, "dispute.opened")[-1], "cora.collector")


def committee(app: App, base: str, shots: Path) -> None:
    sample = resource_dir("sample_data") / "policy_v2.yaml"
    with browser_page(base, "carla.manager") as page:
        page.goto("/policy")
        page.set_input_files("#policy-file", str(sample))
        page.fill("#reason", "Higher cap for A ratings " + HTML)
        page.click("#propose-submit")
        page.wait_for_url(re.compile(r".*/policy/2.*"))
        page.screenshot(path=str(shots / "8-proposed.png"), full_page=True)
    by_web(events(app, "policy.propose")[-1], "carla.manager")
    for member in ("fiona.director", "victor.cfo"):
        with browser_page(base, member) as page:
            page.goto("/approvals/policy/2")
            page.fill("#comment", "Agreed in committee " + HTML)
            page.click("#approve")
            page.wait_for_url(re.compile(r".*/approvals/policy/2\?done=1$"))
            page.screenshot(path=str(shots / f"9-vote-{member}.png"), full_page=True)

    def published() -> bool:
        with app.uow(read_only=True) as uow:
            v2 = uow.session.get(CreditPolicy, 2)
            return v2 is not None and v2.status == "published"

    wait_for(published, "policy version 2 to be published", 120)
    with browser_page(base, "mia.analyst") as page:
        page.goto("/policy")
        assert "2" in page.inner_text("#policy-title") or "version 2" in page.inner_text("main")


def operator(app: App, base: str, failed: int, shots: Path) -> None:
    with browser_page(base, "olga.operator") as page:
        page.goto("/operations/outbox?status=failed")
        assert "no such mailbox" in page.inner_text("#notices")
        page.check(f"#pick-{failed}")
        page.fill("#reason", "mailbox fixed " + HTML)
        page.click("#retry")
        page.locator("#retried").wait_for()
        page.screenshot(path=str(shots / "10-retried.png"), full_page=True)
        page.goto("/operations/audit")
        page.screenshot(path=str(shots / "11-audit.png"), full_page=True)
    by_web(events(app, "notice.retry")[-1], "olga.operator")

    def sent() -> bool:
        with app.uow(read_only=True) as uow:
            n = uow.session.get(Notice, failed)
            return n is not None and n.status == "sent"

    wait_for(sent, "the retried notice to be delivered (by the service)", 120)
