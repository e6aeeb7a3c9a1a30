"""Link attacks against the running approval page (a real HTTP server on loopback): tampered,
expired, replayed, used for another request or step, a link scanner's GET, a forged form.
None of them changes state; each refusal is audited."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import date, timedelta

import httpx
import pytest
import uvicorn
from sqlmodel import select

from credit import services
from credit.db.models import ApprovalLink, ApprovalStep, AuditEvent, Notice, utcnow
from credit.services import links
from credit.web import create_app
from tests.integration.test_lifecycle_services import DAY, review


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def site(ledger):
    port = free_port()
    continued: list[int] = []
    web = create_app(ledger, on_decided=lambda rid, as_of: continued.append(rid), today=lambda: DAY)
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    yield ledger, base, continued
    server.should_exit = True
    thread.join(timeout=5)


def link_of(app, rid: int) -> str:
    with app.uow() as uow:
        [n] = [
            n
            for n in uow.session.exec(select(Notice).where(Notice.kind == "approval_needed"))
            if re.search(rf"#{rid}\b", n.subject)
        ]
    return re.search(r"(https?://\S+/approve/[A-Za-z0-9_\-.]+)", n.text).group(1)


def path(url: str) -> str:
    return "/approve/" + url.rsplit("/approve/", 1)[1]


def state(app) -> tuple:
    with app.uow() as uow:
        steps = [(s.decision, s.decided_by) for s in uow.session.exec(select(ApprovalStep))]
        used = [link.used_at for link in uow.session.exec(select(ApprovalLink))]
    return steps, used


def refusals(app) -> list[AuditEvent]:
    with app.uow() as uow:
        return list(
            uow.session.exec(select(AuditEvent).where(AuditEvent.action == "approval_link.refused"))
        )


def open_and_decide(client: httpx.Client, url: str, decision: str = "approve") -> httpx.Response:
    page = client.get(path(url))
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    return client.post(path(url), data={"csrf": csrf, "decision": decision, "comment": "fine"})


def test_a_link_scanners_get_shows_the_page_and_changes_nothing(site):
    app, base, continued = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    before = state(app)
    with httpx.Client(base_url=base) as client:
        for _ in range(3):
            page = client.get(path(url))
            assert (
                page.status_code == 200
                and 'id="proposal"' in page.text
                and "Brightline" in page.text
            )
    assert state(app) == before and continued == []


def test_the_approver_opens_the_link_approves_and_the_flow_continues_once(site):
    app, base, continued = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    with httpx.Client(base_url=base) as client:
        done = open_and_decide(client, url)
        assert done.status_code == 200 and 'id="result"' in done.text and "approved" in done.text
        replay = client.post(path(url), data={"csrf": "x", "decision": "approve"})
        assert replay.status_code == 409
    assert continued == [rid]
    assert (
        services.customer_overview(app, code="C-1003", as_of=DAY)["requests"][0]["status"]
        == "approved"
    )
    assert len(refusals(app)) == 1


def test_a_tampered_token_is_refused_and_audited(site):
    app, base, _ = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    body, sig = path(url).split("/approve/")[1].split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    before = state(app)
    with httpx.Client(base_url=base) as client:
        for token in (f"{flipped}.{sig}", f"{body}.{sig[:-3]}", body, "garbage"):
            r = client.get(f"/approve/{token}")
            assert r.status_code == 400 and "not valid" in r.text
            assert client.post(f"/approve/{token}", data={"decision": "approve"}).status_code == 400
    assert state(app) == before
    assert len(refusals(app)) == 8


def test_an_expired_link_is_refused(site):
    app, base, _ = site
    rid = review(app, "C-1003", "30000")
    with app.uow() as uow:
        step = uow.session.exec(select(ApprovalStep)).first()
        link = uow.session.exec(select(ApprovalLink)).first()
        token = links.sign(
            links.web_secret(app),
            {
                "n": link.nonce,
                "r": rid,
                "s": step.id,
                "a": link.approver,
                "rd": 1,
                "x": int((utcnow() - timedelta(minutes=1)).timestamp()),
            },
        )
    before = state(app)
    with httpx.Client(base_url=base) as client:
        assert client.get(f"/approve/{token}").status_code == 410
        assert client.post(f"/approve/{token}", data={"decision": "approve"}).status_code == 410
    assert state(app) == before


def test_a_link_for_another_request_or_step_is_refused(site):
    app, base, _ = site
    first = review(app, "C-1003", "30000")
    second = review(app, "C-1002", "20000")
    with app.uow() as uow:
        link = uow.session.exec(select(ApprovalLink).where(ApprovalLink.request_id == first)).one()
        other_step = uow.session.exec(
            select(ApprovalStep).where(ApprovalStep.subject_id == second)
        ).one()
    secret = links.web_secret(app)
    exp = int((utcnow() + timedelta(hours=1)).timestamp())
    forged = [
        links.sign(
            secret,
            {
                "n": link.nonce,
                "r": second,
                "s": link.step_id,
                "a": link.approver,
                "rd": 1,
                "x": exp,
            },
        ),
        links.sign(
            secret,
            {
                "n": link.nonce,
                "r": first,
                "s": other_step.id,
                "a": link.approver,
                "rd": 1,
                "x": exp,
            },
        ),
        links.sign(
            secret,
            {"n": link.nonce, "r": first, "s": link.step_id, "a": "ben.manager", "rd": 1, "x": exp},
        ),
    ]
    before = state(app)
    with httpx.Client(base_url=base) as client:
        for token in forged:
            assert client.get(f"/approve/{token}").status_code == 400
            assert client.post(f"/approve/{token}", data={"decision": "approve"}).status_code == 400
    assert state(app) == before


def test_a_post_without_the_pages_csrf_token_changes_nothing(site):
    app, base, _ = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    before = state(app)
    with httpx.Client(base_url=base) as client:
        assert client.post(path(url), data={"decision": "approve"}).status_code == 403
        page = client.get(path(url))
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
        client.cookies.clear()  # a cross-site form post carries no SameSite=Strict cookie
        assert client.post(path(url), data={"decision": "approve", "csrf": csrf}).status_code == 403
    assert state(app) == before


def test_a_link_goes_stale_once_the_step_was_decided_elsewhere(site):
    app, base, _ = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    services.decide(
        app,
        subject=services.SUBJECT_REQUEST,
        subject_id=rid,
        username="carla.manager",
        approve=True,
        comment="from the CLI",
        as_of=DAY,
    )
    with httpx.Client(base_url=base) as client:
        r = client.get(path(url))
    assert r.status_code == 409 and "decided already" in r.text


def test_two_approval_pages_open_side_by_side_both_work_and_odd_input_gets_a_clear_page(site):
    app, base, _ = site
    first = link_of(app, review(app, "C-1003", "30000"))
    second = link_of(app, review(app, "C-1002", "20000"))
    with httpx.Client(base_url=base) as client:
        page1, page2 = client.get(path(first)), client.get(path(second))
        csrf1 = re.search(r'name="csrf" value="([0-9a-f]+)"', page1.text).group(1)
        assert (
            client.post(path(first), data={"csrf": "é", "decision": "approve"}).status_code == 403
        )
        assert (
            client.post(path(first), data={"csrf": csrf1, "decision": "approve"}).status_code == 200
        )
        csrf2 = re.search(r'name="csrf" value="([0-9a-f]+)"', page2.text).group(1)
        assert (
            client.post(path(second), data={"csrf": csrf2, "decision": "approve"}).status_code
            == 200
        )


def link_for(app, rid: int, approver: str) -> str:
    """The link in the newest approval notice of a request to one approver."""
    with app.uow() as uow:
        asked = [
            n
            for n in uow.session.exec(select(Notice).where(Notice.kind == "approval_needed"))
            if re.search(rf"#{rid}\b", n.subject) and f"Hello {approver}," in n.text
        ]
    return re.search(r"(https?://\S+/approve/[A-Za-z0-9_\-.]+)", asked[-1].text).group(1)


def decide_on_page(client: httpx.Client, url: str, decision: str, comment: str):
    page = client.get(path(url))
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    return client.post(path(url), data={"csrf": csrf, "decision": decision, "comment": comment})


def test_a_rejection_without_a_comment_asks_for_one_in_words_and_the_link_still_works(site):
    app, base, continued = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    before = state(app)
    with httpx.Client(base_url=base) as client:
        refused = decide_on_page(client, url, "reject", "   ")
        assert (
            refused.status_code == 400 and "A rejection needs a comment saying why" in refused.text
        )
        # No command-line flag in what the page says (the link's token may hold "--").
        shown = re.sub(r"<[^>]*>", " ", refused.text.split('id="result"')[1])
        assert not re.search(r"(?<![\w-])--[a-z]", shown), shown
        assert f'href="/approve/{path(url).rsplit("/", 1)[1]}"' in refused.text  # back to the page
        assert state(app) == before and continued == []
        done = decide_on_page(client, url, "reject", "Loss-making: prepayment only")
    assert done.status_code == 200
    assert f"Request {rid}: rejected at level 1" in done.text
    assert "ben.manager, who requested it, is told, with your comment" in done.text
    assert "moves on" not in done.text and "the credit line stays as it is" in done.text
    assert (
        services.customer_overview(app, code="C-1003", as_of=DAY)["requests"][0]["status"]
        == "rejected"
    )


def test_after_each_approval_the_page_says_who_decides_next_and_then_that_the_line_is_published(
    site,
):
    app, base, continued = site
    rid = review(app, "C-1001", "120000")  # two levels: credit manager, finance director
    with httpx.Client(base_url=base) as client:
        first = decide_on_page(client, link_for(app, rid, "carla.manager"), "approve", "")
        assert f"Request {rid}: level 1 approved" in first.text
        assert "waits for level 2 (finance director): fiona.director is asked" in first.text
        last = decide_on_page(client, link_for(app, rid, "fiona.director"), "approve", "ok")
    assert f"Request {rid}: level 2 approved" in last.text
    assert "every level has approved" in last.text
    assert "the credit line (EUR 120,000.00, 45 days) is being published now" in last.text
    assert "moves on" not in first.text + last.text and continued == [rid, rid]


def test_the_approval_page_shows_what_changes_and_what_the_risk_signals_did(site):
    from tests.integration.test_approvals import STRONG, _review_on

    app, base, _ = site
    rid = _review_on(app, "C-1001", date(2026, 12, 10), "dec", "120000", STRONG)
    with httpx.Client(base_url=base) as client:
        page = client.get(path(link_for(app, rid, "carla.manager")))
    assert page.status_code == 200 and 'id="changes"' in page.text
    for line in (
        "limit none: new line → EUR 120,000.00",
        "terms none: new line → 45 days",
        "conditions none: new line → guarantee",
        "rating B (no earlier assessment)",
        "rating A capped to B by high signal bounced_payment",
        "limit cut 50% by high signal bounced_payment: EUR 250,000.00 → EUR 125,000.00",
    ):
        assert line in page.text, line


def test_the_link_is_marked_used_in_the_decisions_own_transaction(site, monkeypatch):
    """A page decision whose transaction fails after the link was marked leaves both undone:
    the step still waits and the link still works (no used link without a decision)."""
    app, base, continued = site
    rid = review(app, "C-1003", "30000")
    url = link_of(app, rid)
    before = state(app)
    mark_used = links.mark_used

    def mark_then_fail(s, *, link_id):
        mark_used(s, link_id=link_id)
        raise services.ServiceError("something failed before the commit")

    monkeypatch.setattr(links, "mark_used", mark_then_fail)
    with httpx.Client(base_url=base) as client:
        page = client.get(path(url))
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
        failed = client.post(path(url), data={"csrf": csrf, "decision": "approve"})
        assert failed.status_code == 400 and "your link still works" in failed.text
        assert state(app) == before and continued == []
        monkeypatch.setattr(links, "mark_used", mark_used)
        done = client.post(path(url), data={"csrf": csrf, "decision": "approve"})
    assert done.status_code == 200 and continued == [rid]
    steps, used = state(app)
    assert steps[0] == ("approved", "carla.manager") and all(used)
