"""The approver's inbox and decision page, their delegation page, and the policy committee's pages:
who sees what, decisions recorded under the signed-in person (through the web channel), refusals
that change nothing, a policy version proposed by upload and voted on by the committee."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from sqlmodel import col, select

from credit import services
from credit.db.models import ApprovalStep, AuditEvent, CreditPolicy, CreditRequest
from credit.resources import resource_dir
from tests.integration.test_lifecycle_services import review
from tests.web.conftest import DAY, browser_page, csrf_of

# A 1x1 PNG: a research report's chart.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def steps_of(app, subject: str, subject_id: int) -> list[ApprovalStep]:
    with app.uow() as uow:
        return list(
            uow.session.exec(
                select(ApprovalStep)
                .where(ApprovalStep.subject == subject, ApprovalStep.subject_id == subject_id)
                .order_by(col(ApprovalStep.level))
            )
        )


def events(app, action: str) -> list[AuditEvent]:
    with app.uow() as uow:
        return list(uow.session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def section(html: str, element_id: str) -> str:
    """The HTML of the element with that id (to the first closing tag of its kind)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}".*?</\1>', html, re.S)
    return found.group(0) if found else ""


def decide(client, path: str, **form: str):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_of(page.text), **form})


def test_the_inbox_four_eyes_and_an_approval_recorded_under_the_signed_in_approver(workspace):
    """One request through its approver's pages (one workspace: the fixture costs seconds)."""
    rid = review(workspace.app, "C-1003", "30000")  # requested and rated by ben.manager
    [step] = steps_of(workspace.app, services.SUBJECT_REQUEST, rid)
    assert (step.role, step.approver) == ("credit_manager", "carla.manager")
    path = f"/approvals/request/{rid}"
    carla, ben = workspace.client("carla.manager"), workspace.client("ben.manager")
    inbox_only_for_its_approver(workspace, carla, ben, path)
    collectors_are_refused(workspace, path)
    refusals_change_nothing(workspace, carla, ben, path)

    page = carla.get(path)
    # the evidence the decision is bound to: the change, the score breakdown, the exposure
    for heading in ("What changes against the current terms", "Quantitative score breakdown",
                    "Open balance of the customer (exposure)", "Approval chain so far"):  # fmt: skip
        assert heading in page.text
    answer = carla.post(
        path,
        data={"csrf": csrf_of(page.text), "decision": "approve", "comment": "Good <b>payer</b>"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"{path}?done=1"
    [step] = steps_of(workspace.app, services.SUBJECT_REQUEST, rid)
    assert (step.decision, step.decided_by, step.comment) == (
        "approved",
        "carla.manager",
        "Good <b>payer</b>",
    )
    [event] = events(workspace.app, "approval.approve")
    assert event.actor == "carla.manager" and event.entity_id == str(rid)
    assert event.via["channel"] == "web"
    assert workspace.woken == [DAY]  # the follow-up (publication) was handed over
    after = carla.get(answer.headers["location"])
    assert "level 1 approved" in section(after.text, "flash")
    assert 'id="decide"' not in after.text  # nothing waits any more
    assert "Good &lt;b&gt;payer&lt;/b&gt;" in after.text
    recent = section(carla.get("/approvals").text, "recent")
    assert f"Request #{rid}" in recent and "approved" in recent
    delegation = carla.get("/approvals/delegation")
    assert "Ben Okafor" in section(delegation.text, "delegate")
    assert "approvers.yaml" in delegation.text


def inbox_only_for_its_approver(workspace, carla, ben, link: str) -> None:
    mine = carla.get("/approvals")
    assert mine.status_code == 200
    assert link in section(mine.text, "inbox")
    # ben requested it: not his to decide; junior holds the role: asked of a colleague
    bens = ben.get("/approvals")
    assert link not in bens.text and 'id="inbox-empty"' in bens.text
    junior = workspace.client("junior.analyst").get("/approvals")
    assert link not in section(junior.text, "inbox") and link in section(junior.text, "colleagues")


def collectors_are_refused(workspace, link: str) -> None:
    cora = workspace.client("cora.collector")
    for path in ("/approvals", link, "/approvals/delegation"):
        assert cora.get(path).status_code == 403
    home = cora.get("/")
    refused = cora.post(link, data={"csrf": csrf_of(home.text), "decision": "approve"})
    assert refused.status_code == 403
    assert cora.post("/policy/propose", data={"csrf": csrf_of(home.text)}).status_code == 403
    assert cora.get("/policy").status_code == 200  # credit staff read the policy


def refusals_change_nothing(workspace, carla, ben, path: str) -> None:
    refused = decide(ben, path, decision="approve", comment="mine")
    assert refused.status_code == 403
    assert "requested this and may not approve their own request" in section(
        refused.text, "refused"
    )
    assert ">mine</textarea>" in refused.text  # what was typed is kept
    [event] = events(workspace.app, "approval.refused")
    assert event.actor == "ben.manager" and event.via["channel"] == "web"

    bare = decide(carla, path, decision="reject", comment="  ")
    assert bare.status_code == 400
    assert "a rejection needs a comment" in section(bare.text, "error").lower()
    assert decide(carla, path, decision="maybe").status_code == 400
    rid = int(path.rsplit("/", 1)[1])
    [step] = steps_of(workspace.app, services.SUBJECT_REQUEST, rid)
    assert (step.decision, step.decided_by) == ("pending", None)  # nothing changed
    with workspace.app.uow() as uow:
        assert uow.session.get(CreditRequest, rid).status == "in_approval"
    assert events(workspace.app, "approval.approve") == events(workspace.app, "approval.reject")
    assert workspace.woken == []
    assert carla.get("/approvals/request/999").status_code == 404
    assert carla.get("/approvals/other/1").status_code == 404


def write_report(workspace) -> None:
    folder = Path(workspace.app.settings.reports_dir) / "policy-research-2026-09-30"
    folder.mkdir(parents=True)
    (folder / "trend.png").write_bytes(PIXEL)
    (folder / "report.md").write_text(
        "# Credit policy research as of 2026-09-30\n\n**Receivables**: 100 EUR.\n\n"
        "## Collection per month\n\n![DSO, CEI and collection rate](trend.png)\n\n"
        "| customer | what they said |\n|---|---|\n| C-1001 | <script>alert(1)</script> |\n",
        encoding="utf-8",
    )


def test_a_policy_version_is_proposed_by_upload_and_a_committee_member_approves_it(workspace):
    carla = workspace.client("carla.manager")
    index = carla.get("/policy")
    assert index.status_code == 200
    for heading in ("Scoring: factors and bands", "Ratings and limits", "Authority",
                    "Dunning levels", "Propose a new version"):  # fmt: skip
        assert heading in index.text
    sample = resource_dir("sample_data") / "policy_v2.yaml"

    def propose(content: bytes, reason: str):
        return carla.post(
            "/policy/propose",
            data={"csrf": csrf_of(index.text), "reason": reason},
            files={"policy": ("policy_v2.yaml", content, "application/yaml")},
        )

    bad = propose(b"name: [unclosed", "typo")
    assert bad.status_code == 400 and "policy_v2.yaml: not valid YAML" in bad.text
    assert ">typo</textarea>" in bad.text and "uploads" not in bad.text
    assert propose(sample.read_bytes(), " ").status_code == 400  # a reason is needed
    answer = propose(sample.read_bytes(), "Q4 revision: higher A cap")
    assert answer.status_code == 303 and answer.headers["location"] == "/policy/2?proposed=1"
    assert workspace.woken == [DAY]
    with workspace.app.uow() as uow:
        rows = list(uow.session.exec(select(CreditPolicy).order_by(col(CreditPolicy.version))))
    assert [(r.version, r.status, r.proposed_by) for r in rows][1] == (
        2,
        "in_approval",
        "carla.manager",
    )
    version = carla.get("/policy/2?proposed=1&backtest=1")
    assert "is proposed" in section(version.text, "flash")
    assert 'id="changes"' in version.text and 'id="backtest-result"' in version.text

    write_report(workspace)
    fiona = workspace.client("fiona.director")
    assert 'href="/approvals/policy/2"' in section(fiona.get("/approvals").text, "inbox")
    page = fiona.get("/approvals/policy/2")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert 'src="data:image/png;base64,' in page.text
    voted = fiona.post(
        "/approvals/policy/2",
        data={"csrf": csrf_of(page.text), "decision": "approve", "comment": "Agreed"},
    )
    assert voted.status_code == 303
    steps = {st.role: st for st in steps_of(workspace.app, services.SUBJECT_POLICY, 2)}
    assert (steps["finance_director"].decision, steps["finance_director"].decided_by) == (
        "approved",
        "fiona.director",
    )
    assert steps["cfo"].decision == "pending"  # the CFO votes too before it is published
    assert services.policy_view(workspace.app, version=2)["status"] == "in_approval"
    [event] = events(workspace.app, "approval.approve")
    assert (event.actor, event.entity_type, event.via["channel"]) == (
        "fiona.director",
        "credit_policy",
        "web",
    )
    assert "waiting for cfo" in section(fiona.get(voted.headers["location"]).text, "flash")
    delegation = fiona.get("/approvals/delegation")  # fiona stands in for the CFO
    assert "victor.cfo" in delegation.text and "Nobody names you" not in delegation.text


@pytest.mark.slow
def test_an_approver_opens_the_inbox_and_approves_a_request_in_the_browser(workspace, tmp_path):
    rid = review(workspace.app, "C-1003", "30000")
    with browser_page(workspace.base, "carla.manager") as page:
        page.goto("/approvals")
        page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
        page.click(f"#open-request-{rid}")
        page.wait_for_selector("#decide")
        page.fill("#comment", "Long-standing customer, pays on time")
        page.screenshot(path=str(tmp_path / "decision.png"), full_page=True)
        page.click("#approve")
        page.wait_for_selector("#flash")
        assert "level 1 approved" in page.inner_text("#flash")
        page.screenshot(path=str(tmp_path / "decided.png"), full_page=True)
    [step] = steps_of(workspace.app, services.SUBJECT_REQUEST, rid)
    assert (step.decision, step.decided_by, step.comment) == (
        "approved",
        "carla.manager",
        "Long-standing customer, pays on time",
    )
    [event] = events(workspace.app, "approval.approve")
    assert event.via["channel"] == "web"


def test_an_order_release_waits_in_the_inbox_and_its_page_names_the_commands(workspace):
    """Order releases are decided with the command line: the inbox and the home page list them
    under their own name, their page says how, and once decided they are among the recent."""
    from datetime import date
    from decimal import Decimal

    asked = services.request_order_release(
        workspace.app, customer_code="C-1003", order_ref="SO-77", amount=Decimal("9000"),
        reason="urgent", by="sam.sales", as_of=DAY,
    )  # fmt: skip
    assert asked["waiting_for"] == "level 1 (credit_manager): carla.manager"
    carla = workspace.client("carla.manager")
    path = f"/approvals/order_release/{asked['id']}"
    inbox = section(carla.get("/approvals").text, "inbox")
    assert path in inbox and f"Order release #{asked['id']}" in inbox and "order SO-77" in inbox
    assert path in carla.get("/").text
    page = carla.get(path)
    assert page.status_code == 200
    assert f"credit approve {asked['id']} --subject order_release --as carla.manager" in page.text
    services.record_decision(
        workspace.app, subject="order_release", subject_id=asked["id"],
        username="carla.manager", approve=True, comment=None, as_of=date.fromisoformat(str(DAY)),
    )  # fmt: skip
    after = carla.get("/approvals")
    assert after.status_code == 200
    assert f"Order release #{asked['id']}" in section(after.text, "recent")
