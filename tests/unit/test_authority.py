from __future__ import annotations

import itertools
from decimal import Decimal

from credit.domain.authority import decision_refusals, pick_approver, required_steps


def test_amount_within_first_level_needs_one_approval(policy):
    steps = required_steps(
        amount=Decimal("50000"), rating="B", above_recommendation=False, policy=policy
    )
    assert [(s.level, s.role) for s in steps] == [(1, "credit_manager")]


def test_amount_above_a_level_bound_needs_the_next_level_too(policy):
    steps = required_steps(
        amount=Decimal("50000.01"), rating="B", above_recommendation=False, policy=policy
    )
    assert [s.role for s in steps] == ["credit_manager", "finance_director"]
    top = required_steps(
        amount=Decimal("250000.01"), rating="A", above_recommendation=False, policy=policy
    )
    assert [s.role for s in top] == ["credit_manager", "finance_director", "cfo"]


def test_risky_rating_or_amount_above_recommendation_adds_a_level(policy):
    weak = required_steps(
        amount=Decimal("1000"), rating="D", above_recommendation=False, policy=policy
    )
    assert [s.role for s in weak] == ["credit_manager", "finance_director"]
    assert weak[-1].reason.startswith("risk: rating D")
    above = required_steps(
        amount=Decimal("1000"), rating="A", above_recommendation=True, policy=policy
    )
    assert [s.role for s in above] == ["credit_manager", "finance_director"]


def test_requester_may_not_approve_their_own_request(directory):
    reasons = decision_refusals(
        username="carla.manager",
        directory=directory,
        step_role="credit_manager",
        step_cap=Decimal("50000"),
        amount=Decimal("1000"),
        requester="carla.manager",
        deciders_of_other_steps=set(),
    )
    assert reasons == ["carla.manager requested this and may not approve their own request"]


def test_approval_beyond_personal_authority_is_refused(directory):
    reasons = decision_refusals(
        username="junior.analyst",
        directory=directory,
        step_role="credit_manager",
        step_cap=Decimal("50000"),
        amount=Decimal("30000"),
        requester="ben.manager",
        deciders_of_other_steps=set(),
    )
    assert len(reasons) == 1
    assert "authority limit 10,000.00 is below the 30,000.00" in reasons[0]


def test_one_person_never_fills_two_levels(directory):
    reasons = decision_refusals(
        username="victor.cfo",
        directory=directory,
        step_role="cfo",
        step_cap=None,
        amount=Decimal("300000"),
        requester="ben.manager",
        deciders_of_other_steps={"victor.cfo"},
    )
    assert any("already decided another level" in r for r in reasons)


def test_exhaustive_routing_never_allows_self_approval_or_approval_beyond_authority(
    policy, directory
):
    """Every approver x requester x analyst x amount x rating: the checks refuse exactly the
    forbidden cases (self-approval, the analyst approving what they rated, missing role, too little
    authority)."""
    amounts = [
        Decimal(a)
        for a in (
            "0",
            "9999.99",
            "10000",
            "10000.01",
            "50000",
            "50000.01",
            "250000",
            "250000.01",
            "5000000",
            "5000000.01",
        )
    ]
    people = [a.username for a in directory.approvers] + ["stranger"]
    checked = self_allowed = analyst_allowed = beyond_allowed = allowed_total = 0
    for amount, rating, requester, analyst, user in itertools.product(
        amounts, ["A", "C", "D", "NR"], people, [None, *people], people
    ):
        steps = required_steps(
            amount=amount, rating=rating, above_recommendation=False, policy=policy
        )
        for step in steps:
            allowed = not decision_refusals(
                username=user,
                directory=directory,
                step_role=step.role,
                step_cap=step.cap,
                amount=amount,
                requester=requester,
                deciders_of_other_steps=set(),
                analyst=analyst,
            )
            checked += 1
            allowed_total += allowed
            person = directory.get(user)
            needed = amount if step.cap is None else min(amount, step.cap)
            if allowed and user == requester:
                self_allowed += 1
            if allowed and user == analyst:
                analyst_allowed += 1
            if allowed and (
                person is None or step.role not in person.roles or person.authority_limit < needed
            ):
                beyond_allowed += 1
    print(
        f"checked {checked} decisions ({allowed_total} allowed): {self_allowed} self-approvals, "
        f"{analyst_allowed} by the analyst, {beyond_allowed} beyond authority"
    )
    assert checked > 10000 and allowed_total > 1000
    assert (self_allowed, analyst_allowed, beyond_allowed) == (0, 0, 0)


