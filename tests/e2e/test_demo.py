"""`credit demo` as `make demo` runs it: Prefect's local mode, a fresh folder, readable .eml notices."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy as email_policy
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_the_whole_lifecycle_in_local_mode_and_leaves_readable_notices(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "PREFECT_"))}
    env["COLUMNS"] = "160"
    demo = tmp_path / "demo"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("credit")), "demo", "--dir", str(demo)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for level in (
        "reminder",
        "second_notice",
        "final_demand",
        "credit_hold",
        "handover",
        "cleared",
    ):
        assert f":{level}" in out
    assert "0 new notices (a rerun sends nothing twice)" in out
    assert (
        "refused (self-approval)" in out
        and "refused (the analyst approving what they rated)" in out
    )
    files = sorted((demo / "outbox").glob("*.eml"))
    assert f"the .eml files are in {demo / 'outbox'} ({len(files)} files;" in out.replace("\n", "")
    # Money in: the bank statements match on their own (the RF of C-1003's letter releases its
    # hold), two payments wait and the collector confirms one suggestion.
    assert "camt053_nov27.xml: 2 payments read; matched 1 by invoice number, 1 by rf" in out
    assert "C-1003: its matched payments cleared the overdue balance: hold released" in out
    assert "camt053_day1.xml: 8 payments read" in out and "2 waiting" in out
    assert "cora.collector confirms entry" in out
    # Collections depth: each invoice at its own level, a second profile with a courtesy reminder
    # before the due date, a held order released once by an approver with the authority.
    assert "INV-1003-OPEN1 level 3, INV-1003-OPEN2 level 1" in out
    assert "credit customers profile C-1012 key_accounts" in out
    assert "2026-11-25: C-1012 (key_accounts): courtesy reminder for INV-1012-OPEN1" in out
    assert "SO-4711: ALLOW (released by carla.manager on 2026-11-16" in out
    assert "checked again: HOLD (a release is used once)" in out
    from pypdf import PdfReader

    letters = sorted((demo / "outbox" / "letters").glob("*.pdf"))
    assert letters
    first = PdfReader(letters[0]).pages[0]
    assert "DE89 3704 0044 0532 0130 00" in first.extract_text()
    # the EPC QR code, drawn as rectangles filled as one path
    assert "q 0 g\n" in first.get_contents().get_data().decode("latin-1")
    attached = set()
    kinds = set()
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email_policy.default)
        assert msg["To"] and msg["Subject"] and msg["Message-ID"]
        assert msg.get_body(("plain",)).get_content().strip()
        kinds.add(msg["X-Credit-Notice-Kind"])
        attached |= {
            (msg["X-Credit-Notice-Kind"], part.get_content_type())
            for part in msg.iter_attachments()
        }
    assert ("dunning_reminder", "application/pdf") in attached
    # C-1007's dunning e-mails go to its accounts payable with the finance director on CC
    crumbling = [
        m
        for m in map(
            lambda f: email.message_from_bytes(f.read_bytes(), policy=email_policy.default), files
        )
        if m["To"] == "harriet.cole@crumbling.example"
    ]
    assert crumbling and all(m["Cc"] == "tom.baker@crumbling.example" for m in crumbling)
    assert {
        "terms_letter",
        "approval_needed",
        "request_rejected",
        "dunning_handover",
        "credit_hold_released",
        "policy_published",
        "reviews_due",
        "dunning_courtesy",
    } <= kinds
