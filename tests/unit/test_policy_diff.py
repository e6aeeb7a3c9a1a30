"""`credit policy diff`: what a policy version changes, in words a credit committee reads."""

from __future__ import annotations

import copy

import yaml

from credit.domain.policy import PolicyBody
from credit.domain.policy_diff import diff_policies
from credit.resources import resource_dir

BODY = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())


def changed(edit) -> list[str]:
    body = copy.deepcopy(BODY)
    edit(body)
    return [
        str(c)
        for c in diff_policies(PolicyBody.model_validate(BODY), PolicyBody.model_validate(body))
    ]


def test_the_same_policy_has_no_changes():
    assert changed(lambda b: None) == []


def test_weights_bands_ratings_authority_and_dunning_in_readable_terms():
    def edit(b):
        b["scorecard"]["factors"][0]["weight"] = "0.25"
        b["scorecard"]["factors"][1]["weight"] = "0.10"
        bands = b["scorecard"]["factors"][3]["bands"]
        bands[0]["min"], bands[1]["max"] = "2.5", "2.5"
        b["ratings"][1]["terms_days"] = 30
        b["ratings"][1]["min_score"] = "70"
        b["ratings"][2]["limit"]["cap"] = "80000"
        b["authority"]["levels"][1]["up_to"] = "200000"
        b["dunning"]["levels"][2]["days"] = 25
        b["dunning"]["levels"][2]["fee"]["EUR"] = "50.00"
        b["dunning"]["levels"].append(
            {"level": 6, "name": "legal", "label": "Legal action", "trigger": "after_previous",
             "days": 30, "channel": "letter", "template": "dunning_handover"}
        )  # fmt: skip
        b["dunning"]["tolerance"] = "25.00"

    assert changed(edit) == [
        "scorecard: factor 'On-time payment ratio': weight 20% → 25%",
        "scorecard: factor 'Average days beyond terms': weight 15% → 10%",
        "scorecard: factor 'Current ratio': bands [2, ∞) 100 pts; [1.5, 2) 80 pts; [1, 1.5) 50 pts;"
        " [-∞, 1) 10 pts → [2.5, ∞) 100 pts; [1.5, 2.5) 80 pts; [1, 1.5) 50 pts; [-∞, 1) 10 pts",
        "ratings: rating B: min score 65 → 70",
        "ratings: rating B: terms days 45 → 30",
        "ratings: rating C: limit cap 100,000 → 80,000",
        "authority: level 2: up to 250,000 → 200,000",
        "dunning: tolerance 10 → 25",
        "dunning: level 3 (final_demand): days 30 → 25",
        "dunning: level 3 (final_demand): fee EUR 40, USD 40, GBP 35, CHF 40 → EUR 50, USD 40, "
        "GBP 35, CHF 40",
        "dunning: level 6 (legal) added: after_previous 30 days, by letter, none",
    ]


def test_removed_factor_committee_and_risk_rules_are_named():
    def edit(b):
        b["policy_change"]["approver_roles"] = ["cfo"]
        b["risk"]["late_trend_days"] = "10"
        b["orders"]["max_days_overdue"] = 45
        b["orders"]["release_valid_days"] = 3

    assert changed(edit) == [
        "authority: policy committee finance_director, cfo → cfo",
        "orders: max days overdue 30 → 45",
        "orders: release valid days 7 → 3",
        "risk: late trend days 7 → 10",
    ]


def test_every_field_that_differs_produces_a_line():
    """Change each leaf of the policy (one at a time) and expect at least one line naming it."""
    import json

    def leaves(node, path=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from leaves(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from leaves(v, (*path, i))
        else:
            yield path, node

    base = PolicyBody.model_validate(BODY)
    dumped = json.loads(base.model_dump_json())
    silent = []
    for path, value in leaves(dumped):
        body = copy.deepcopy(dumped)
        target = body
        for key in path[:-1]:
            target = target[key]
        if isinstance(value, bool):
            target[path[-1]] = not value
        elif isinstance(value, str) and path[-1] in ("label", "question", "description", "name"):
            target[path[-1]] = value + " (revised)"
        else:
            continue  # numbers, enums and codes have validity rules; covered by the tests above
        try:
            new = PolicyBody.model_validate(body)
        except Exception:
            continue
        if not diff_policies(base, new):
            silent.append(".".join(map(str, path)))
    assert silent == []


def test_the_limits_section_how_long_a_temporary_limit_may_run_and_who_hears_of_its_end():
    def edit(b):
        b["limits"] = {"temporary_max_days": 90, "temporary_tell_customer": False}

    assert changed(edit) == [
        "limits: temporary max days 366 → 90",
        "limits: temporary tell customer yes → no",
    ]
