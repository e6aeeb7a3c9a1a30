"""The tamper-evident audit trail: every edit, deletion, insertion or reordering made directly in
the database is found by `credit audit verify`, which names the first broken event."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from credit import services
from tests.conftest import TEST_COMPANY
from tests.integration.test_lifecycle_services import DAY, decide, review

CREDIT = str(Path(sys.executable).with_name("credit"))


@pytest.fixture
def trail(ledger):
    rid = review(ledger, "C-1003", "30000")
    decide(ledger, rid, "carla.manager")
    services.publish_request(ledger, request_id=rid, as_of=DAY)
    result = services.verify_audit(ledger)
    assert result["ok"] and result["events"] > 10
    return ledger


def tamper(app, *statements: str) -> None:
    """What someone with database rights could do: drop the append-only triggers and change rows."""
    with app.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def test_an_edited_event_is_named(trail):
    tamper(trail, "UPDATE audit_event SET reason = 'nothing to see' WHERE id = 5")
    result = services.verify_audit(trail)
    assert (result["ok"], result["broken_at"]) == (False, 5)
    assert "edited" in result["reason"]


def test_a_deleted_event_is_named(trail):
    tamper(trail, "DELETE FROM audit_event WHERE id = 4")
    result = services.verify_audit(trail)
    assert (result["broken_at"], result["reason"]) == (
        5,
        "event 4 is missing (the chain jumps to 5)",
    )


def test_deleting_the_last_events_is_noticed(trail):
    last = services.verify_audit(trail)["events"]
    tamper(trail, f"DELETE FROM audit_event WHERE id >= {last - 1}")
    result = services.verify_audit(trail)
    assert result["broken_at"] == last - 1 and "missing" in result["reason"]


def test_an_inserted_event_is_named(trail):
    last = services.verify_audit(trail)["events"]
    tamper(
        trail,
        "UPDATE audit_event SET id = id + 1000 WHERE id > 6",
        "INSERT INTO audit_event (id, at, actor, action, entity_type, entity_id, reason, prev_hash, hash) "
        "SELECT 7, at, 'mallory', 'credit_line.publish', 'credit_line', 'C-1003', 'forged', hash, hash "
        "FROM audit_event WHERE id = 6",
        "UPDATE audit_event SET id = id - 999 WHERE id > 1000",
    )
    result = services.verify_audit(trail)
    assert result["broken_at"] == 7 and not result["ok"]
    assert result["events"] == 7 and last > 7


def test_reordered_events_are_named(trail):
    tamper(
        trail,
        "UPDATE audit_event SET id = -1 WHERE id = 3",
        "UPDATE audit_event SET id = 3 WHERE id = 4",
        "UPDATE audit_event SET id = 4 WHERE id = -1",
    )
    result = services.verify_audit(trail)
    assert result["broken_at"] == 3 and "link" in result["reason"]


def test_verify_from_the_command_line_exits_1_and_names_the_event(trail):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = str(trail.engine.url.render_as_string(hide_password=False))
    env.update(TEST_COMPANY)
    ok = subprocess.run(
        [CREDIT, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0 and "Audit trail intact" in ok.stdout
    tamper(trail, "UPDATE audit_event SET actor = 'someone else' WHERE id = 2")
    broken = subprocess.run(
        [CREDIT, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1 and "Audit trail broken at event 2" in broken.stderr


def test_limit_report_shows_who_approved_when_and_what_they_saw_and_neutralises_formulas(
    trail, tmp_path
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = str(trail.engine.url.render_as_string(hide_password=False))
    env.update(TEST_COMPANY)
    with trail.engine.begin() as conn:  # a customer code a spreadsheet would run as a formula
        conn.execute(text("UPDATE customer SET code = '=HYPERLINK(\"x\")' WHERE code = 'C-1007'"))
    rows = services.limit_changes(trail, start=date(2000, 1, 1), end=date(2100, 1, 1))
    [change] = rows
    assert change["customer"] == "C-1003" and change["new_limit"] == "30000.0000"
    [approval] = change["approvals"]
    assert approval["by"] == "carla.manager" and approval["saw"]["amount"] == "30000.0000"
    assert approval["evidence_hash"] and len(approval["evidence_hash"]) == 64
    out = subprocess.run(
        [CREDIT, "audit", "limits", "--from", "2000-01-01", "--to", "2100-01-01", "--csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    [row] = list(csv.DictReader(io.StringIO(out.stdout)))
    assert (
        row["decided_by"] == "carla.manager" and row["evidence_hash"] == approval["evidence_hash"]
    )
    assert json.loads(row["exposure_seen"]) == approval["saw"]["exposure"]


def test_csv_cells_that_start_like_formulas_are_neutralised():
    from credit.cli.audit import csv_safe

    assert [csv_safe(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "plain", None, 5)] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "plain",
        "",
        "5",
    ]
