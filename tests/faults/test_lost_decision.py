"""Scenario 6: the approver's `credit approve` process dies right after the decision is committed,
before it publishes the line and sends what follows. The next approval sweep (`credit approvals
sweep`, hourly when served) finds the approved request in the database and finishes it, once."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter

import pytest
from sqlmodel import select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, CreditLine, CreditRequest, Notice
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, import_sample
from tests.e2e.conftest import CREDIT, cli  # noqa: F401 - the fixture
from tests.integration.test_lifecycle_services import DAY, decide, review

pytestmark = pytest.mark.slow


def test_a_decision_whose_follow_up_died_is_finished_by_the_next_sweep_once(cli):  # noqa: F811
    app = App(
        Settings.load(
            env_file=None,
            environ={
                "CREDIT_DATABASE_URL": cli.env["CREDIT_DATABASE_URL"],
                "CREDIT_OUTBOX_DIR": cli.env["CREDIT_OUTBOX_DIR"],
                **TEST_COMPANY,
            },
        )
    )
    services.init_database(app, actor="test")
    import_sample(app)
    rid = review(app, "C-1001", "120000")  # two levels: carla.manager, then fiona.director
    decide(app, rid, "carla.manager")

    killed = subprocess.run(
        [CREDIT, "approve", str(rid), "--as", "fiona.director", "--as-of", DAY.isoformat()],
        cwd=cli.path,
        env={**cli.env, "CREDIT_CRASH_AT": "approval.decided"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with app.uow() as uow:
        s = uow.session
        assert s.get(CreditRequest, rid).status == "approved"  # the decision is not lost
        assert s.exec(select(CreditLine)).first() is None  # and its follow-up did not run

    swept = cli("approvals", "sweep", "--as-of", DAY.isoformat())
    assert "1 approved request published" in swept.stdout
    again = cli("approvals", "sweep", "--as-of", DAY.isoformat())
    assert "0 approved requests published" in again.stdout

    with app.uow() as uow:
        s = uow.session
        assert s.get(CreditRequest, rid).status == "published"
        [line] = s.exec(select(CreditLine)).all()
        published = [e for e in s.exec(select(AuditEvent)) if e.action.startswith("credit_line.")]
        kinds = Counter(n.kind for n in s.exec(select(Notice)))
        statuses = {n.status for n in s.exec(select(Notice))}
    assert line.limit == 120000 and line.request_id == rid
    assert len(published) == 1, [e.action for e in published]  # exactly once
    assert kinds["terms_letter"] == 1 and kinds["line_published_sales"] == 1
    assert statuses == {"sent"}
    assert audit_ok(app)
    print(
        f"lost decision: request {rid} approved by a process killed before publishing; the sweep "
        f"published it once ({published[0].action}), a second sweep changed nothing"
    )
    app.engine.dispose()
    assert os.path.exists(cli.path / "credit.db")


def audit_ok(app: App) -> bool:
    from credit import audit

    with app.uow() as uow:
        return audit.verify(uow.session).ok