def test_picked_approver_is_eligible_and_never_the_requester(directory):
    who, acting_for = pick_approver(
        directory=directory,
        role="credit_manager",
        cap=Decimal("50000"),
        amount=Decimal("40000"),
        requester="carla.manager",
        excluded=set(),
    )
    assert (who.username, acting_for) == ("ben.manager", None)
    nobody = pick_approver(
        directory=directory,
        role="cfo",
        cap=None,
        amount=Decimal("1000"),
        requester="victor.cfo",
        excluded=set(),
    )
    assert nobody is None


def test_exhaustive_delegation_never_allows_self_approval_or_more_than_the_delegators_authority(
    policy, directory
):
    """Role x amount x requester x delegation (each person standing in for each other person, or
    for nobody): 0 self-approvals (by the person or the one they stand in for), 0 approvals beyond
    the authority used, and delegated authority never above the delegator's."""
    from credit.domain.directory import Directory

    delegates = {
        "carla.manager": "ben.manager",
        "ben.manager": "junior.analyst",
        "junior.analyst": "carla.manager",
        "fiona.director": "victor.cfo",
        "victor.cfo": "fiona.director",
    }
    data = directory.model_dump(by_alias=True)
    for a in data["approvers"]:
        a["delegate"] = delegates.get(a["username"])
    with_delegates = Directory.model_validate(data)
    amounts = [
        Decimal(a) for a in ("5000", "10000.01", "50000", "50000.01", "250000.01", "5000000.01")
    ]
    people = [a.username for a in with_delegates.approvers]
    checked = allowed_total = self_allowed = beyond = above_delegator = 0
    for amount, requester, user, acting_for in itertools.product(
        amounts, people, people, [None, *people]
    ):
        for step in required_steps(
            amount=amount, rating="C", above_recommendation=False, policy=policy
        ):
            allowed = not decision_refusals(
                username=user,
                directory=with_delegates,
                step_role=step.role,
                step_cap=step.cap,
                amount=amount,
                requester=requester,
                deciders_of_other_steps=set(),
                acting_for=acting_for,
            )
            checked += 1
            allowed_total += allowed
            if not allowed:
                continue
            needed = amount if step.cap is None else min(amount, step.cap)
            authority = with_delegates.get(acting_for or user)
            if requester in (user, acting_for):
                self_allowed += 1
            if step.role not in authority.roles or authority.authority_limit < needed:
                beyond += 1
            if acting_for and needed > with_delegates.get(acting_for).authority_limit:
                above_delegator += 1
    print(
        f"checked {checked} delegated and direct decisions ({allowed_total} allowed): {self_allowed} "
        f"self-approvals, {beyond} beyond authority, {above_delegator} above the delegator's authority"
    )
    assert checked > 1500 and allowed_total > 100
    assert (self_allowed, beyond, above_delegator) == (0, 0, 0)


def test_a_large_increase_adds_a_level(policy):
    small = required_steps(
        amount=Decimal("30000"),
        rating="B",
        above_recommendation=False,
        policy=policy,
        current_limit=Decimal("25000"),
    )
    large = required_steps(
        amount=Decimal("30000"),
        rating="B",
        above_recommendation=False,
        policy=policy,
        current_limit=Decimal("10000"),
    )
    assert [s.role for s in small] == ["credit_manager"]
    assert [s.role for s in large] == ["credit_manager", "finance_director"]
    assert "increase of more than 50%" in large[-1].reason
