"""Authority matrix and segregation of duties for approval decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from credit.domain.directory import Approver, Directory
from credit.domain.policy import AuthorityLevel, PolicyBody


@dataclass(frozen=True)
class RequiredStep:
    level: int
    role: str
    cap: Decimal | None  # the part of the amount this level answers for (None: all of it)
    reason: str


def required_steps(
    *,
    amount: Decimal,
    rating: str,
    above_recommendation: bool,
    policy: PolicyBody,
    unconverted_currency: str | None = None,
    current_limit: Decimal | None = None,
) -> list[RequiredStep]:
    """The approval chain for an amount: every level up to the first whose bound covers it.

    A rating listed in ``extra_level_for_ratings``, an amount above the policy's recommendation, or
    an increase beyond ``extra_level_for_increase_over`` of the current limit adds the next level up
    (when there is one): riskier credit needs more seniority.
    An amount in a currency other than the policy's base currency (no rates table yet) needs every
    level: the matrix never under-approves.
    """
    levels: list[AuthorityLevel] = policy.authority.levels
    if unconverted_currency is not None:
        # Without an exchange rate the amount cannot be placed in the matrix: every level decides.
        why = (
            f"amount in {unconverted_currency} without a rate to {policy.base_currency}: "
            "every level"
        )
        return [RequiredStep(lv.level, lv.role, lv.up_to, why) for lv in levels]
    chain: list[RequiredStep] = []
    for lv in levels:
        chain.append(
            RequiredStep(
                lv.level, lv.role, lv.up_to, f"amount {amount:,.2f} needs level {lv.level}"
            )
        )
        if lv.up_to is not None and amount <= lv.up_to:
            break
    extra = []
    if rating in policy.authority.extra_level_for_ratings:
        extra.append(f"rating {rating}")
    if above_recommendation and policy.authority.extra_level_above_recommendation:
        extra.append("amount above the policy's recommendation")
    increase = policy.authority.extra_level_for_increase_over
    if (
        increase is not None
        and current_limit is not None
        and current_limit > 0
        and amount > current_limit * (1 + increase)
    ):
        extra.append(
            f"an increase of more than {increase:.0%} over the current limit {current_limit:,.2f}"
        )
    if extra and len(chain) < len(levels):
        lv = levels[len(chain)]
        chain.append(RequiredStep(lv.level, lv.role, lv.up_to, "risk: " + " and ".join(extra)))
    return chain


def decision_refusals(  # noqa: PLR0913  # keyword-only; the approval services call it (a context record would change them)
    *,
    username: str,
    directory: Directory,
    step_role: str,
    step_cap: Decimal | None,
    amount: Decimal,
    requester: str,
    deciders_of_other_steps: set[str],
    analyst: str | None = None,
    acting_for: str | None = None,
    escalated_role: str | None = None,
) -> list[str]:
    """Every reason ``username`` may not decide this step; an empty list means they may.

    Four eyes: neither the requester nor the analyst who rated the customer decides, and nobody
    decides two levels. A delegate (``acting_for``) decides with the delegator's role and authority,
    never more, and the four-eyes rules hold for both of them. After an escalation to a higher role,
    a holder of that role may decide with their own authority.
    """
    person: Approver | None = directory.get(username)
    if person is None:
        return [f"{username!r} is not in the approver directory"]
    authority_of = person
    reasons = []
    deciders = [username]
    if acting_for is not None:
        delegator = directory.get(acting_for)
        if delegator is None or delegator.delegate != username:
            return [f"{username} is not the delegate of {acting_for}"]
        authority_of = delegator
        deciders.append(acting_for)
    for who in deciders:
        label = who if who == username else f"{who} (whom {username} stands in for)"
        if who == requester:
            reasons.append(f"{label} requested this and may not approve their own request")
        elif analyst and who == analyst:
            reasons.append(f"{label} rated this customer in the assessment and may not approve it")
        if who in deciders_of_other_steps:
            reasons.append(f"{label} already decided another level of this request")
    roles_ok = step_role in authority_of.roles or (
        acting_for is None and escalated_role is not None and escalated_role in person.roles
    )
    if not roles_ok:
        reasons.append(
            f"{authority_of.username} does not hold the role {step_role!r} this level requires"
        )
    needed = amount if step_cap is None else min(amount, step_cap)
    if authority_of.authority_limit < needed:
        whose = (
            f"{authority_of.username}'s"
            if acting_for is None
            else f"the delegated authority of {acting_for}"
        )
        reasons.append(
            f"{whose} authority limit {authority_of.authority_limit:,.2f} is below the "
            f"{needed:,.2f} this level answers for"
        )
    return reasons


def pick_approver(
    *,
    directory: Directory,
    role: str,
    cap: Decimal | None,
    amount: Decimal,
    requester: str,
    excluded: set[str],
    analyst: str | None = None,
    on: date | None = None,
) -> tuple[Approver, str | None] | None:
    """Whom to ask for a level: the first eligible holder of ``role`` (directory order) who is in
    the office; if the holders are away, an eligible delegate standing in for one of them.
    Returns (person, whom they stand in for or None)."""

    def ok(a: Approver, acting_for: str | None = None) -> bool:
        return not decision_refusals(
            username=a.username,
            directory=directory,
            step_role=role,
            step_cap=cap,
            amount=amount,
            requester=requester,
            deciders_of_other_steps=excluded,
            analyst=analyst,
            acting_for=acting_for,
        )

    holders = directory.holders(role)
    for a in holders:
        if ok(a) and not (on and a.away(on)):
            return a, None
    for a in holders:
        stand_in = directory.get(a.delegate) if a.delegate else None
        if stand_in is not None and not (on and stand_in.away(on)) and ok(stand_in, a.username):
            return stand_in, a.username
    for a in holders:  # everyone away and no stand-in: ask the holder; the sweeper escalates
        if ok(a):
            return a, None
    return None


# -- The statuses of what goes through approval (values as stored in the database) -----------


class Decision(StrEnum):
    """An approval step's decision."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RequestStatus(StrEnum):
    """A credit request's way through approval to publication."""

    IN_APPROVAL = "in_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"


class PolicyStatus(StrEnum):
    """A policy version's way from draft through the committee to publication and retirement."""

    DRAFT = "draft"
    IN_APPROVAL = "in_approval"
    PUBLISHED = "published"
    RETIRED = "retired"
    REJECTED = "rejected"
