"""Risk signals change the rating: the policy's ``risk.effects`` cap the rating, cut the
recommended limit and add conditions, and say so in lines an approver reads. Pure rules."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from credit.domain.money import fmt_money
from credit.domain.policy import PolicyBody
from credit.domain.policy_diff import diff_policies
from credit.domain.scoring import Recommendation, apply_signal_effects
from credit.domain.signals import InForce, Signal, StoredSignal, signals_in_force
from credit.resources import resource_dir

AS_OF = date(2026, 12, 10)
BODY = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
LIMITS = {"A": "500000", "B": "250000", "C": "100000", "D": "25000", "E": "0", "NR": "0"}


def policy_with(effects: dict | None, **risk) -> PolicyBody:
    body = copy.deepcopy(BODY)
    if effects is None:  # a version stored before effects existed
        body["risk"].pop("effects", None)
        body["risk"].pop("effects_lookback_days", None)
    else:
        body["risk"]["effects"] = effects
    body["risk"].update(risk)
    return PolicyBody.model_validate(body)


def recommend_for(policy: PolicyBody):
    def recommend(grade: str) -> Recommendation:
        rating = policy.rating(grade)
        return Recommendation(
            grade, Decimal(LIMITS[grade]), rating.terms_days, list(rating.conditions), 12, "cap"
        )

    return recommend


def sig(kind: str, severity: str, source: str = "research") -> InForce:
    return InForce(kind, severity, f"{kind} detail", f"{kind}:1", AS_OF, source)


SHIPPED = {
    "high": {"max_rating": "B", "limit_cut_pct": "50", "conditions": ["guarantee"]},
    "medium": {"max_rating": "B"},
}


def test_a_high_signal_caps_the_rating_cuts_the_limit_and_adds_its_condition():
    policy = policy_with(SHIPPED)
    rec, outcome = apply_signal_effects(
        "A", [sig("bounced_payment", "high")], policy, recommend_for(policy), "EUR"
    )
    assert (rec.rating, rec.limit, rec.terms_days) == ("B", Decimal("125000.00"), 45)
    assert rec.conditions == ["guarantee"]
    assert outcome.summary == (
        "rating A capped to B by high signal bounced_payment; limit cut 50%; "
        "condition added: guarantee"
    )
    assert outcome.lines[1] == (
        "limit cut 50% by high signal bounced_payment: EUR 250,000.00 → EUR 125,000.00"
    )
    assert (outcome.rating_before, outcome.limit_before) == ("A", Decimal("250000"))
    assert "less 50% for risk signals" in rec.basis


def test_a_rating_below_the_cap_keeps_its_grade_and_still_gets_the_cut_and_condition():
    policy = policy_with(SHIPPED)
    rec, outcome = apply_signal_effects(
        "C", [sig("identity", "high")], policy, recommend_for(policy), "EUR"
    )
    assert (rec.rating, rec.limit, rec.conditions) == ("C", Decimal("50000.00"), ["guarantee"])
    assert not any("capped" in line for line in outcome.lines)


def test_a_condition_the_rating_has_already_is_not_added_twice():
    policy = policy_with(SHIPPED)
    rec, outcome = apply_signal_effects(
        "D", [sig("identity", "high")], policy, recommend_for(policy), "EUR"
    )
    assert rec.conditions == ["guarantee"] and outcome.conditions_added == []


def test_the_gravest_cap_and_the_largest_cut_apply_once_and_every_condition_is_added():
    effects = {
        "high": {"max_rating": "C", "limit_cut_pct": "40", "conditions": ["guarantee"]},
        "medium": {"max_rating": "B", "limit_cut_pct": "20", "conditions": ["deposit"]},
    }
    policy = policy_with(effects)
    signals = [sig("bounced_payment", "high"), sig("late_trend", "medium"), sig("x", "medium")]
    rec, outcome = apply_signal_effects("A", signals, policy, recommend_for(policy), "EUR")
    assert rec.rating == "C" and rec.limit == Decimal("60000.00")  # 100,000 less 40%, not 52%
    assert rec.conditions == ["guarantee", "deposit"]
    assert outcome.lines == [
        "rating A capped to C by high signal bounced_payment",
        "limit cut 40% by high signal bounced_payment: EUR 100,000.00 → EUR 60,000.00",
        "condition added: guarantee (by high signal bounced_payment)",
        "condition added: deposit (by medium signals late_trend, x)",
    ]


def test_a_cut_limit_is_rounded_down_to_hundreds_in_the_currency_s_minor_units():
    policy = policy_with({"high": {"limit_cut_pct": "33"}})

    def recommend(grade: str) -> Recommendation:
        return Recommendation(grade, Decimal("12345"), 30, [], 3, "cap")

    rec, outcome = apply_signal_effects("C", [sig("identity", "high")], policy, recommend, "JPY")
    assert rec.limit == Decimal("8200.00")  # 12,345 x 0.67 = 8,271.15
    assert outcome.lines == ["limit cut 33% by high signal identity: JPY 12,345 → JPY 8,200"]


def test_signals_change_nothing_under_a_policy_without_effects_such_as_an_older_version():
    policy = policy_with(None)
    assert policy.risk.effects == {}
    rec, outcome = apply_signal_effects(
        "A", [sig("bounced_payment", "high")], policy, recommend_for(policy), "EUR"
    )
    assert (rec.rating, rec.limit, rec.conditions) == ("A", Decimal("500000"), [])
    assert outcome.lines == [] and outcome.summary == ""
    assert [s.kind for s in outcome.signals] == ["bounced_payment"]


def test_low_signals_have_no_effect_in_the_shipped_policy(policy):
    rec, outcome = apply_signal_effects(
        "A", [sig("payment_method_change", "low")], policy, recommend_for(policy), "EUR"
    )
    assert rec.rating == "A" and outcome.lines == []


def test_research_s_own_signals_and_open_ones_within_the_lookback_are_in_force():
    found = [Signal("bounced_payment", "high", "1 bounced", "bounced_payment:P1")]
    stored = [
        StoredSignal("broken_promise", "high", "promise broken", "broken_promise:7", AS_OF),
        StoredSignal(
            "limit_utilisation",
            "medium",
            "95%",
            "limit_utilisation:near:r1",
            AS_OF - timedelta(179),
        ),
        StoredSignal("late_trend", "medium", "old", "late_trend:I1", AS_OF - timedelta(181)),
        # recorded while the analyst was asked (the snapshot took it in when they answered)
        StoredSignal("identity", "high", "later", "identity:x", AS_OF + timedelta(1)),
    ]
    got = signals_in_force(found=found, open_signals=stored, as_of=AS_OF, lookback_days=180)
    assert [(s.kind, s.source) for s in got] == [
        ("bounced_payment", "research"),
        ("broken_promise", "open"),
        ("identity", "open"),
        ("limit_utilisation", "open"),
    ]
    assert got[3].detected_on == AS_OF - timedelta(179)


def test_one_signal_per_kind_counts_the_gravest_and_research_s_own_at_equal_severity():
    found = [Signal("late_trend", "medium", "now", "late_trend:I9")]
    stored = [
        StoredSignal("late_trend", "high", "earlier, steeper", "late_trend:I5", AS_OF),
        StoredSignal("bounced_payment", "high", "same one", "bounced_payment:P1", AS_OF),
    ]
    found.append(Signal("bounced_payment", "high", "same one", "bounced_payment:P1"))
    got = signals_in_force(found=found, open_signals=stored, as_of=AS_OF, lookback_days=180)
    assert [(s.kind, s.severity, s.source) for s in got] == [
        ("bounced_payment", "high", "research"),
        ("late_trend", "high", "open"),
    ]


@pytest.mark.parametrize(
    ("effects", "says"),
    [
        (
            {"high": {"max_rating": "Z"}},
            "risk.effects.high.max_rating 'Z' is not one of the ratings",
        ),
        ({"high": {"max_rating": "B"}, "medium": {"max_rating": "C"}}, "better than medium"),
        ({"high": {"limit_cut_pct": "10"}, "medium": {"limit_cut_pct": "20"}}, "less than medium"),
        ({"high": {"limit_cut_pct": "120"}}, "less than or equal to 100"),
        ({"high": {"conditions": ["bank_letter"]}}, "guarantee"),
        ({"severe": {"max_rating": "B"}}, "severe"),
    ],
)
def test_effects_are_validated_when_the_policy_loads(effects, says):
    with pytest.raises(ValidationError, match=says):
        policy_with(effects)


def test_the_shipped_policies_say_what_each_severity_does(policy):
    v2 = PolicyBody.model_validate(
        yaml.safe_load((resource_dir("sample_data") / "policy_v2.yaml").read_text())
    )
    for body in (policy, v2):
        high, medium = body.risk.effects["high"], body.risk.effects["medium"]
        assert (high.max_rating, high.limit_cut_pct, high.conditions) == (
            "B",
            Decimal(50),
            ["guarantee"],
        )
        assert medium.max_rating == "B" and "low" not in body.risk.effects


def test_the_policy_diff_names_what_changes_in_the_effects():
    old = policy_with(SHIPPED)
    new = policy_with(
        {
            "high": {"max_rating": "C", "limit_cut_pct": "60", "conditions": ["guarantee"]},
            "low": {"conditions": ["deposit"]},
        },
        effects_lookback_days=90,
    )
    assert [str(c) for c in diff_policies(old, new)] == [
        "risk: effects lookback days 180 → 90",
        "risk: high signals: rating cap B → C",
        "risk: high signals: limit cut 50% → 60%",
        "risk: medium signals: rating capped at B → no effect",
        "risk: low signals: no effect → conditions added: deposit",
    ]
    assert [str(c) for c in diff_policies(policy_with(None), old)] == [
        "risk: high signals: no effect → rating capped at B, limit cut 50%, conditions added: "
        "guarantee",
        "risk: medium signals: no effect → rating capped at B",
    ]


def test_money_is_written_in_the_currency_s_minor_units():
    assert fmt_money(Decimal("120000.0000"), "EUR") == "EUR 120,000.00"
    assert fmt_money(Decimal("1234567.5"), "JPY") == "JPY 1,234,568"
    assert fmt_money(Decimal("1.2345"), "KWD") == "KWD 1.235"
