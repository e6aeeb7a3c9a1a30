"""The approval page in a real browser: headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.integration.test_lifecycle_services import DAY, review
from tests.integration.test_web import link_of, site  # noqa: F401  (the running web app fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.slow
def test_an_approver_opens_the_link_sees_the_proposal_approves_and_sees_the_confirmation(
    site,  # noqa: F811
    tmp_path,
):
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium: `apt-get install chromium` (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    from credit import services

    app, base, continued = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    url = base + "/approve/" + url.rsplit("/approve/", 1)[1]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(url)
        assert "Brightline Retail SARL" in page.inner_text("body")
        assert re.search(r"30,000\.00", page.inner_text("body"))
        page.locator("#proposal").wait_for()
        page.fill("textarea[name=comment]", "Acceptable; quarterly review.")
        page.screenshot(path=str(tmp_path / "approval-page.png"), full_page=True)
        page.click("#approve")
        page.locator("#result").wait_for()
        assert "approved" in page.inner_text("#result")
        page.screenshot(path=str(tmp_path / "confirmation.png"))
        browser.close()
    assert continued == [rid]  # the lifecycle continues (publish) after the decision
    request = services.customer_overview(app, code="C-1003", as_of=DAY)["requests"][0]
    assert request["status"] == "approved"


@pytest.mark.slow
def test_a_rejection_without_a_comment_is_sent_back_and_then_ends_the_request(
    site,  # noqa: F811
    tmp_path,
):
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium: `apt-get install chromium` (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    from credit import services

    app, base, continued = site
    rid = review(app, "C-1003", "30000")
    url = base + "/approve/" + link_of(app, rid).rsplit("/approve/", 1)[1]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()
        page.goto(url)
        page.click("#reject")  # no comment
        page.locator("#result").wait_for()
        text = page.inner_text("body")
        assert "A rejection needs a comment saying why" in text and "--comment" not in text
        page.click("#back")  # the link still works
        page.locator("#proposal").wait_for()
        page.fill("textarea[name=comment]", "Loss-making: prepayment only.")
        page.click("#reject")
        page.locator("#result").wait_for()
        assert "rejected at level 1" in page.inner_text("#result")
        assert "ben.manager, who requested it, is told" in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "rejected.png"))
        browser.close()
    assert continued == [rid]
    request = services.customer_overview(app, code="C-1003", as_of=DAY)["requests"][0]
    assert request["status"] == "rejected"
