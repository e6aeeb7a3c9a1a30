"""The collections team's pure rules: collector rules (first match wins, size bounds), the case
priority formula, dispute due dates and reminders, the policy section's validation and diff."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from credit.domain.policy_team import Team
from credit.domain.team import (
    CaseFacts,
    case_priority,
    dispute_due,
    dispute_escalation_due,
    dispute_reminder_due,
    pick_collector,
    team_changes,
)

TEAM = Team.model_validate(
    {
        "collector_rules": [
            {"collector": "ann", "countries": ["AT"], "currencies": ["EUR"]},
            {"collector": "bob", "min_overdue": "1000", "max_overdue": "5000"},
            {"collector": "cid", "ratings": ["D", "E"]},
        ],
        "default_collector": "dee",
        "risk_weights": {"E": "2.5"},
    }
)


@pytest.mark.parametrize(
    ("facts", "collector", "why"),
    [
        (CaseFacts("AT", "EUR", None, Decimal(10)), "ann", "collector rule 1 (countries AT; currencies EUR)"),
        (CaseFacts("AT", "USD", None, Decimal(1000)), "bob", "collector rule 2 (overdue from 1000 below 5000)"),
        (CaseFacts("DE", "EUR", "E", Decimal("4999.99")), "bob", "collector rule 2"),
        (CaseFacts("DE", "EUR", "E", Decimal(5000)), "cid", "collector rule 3 (ratings D, E)"),
        (CaseFacts("DE", "EUR", None, Decimal("999.99")), "dee", "the default collector"),
        (CaseFacts("DE", "JPY", None, None), "dee", "the default collector"),  # no rate: no size
    ],
)  # fmt: skip
def test_the_first_matching_rule_names_the_collector(facts, collector, why):
    pick = pick_collector(TEAM, facts)
    assert pick.collector == collector and pick.why.startswith(why)


def test_without_rules_or_default_nobody_is_assigned():
    pick = pick_collector(Team(), CaseFacts("DE", "EUR", "A", Decimal(10**6)))
    assert pick.collector is None and "no collector rule matched" in pick.why


def test_priority_is_amount_times_days_times_weight_per_thousand():
    assert case_priority(Decimal(10000), 30, Decimal(1)) == 300
    assert case_priority(Decimal(5000), 60, Decimal(1)) == 300
    assert case_priority(Decimal(10000), 30, TEAM.risk_weight("E")) == 750
    assert case_priority(Decimal("999"), 1, Decimal(1)) == 0  # rounded down
    assert case_priority(None, 30, Decimal(1)) is None  # no exchange rate
    assert TEAM.risk_weight(None) == TEAM.risk_weight("A") == 1


def test_a_dispute_is_due_after_its_codes_days_and_reminded_after_that():
    delivery = Team().dispute_code("delivery")
    assert delivery is not None
    assert dispute_due(date(2027, 3, 11), delivery) == date(2027, 3, 21)
    assert not dispute_reminder_due(date(2027, 3, 21), date(2027, 3, 21))
    assert dispute_reminder_due(date(2027, 3, 21), date(2027, 3, 22))
    assert not dispute_escalation_due(date(2027, 3, 21), date(2027, 3, 30), None)
    assert not dispute_escalation_due(date(2027, 3, 21), date(2027, 3, 23), 3)
    assert dispute_escalation_due(date(2027, 3, 21), date(2027, 3, 24), 3)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"default_dispute_code": "weather"}, "is not one of the dispute codes"),
        ({"risk_weights": {"E": "0"}}, "must be above 0"),
        ({"collector_rules": [{"collector": "x", "min_overdue": "10", "max_overdue": "5"}]},
         "is not above min_overdue"),
        ({"collector_rules": [{"collector": "x", "countries": ["de"]}]}, "is not an ISO"),
        ({"dispute_codes": []}, "at least one code"),
    ],
)  # fmt: skip
def test_the_team_section_refuses_what_cannot_work(section, message):
    with pytest.raises(ValidationError, match=message):
        Team.model_validate(section)


def test_the_policy_diff_names_team_changes():
    new = Team.model_validate(
        {
            "collector_rules": [{"collector": "ann", "countries": ["AT"]}],
            "risk_weights": {"E": "3"},
            "dispute_escalate_after_days": 5,
        }
    )
    assert team_changes(TEAM, new) == [
        "collector rule 1: ann for countries AT; currencies EUR → ann for countries AT",
        "collector rule 2: bob for overdue from 1000 below 5000 → none",
        "collector rule 3: cid for ratings D, E → none",
        "default collector dee → none",
        "dispute escalate after days none → 5",
        "risk weight of rating E 2.5 → 3",
    ]
    assert team_changes(TEAM, TEAM) == []
