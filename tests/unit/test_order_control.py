"""Order control's rules: when a release covers an order, when an exemption is in force, who may
exempt a customer and how far ahead."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml

from credit.domain.directory import Approver
from credit.domain.order_control import (
    Exemption,
    Release,
    exemption_in_force,
    exemption_line,
    exemption_note,
    exemption_refusals,
    exemption_until_refusal,
    release_covers,
    released_line,
)
from credit.domain.policy import PolicyBody
from credit.resources import resource_dir

POLICY = PolicyBody.model_validate(
    yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
)
D = date(2027, 3, 1)


def release(**kw) -> Release:
    fields = dict(
        id=7, order_ref="SO-1", amount=Decimal("1000.00"), currency="EUR", status="approved",
        decided_on=D, approved_by="carla.manager", valid_until=date(2027, 3, 8), used_on=None,
    )  # fmt: skip
    return Release(**{**fields, **kw})


@pytest.mark.parametrize(
    ("kw", "amount", "currency", "on", "why"),
    [
        ({}, "1000.00", "EUR", D, None),
        ({}, "999.99", "EUR", date(2027, 3, 8), None),  # its last day
        ({}, "1000.01", "EUR", D, "release 7 of order SO-1 covers up to EUR 1,000.00; this "
                                  "order is EUR 1,000.01"),
        ({}, "1000.00", "USD", D, "release 7 of order SO-1 is in EUR; this order is in USD"),
        ({}, "1000.00", "EUR", date(2027, 3, 9), "release 7 of order SO-1 expired on 2027-03-08"),
        ({}, "1000.00", "EUR", date(2027, 2, 28),
         "release 7 of order SO-1 was not approved by 2027-02-28"),
        ({"status": "used", "used_on": D}, "1.00", "EUR", D,
         "release 7 of order SO-1 was used on 2027-03-01 (a release is used once)"),
        ({"status": "in_approval", "decided_on": None, "valid_until": None}, "1.00", "EUR", D,
         "release 7 of order SO-1 awaits approval"),
        ({"status": "rejected"}, "1.00", "EUR", D, "release 7 of order SO-1 was rejected"),
    ],
)  # fmt: skip
def test_a_release_covers_its_order_once_up_to_its_amount_until_it_expires(
    kw, amount, currency, on, why
):
    assert release_covers(release(**kw), amount=Decimal(amount), currency=currency, as_of=on) == why


def test_a_used_release_says_who_released_it_when():
    assert released_line(release()) == "released by carla.manager on 2027-03-01 (approval 7)"


def exemption(**kw) -> Exemption:
    fields = dict(
        id=1, basis="letter_of_credit", valid_from=D, valid_until=date(2027, 3, 10),
        granted_by="carla.manager", revoked_on=None, revoked_by=None,
    )  # fmt: skip
    return Exemption(**{**fields, **kw})


def test_an_exemption_is_in_force_from_its_first_to_its_last_day_unless_revoked():
    e = exemption()
    assert [exemption_in_force(e, date(2027, 3, d)) for d in (1, 10, 11)] == [True, True, False]
    assert not exemption_in_force(e, date(2027, 2, 28))
    assert exemption_line(e) == "exempt until 2027-03-10 (letter of credit, by carla.manager)"
    assert exemption_note(e, date(2027, 3, 10)) is None
    assert exemption_note(e, date(2027, 3, 11)) == (
        "exemption (letter of credit, by carla.manager) expired on 2027-03-10"
    )
    revoked = exemption(revoked_on=date(2027, 3, 5), revoked_by="ben.manager")
    assert exemption_in_force(revoked, date(2027, 3, 4))
    assert not exemption_in_force(revoked, date(2027, 3, 5))
    assert exemption_note(revoked, date(2027, 3, 5)) == (
        "exemption (letter of credit, by carla.manager) revoked on 2027-03-05 by ben.manager"
    )


def person(username: str, roles: list[str], authority: str) -> Approver:
    return Approver(
        username=username, name=username, email=f"{username}@example.com", roles=roles,
        authority_limit=Decimal(authority),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("who", "limit", "known", "refused"),
    [
        (person("carla", ["credit_manager"], "50000"), Decimal("50000"), True, ""),
        (person("carla", ["credit_manager"], "50000"), None, True, ""),  # no line
        (person("jun", ["credit_manager"], "10000"), Decimal("30000"), True,
         "jun's authority limit 10,000.00 is below the customer's credit limit 30,000.00 EUR"),
        (person("cora", ["collector"], "0"), None, True, "cora holds none of the authority"),
        (person("carla", ["credit_manager"], "50000"), None, False,
         "the customer's limit cannot be valued in EUR (no exchange rate): only the top level "
         "(cfo)"),
        (person("victor", ["cfo"], "5000000"), None, False, ""),
    ],
)  # fmt: skip
def test_exempting_a_customer_takes_the_authority_for_its_credit_limit(who, limit, known, refused):
    got = exemption_refusals(who, policy=POLICY, limit=limit, limit_known=known)
    assert (got[0][: len(refused)] if got else "") == refused


def test_an_exemption_ends_today_or_later_and_within_the_policy_s_reach():
    assert exemption_until_refusal(D, as_of=D, max_days=366) is None
    assert exemption_until_refusal(date(2028, 3, 1), as_of=D, max_days=366) is None
    assert exemption_until_refusal(date(2028, 3, 2), as_of=D, max_days=366) == (
        "the end date 2028-03-02 is more than 366 days ahead (the policy's "
        "orders.max_exemption_days)"
    )
    assert exemption_until_refusal(date(2027, 2, 28), as_of=D, max_days=366) == (
        "the end date 2027-02-28 is before today (2027-03-01)"
    )
