"""Who does what in the workspace, and which passwords are accepted: pure rules, no I/O."""

from __future__ import annotations

import pytest

from credit.domain import workspace as ws

APPROVAL = ["credit_manager", "finance_director", "cfo"]
COMMITTEE = ["finance_director", "cfo"]


@pytest.mark.parametrize(
    ("directory_roles", "expected"),
    [
        (["credit_manager"], {ws.MANAGER, ws.APPROVER}),
        (["analyst"], {ws.ANALYST}),
        (["finance_director"], {ws.APPROVER, ws.COMMITTEE}),
        (["cfo"], {ws.APPROVER, ws.COMMITTEE}),
        (["collector"], {ws.COLLECTOR}),
        (["operator"], {ws.OPERATOR}),
        (["sales"], {ws.SALES}),
        (["analyst", "collector"], {ws.ANALYST, ws.COLLECTOR}),
        (["treasurer"], set()),
    ],
)
def test_workspace_roles_follow_the_directory_and_the_policy(directory_roles, expected):
    got = ws.workspace_roles(directory_roles, approval_roles=APPROVAL, committee_roles=COMMITTEE)
    assert got == expected


def test_a_policy_that_lets_analysts_approve_makes_them_approvers():
    got = ws.workspace_roles(["analyst"], approval_roles=["analyst"], committee_roles=[])
    assert got == {ws.ANALYST, ws.APPROVER}


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12 characters"),
        ("x" * 129, "at most 128"),
        ("mia.analyst-2026!", "may not contain the username"),
        ("aaaaaaaaaaaaaaaa", "more than three different characters"),
        ("ababababababab", "more than three different characters"),
        ("correct horse battery", None),
        ("ünïcödé pässwörd ok", None),
    ],
)
def test_password_rules(password, problem):
    found = ws.password_problem(password, username="mia.analyst")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
