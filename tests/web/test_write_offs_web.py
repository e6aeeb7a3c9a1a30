"""A write-off waiting for an approver in the web inbox: listed as "Write-off #N" with how it is
decided (on the command line: it has no decision page), and among the approver's recent
decisions once decided, without breaking the inbox. An instalment plan on the case page."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from credit import services
from credit.db.models import ApprovalStep
from tests.web.conftest import DAY, browser_page


def test_a_write_off_shows_in_the_approvers_inbox_and_recent_decisions(workspace, tmp_path):
    app = workspace.app
    proposed = services.propose_write_off(
        app, customer_code="C-1007", currency="EUR", invoices=["INV-1007-OPEN2"],
        reason="insolvent", by="cora.collector", as_of=DAY,
    )  # fmt: skip
    with app.uow() as uow:
        [step] = uow.session.exec(
            select(ApprovalStep).where(ApprovalStep.subject == "write_off")
        ).all()
    approver = step.approver
    assert approver is not None
    with browser_page(workspace.base, approver) as page:
        page.goto("/approvals")
        row = page.inner_text(f"#open-write_off-{proposed['id']}")
        assert row == f"Write-off #{proposed['id']}"
        page.click(f"#open-write_off-{proposed['id']}")
        assert f"credit approve {proposed['id']} --subject write_off --as {approver}" in (
            page.content()
        )
        page.goto("/approvals")
        services.decide(app, subject="write_off", subject_id=proposed["id"], username=approver,
                        approve=True, comment="ok", as_of=DAY)  # fmt: skip
        page.goto("/approvals")
        page.wait_for_selector("#recent")
        assert f"Write-off #{proposed['id']}" in page.inner_text("#recent")
        page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
    [listed] = services.list_write_offs(app)
    assert listed["status"] == "approved" and listed["booked"] == listed["amount"]


def test_an_instalment_plan_on_the_case_page(workspace):
    services.record_promise(
        workspace.app, customer_code="C-1007", amount=Decimal(0), promised_for=DAY,
        by="cora.collector", as_of=DAY,
        instalments=[(DAY.replace(day=10), Decimal("1000.00")),
                     (DAY.replace(day=20), Decimal("1000.00"))],
    )  # fmt: skip
    with browser_page(workspace.base, "cora.collector") as page:
        page.goto("/cases/C-1007")
        plan = page.inner_text("#promises tr.plan")
    assert plan.strip() == ("Plan: €1,000.00 by 2026-10-10 (open); €1,000.00 by 2026-10-20 (open)")
