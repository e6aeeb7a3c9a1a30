"""Dunning profiles, courtesy reminders and minimum amounts: the pure rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from credit.domain.dunning import OpenItem
from credit.domain.dunning_profiles import (
    below_minimum,
    choose_profile,
    coming_due,
    courtesy_short_of,
    customer_templates,
    describe_profiles,
    dunning_schedule,
    has_profiles,
)
from credit.domain.policy import PolicyBody
from credit.domain.policy_diff import diff_policies
from credit.domain.policy_dunning_profiles import Courtesy

AS_OF = date(2027, 3, 5)
LEVEL = {"label": "L", "template": "dunning_reminder"}


def with_profiles(policy: PolicyBody, section: dict) -> PolicyBody:
    return PolicyBody.model_validate({**policy.model_dump(), "dunning_profiles": section})


SECTION = {
    "default": "standard",
    "profiles": {
        "key_accounts": {
            "courtesy": {"days_before_due": 5, "min_amount": {"EUR": "100.00"}},
            "levels": [
                {"level": 1, "name": "reminder", "days": 7, **LEVEL},
                {"level": 2, "name": "second", "days": 21, "min_amount": {"EUR": "50.00"},
                 **LEVEL},
            ],
        },
        "public_sector": {},  # the policy's dunning.levels under another name
        "do_not_dun": {"dun": False},
    },
    "rules": [
        {"profile": "do_not_dun", "country": ["AT"], "segment": ["public"]},
        {"profile": "public_sector", "segment": ["public"]},
        {"profile": "key_accounts", "rating": ["A", "B"]},
    ],
}  # fmt: skip


@pytest.fixture
def profiled(policy: PolicyBody) -> PolicyBody:
    return with_profiles(policy, SECTION)


def test_a_policy_without_profiles_is_one_schedule_named_by_nobody(policy: PolicyBody):
    policy = with_profiles(policy, {})
    assert not has_profiles(policy)
    schedule = dunning_schedule(policy, None)
    assert (schedule.profile, schedule.dun, schedule.policy) == (None, True, policy)
    assert describe_profiles(policy) == []


@pytest.mark.parametrize(
    ("country", "rating", "segment", "assigned", "expected"),
    [
        ("AT", "A", "public", None, ("do_not_dun", "rule 1 (country AT; segment public)")),
        ("DE", "A", "public", None, ("public_sector", "rule 2 (segment public)")),
        ("DE", "B", None, None, ("key_accounts", "rule 3 (rating A, B)")),
        ("DE", "D", None, None, ("standard", "the default")),
        ("DE", None, None, None, ("standard", "the default")),
        ("AT", "A", "public", "standard", ("standard", "assigned to the customer")),
        ("DE", "D", None, "gone", ("standard", "its assigned profile gone is not in this "
                                               "policy; the default")),
    ],
)  # fmt: skip
def test_assignment_first_then_the_first_matching_rule_then_the_default(
    profiled, country, rating, segment, assigned, expected
):
    got = choose_profile(
        profiled, country=country, rating=rating, segment=segment, assigned=assigned
    )
    assert got == expected


def test_a_schedule_is_the_policy_with_the_profiles_levels(profiled: PolicyBody):
    key = dunning_schedule(profiled, "key_accounts")
    assert [lv.days for lv in key.policy.dunning.levels] == [7, 21]
    assert key.courtesy is not None and key.courtesy.days_before_due == 5
    assert key.policy.dunning.tolerance == profiled.dunning.tolerance
    assert profiled.dunning.levels != key.policy.dunning.levels  # the policy itself is unchanged
    public = dunning_schedule(profiled, "public_sector")
    assert public.policy.dunning.levels == profiled.dunning.levels
    assert dunning_schedule(profiled, "standard").policy is profiled
    off = dunning_schedule(profiled, "do_not_dun")
    assert (off.profile, off.dun) == ("do_not_dun", False)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"default": "vip"}, "default names profile 'vip'"),
        ({"rules": [{"profile": "vip", "country": ["DE"]}]}, "a rule names profile 'vip'"),
        ({"rules": [{"profile": "standard"}]}, "names no country, rating or segment"),
        ({"rules": [{"profile": "standard", "rating": ["Z"]}]}, "unknown ratings ['Z']"),
        ({"profiles": {"x": {"dun": False, "courtesy": {"days_before_due": 3}}}},
         "dun: false has no levels"),
        ({"profiles": {"x": {"levels": [{"level": 2, "name": "a", "days": 1, **LEVEL}]}}},
         "numbered 1, 2, 3"),
        ({"profiles": {"x": {"levels": [{"level": 1, "name": "a", "days": 1,
                                         "min_amount": {"EUR": "-5"}, **LEVEL}]}}},
         "min_amount -5 EUR must be positive"),
        ({"profiles": {"x": {"courtesy": {"days_before_due": 0}}}}, "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_a_profiles_section_that_does_not_hold_together_is_refused(policy, section, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        with_profiles(policy, section)


def test_a_level_waits_below_its_minimum_in_that_currency(profiled: PolicyBody):
    second = dunning_schedule(profiled, "key_accounts").policy.dunning_level(2)
    assert below_minimum(second, "EUR", Decimal("30.00")) == (
        "level 2 waits: 30.00 EUR overdue is below its minimum 50.00 EUR"
    )
    assert below_minimum(second, "EUR", Decimal("50.00")) is None
    assert below_minimum(second, "USD", Decimal("1.00")) is None  # no minimum in USD


def test_a_courtesy_reminder_is_about_undisputed_open_invoices_coming_due():
    items = [
        OpenItem("DUE-TODAY", AS_OF, Decimal("10")),
        OpenItem("IN-5", date(2027, 3, 10), Decimal("60")),
        OpenItem("IN-1", date(2027, 3, 6), Decimal("50")),
        OpenItem("IN-6", date(2027, 3, 11), Decimal("10")),
        OpenItem("DISPUTED", date(2027, 3, 8), Decimal("10"), disputed=True),
        OpenItem("PAID", date(2027, 3, 8), Decimal("0")),
        OpenItem("FEE", date(2027, 3, 8), Decimal("40"), kind="fee"),
        OpenItem("CN", date(2027, 3, 8), Decimal("-20"), kind="credit_note"),
    ]
    courtesy = Courtesy(days_before_due=5, min_amount={"EUR": Decimal("100.00")})
    coming = coming_due(items, AS_OF, courtesy)
    assert [i.number for i in coming] == ["IN-1", "IN-5"]
    assert courtesy_short_of(courtesy, "EUR", coming) is None
    assert courtesy_short_of(courtesy, "EUR", coming[:1]) == (
        "courtesy reminder waits: 50.00 EUR coming due is below its minimum 100.00 EUR"
    )


def test_policy_show_and_the_templates_cover_every_profile(profiled: PolicyBody):
    shown = {p["profile"]: p for p in describe_profiles(profiled)}
    assert list(shown) == ["standard", "key_accounts", "public_sector", "do_not_dun"]
    assert shown["standard"]["applies_to"] == "everyone else (default)"
    assert shown["key_accounts"]["applies_to"] == "rule 3: rating A, B"
    assert shown["key_accounts"]["levels"] == (
        "1 reminder (7 days after the due date); 2 second (21 days after the due date; from "
        "50.00 EUR)"
    )
    assert (
        shown["key_accounts"]["courtesy"] == "5 days before due (dunning_courtesy), from 100.00 EUR"
    )
    assert shown["do_not_dun"]["levels"] == "not dunned"
    assert (
        customer_templates(profiled)["dunning_courtesy"]
        == "profile key_accounts: courtesy reminder"
    )


def test_the_policy_diff_names_what_changes_in_the_profiles(policy: PolicyBody, profiled):
    assert [str(c) for c in diff_policies(with_profiles(policy, {}), profiled)] == [
        "dunning profiles: profile do_not_dun added: not dunned",
        "dunning profiles: profile key_accounts added: 2 levels of its own",
        "dunning profiles: profile public_sector added: the dunning levels",
        "dunning profiles: rule 1: none ⇒ country AT; segment public → do_not_dun",
        "dunning profiles: rule 2: none ⇒ segment public → public_sector",
        "dunning profiles: rule 3: none ⇒ rating A, B → key_accounts",
    ]
    section = {**SECTION, "default": "public_sector", "rules": SECTION["rules"][1:]}
    section["profiles"] = {**SECTION["profiles"], "do_not_dun": None}
    del section["profiles"]["do_not_dun"]
    key = section["profiles"]["key_accounts"]
    section["profiles"]["key_accounts"] = {
        "courtesy": {"days_before_due": 3},
        "levels": [key["levels"][0], {**key["levels"][1], "days": 28, "min_amount": {}}],
    }
    changed = with_profiles(policy, section)
    assert [c.text for c in diff_policies(profiled, changed)] == [
        "default profile standard → public_sector",
        "profile do_not_dun removed",
        "key_accounts: courtesy reminder 5 days before due, from EUR 100.00 → 3 days before due",
        "key_accounts: level 2 (second): days 21 → 28",
        "key_accounts: level 2 (second): min amount EUR 50.00 → none",
        "rule 1: country AT; segment public → do_not_dun ⇒ segment public → public_sector",
        "rule 2: segment public → public_sector ⇒ rating A, B → key_accounts",
        "rule 3: rating A, B → key_accounts ⇒ none",
    ]
