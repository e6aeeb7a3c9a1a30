"""Authority matrix and segregation of duties for approval decisions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
) -> list[RequiredStep]:
    """The approval chain for an amount: every level up to the first whose bound covers it.

    A rating listed in ``extra_level_for_ratings`` or an amount above the policy's
    recommendation adds the next level up (when there is one): riskier credit needs more seniority.
    An amount in a currency other than the policy's base currency (no rates table yet) needs every
    level: the matrix never under-approves.
    """
    levels: list[AuthorityLevel] = policy.authority.levels
    if unconverted_currency is not None:
        # Without an exchange rate the amount cannot be placed in the matrix: every level decides.
        why = f"amount in {unconverted_currency} without a rate to {policy.base_currency}: every level"
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
    if extra and len(chain) < len(levels):
        lv = levels[len(chain)]
        chain.append(RequiredStep(lv.level, lv.role, lv.up_to, "risk: " + " and ".join(extra)))
    return chain


def decision_refusals(
    *,
    username: str,
    directory: Directory,
    step_role: str,
    step_cap: Decimal | None,
    amount: Decimal,
    requester: str,
    deciders_of_other_steps: set[str],
    analyst: str | None = None,
) -> list[str]:
    """Every reason ``username`` may not decide this step; an empty list means they may.

    Four eyes: neither the requester nor the analyst who rated the customer decides.
    """
    approver: Approver | None = directory.get(username)
    if approver is None:
        return [f"{username!r} is not in the approver directory"]
    reasons = []
    if username == requester:
        reasons.append(f"{username} requested this and may not approve their own request")
    if analyst and username == analyst and username != requester:
        reasons.append(f"{username} rated this customer in the assessment and may not approve it")
    if username in deciders_of_other_steps:
        reasons.append(f"{username} already decided another level of this request")
    if step_role not in approver.roles:
        reasons.append(f"{username} does not hold the role {step_role!r} this level requires")
    needed = amount if step_cap is None else min(amount, step_cap)
    if approver.authority_limit < needed:
        reasons.append(
            f"{username}'s authority limit {approver.authority_limit:,.2f} is below the "
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
) -> Approver | None:
    """The first eligible holder of ``role`` (directory order) to ask for a decision."""
    for a in directory.holders(role):
        if not decision_refusals(
            username=a.username,
            directory=directory,
            step_role=role,
            step_cap=cap,
            amount=amount,
            requester=requester,
            deciders_of_other_steps=excluded,
            analyst=analyst,
        ):
            return a
    return None
