"""The credit policy document: its schema, validated whenever a policy is loaded."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from credit.domain.money import decimal_exponent
from credit.domain.policy_dunning_profiles import (
    STANDARD,
    Courtesy,
    ProfileRule,
    check_amounts,
    check_schedule,
)
from credit.domain.policy_groups import Limits
from credit.domain.policy_plans import Plans
from credit.domain.policy_team import Team


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MissingData(StrEnum):
    NEUTRAL = "neutral"
    PENALTY = "penalty"
    CANNOT_RATE = "cannot_rate"


Severity = Literal["low", "medium", "high"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high")  # mildest first
Condition = Literal["guarantee", "deposit", "prepayment"]


class Band(_Strict):
    """A value in [min, max) earns ``points``; an open end is written by leaving it out."""

    min: Decimal | None = None
    max: Decimal | None = None
    points: Decimal = Field(ge=0, le=100)

    def contains(self, value: Decimal) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value < self.max)


Metric = Literal[
    "on_time_payment_ratio",
    "avg_days_beyond_terms",
    "dso",
    "current_ratio",
    "debt_ratio",
    "net_margin",
    "operating_cash_flow_ratio",
    "revenue",
    "years_registered",
]
METRICS: tuple[str, ...] = get_args(Metric)


class Factor(_Strict):
    name: str
    label: str
    metric: Metric
    weight: Decimal = Field(gt=0, le=1)
    missing: MissingData = MissingData.NEUTRAL
    bands: list[Band] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands_cover_every_value_once(self) -> Factor:
        """Bands run from an open lowest band to an open highest band without gaps or overlaps,
        so every value has exactly one band."""
        ordered = sorted(self.bands, key=lambda b: (b.min is not None, b.min or 0))
        if ordered[0].min is not None or ordered[-1].max is not None:
            raise ValueError(
                f"factor {self.name}: the lowest band needs no min and the highest no max"
            )
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            if lower.max is None or upper.min is None or lower.max > upper.min:
                raise ValueError(f"factor {self.name}: bands overlap around {upper.min}")
            if lower.max < upper.min:
                raise ValueError(
                    f"factor {self.name}: no band covers values from {lower.max} to {upper.min}"
                )
        return self


class QualitativeFactor(_Strict):
    """A matter of expert judgement the analyst rates 0-100 (e.g. market position)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    question: str
    weight: Decimal = Field(gt=0, le=1)


class Qualitative(_Strict):
    """The human step of research: who is asked, by when, and how long a rating stays usable."""

    weight: Decimal = Field(default=Decimal(0), ge=0, le=1)
    factors: list[QualitativeFactor] = []
    due_hours: int = Field(default=48, ge=1)
    reuse_months: int = Field(default=0, ge=0)  # scheduled re-reviews reuse a rating this recent

    @model_validator(mode="after")
    def _factors_when_weighted(self) -> Qualitative:
        if self.weight > 0:
            total = sum((f.weight for f in self.factors), Decimal(0))
            if not self.factors or total != 1:
                raise ValueError(f"qualitative factor weights add up to {total}, not 1")
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names):
            raise ValueError("qualitative factor names repeat")
        return self


class Scorecard(_Strict):
    """Quantitative factors (banded, weighted) and the qualitative part, combined by weight."""

    neutral_points: Decimal = Field(default=Decimal(50), ge=0, le=100)
    penalty_points: Decimal = Field(default=Decimal(0), ge=0, le=100)
    quantitative_weight: Decimal = Field(default=Decimal(1), ge=0, le=1)
    factors: list[Factor] = Field(min_length=1)
    qualitative: Qualitative = Qualitative()

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Scorecard:
        total = sum((f.weight for f in self.factors), Decimal(0))
        if total != 1:
            raise ValueError(f"scorecard factor weights add up to {total}, not 1")
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names):
            raise ValueError("scorecard factor names repeat")
        parts = self.quantitative_weight + self.qualitative.weight
        if parts != 1:
            raise ValueError(
                f"quantitative_weight {self.quantitative_weight} + qualitative.weight "
                f"{self.qualitative.weight} = {parts}, not 1"
            )
        return self


class LimitRule(_Strict):
    """Limit = the smallest of: share of equity, share of revenue, cap (all in base currency)."""

    share_of_equity: Decimal = Field(ge=0, le=1)
    share_of_revenue: Decimal = Field(ge=0, le=1)
    cap: Decimal = Field(ge=0)


class ReviewFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "yearly": 12}[self.value]


class Rating(_Strict):
    grade: str = Field(min_length=1, max_length=3)
    min_score: Decimal = Field(ge=0, le=100)
    description: str
    limit: LimitRule
    terms_days: int = Field(ge=0, le=365)
    conditions: list[Condition] = []
    review: ReviewFrequency


class AuthorityLevel(_Strict):
    """Level ``level`` is needed when the amount exceeds the previous level's ``up_to``."""

    level: int = Field(ge=1)
    role: str
    up_to: Decimal | None = None  # None: no upper bound (the last level)


class Authority(_Strict):
    levels: list[AuthorityLevel] = Field(min_length=1)
    extra_level_for_ratings: list[str] = []
    extra_level_above_recommendation: bool = True
    extra_level_for_increase_over: Decimal | None = Field(default=None, gt=0)  # e.g. 0.5 = +50%
    step_due_hours: int = Field(default=48, ge=1)

    @model_validator(mode="after")
    def _levels_ascend(self) -> Authority:
        numbers = [lv.level for lv in self.levels]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("authority levels must be numbered 1, 2, 3, ... in order")
        bounds = [lv.up_to for lv in self.levels]
        if any(b is None for b in bounds[:-1]) or bounds[-1] is not None:
            raise ValueError("only the last authority level has no upper bound ('up_to')")
        finite = [b for b in bounds if b is not None]
        if finite != sorted(finite) or len(set(finite)) != len(finite):
            raise ValueError("authority levels' 'up_to' amounts must ascend")
        return self


class PolicyChange(_Strict):
    """Who must approve a new policy version: every listed role, as a committee."""

    approver_roles: list[str] = Field(min_length=1)
    # When this version is published, existing credit lines are re-reviewed at once instead of
    # keeping their terms until their next review date.
    rereview_on_publish: bool = False


class DunningAction(StrEnum):
    NONE = "none"
    CHARGE = "charge"  # add the level's late fee and/or interest as separate charges
    CREDIT_HOLD = "credit_hold"
    HANDOVER = "handover"


class DunningTrigger(StrEnum):
    AFTER_DUE = "after_due"  # ``days`` after the item's due date (each item climbs on its own)
    AFTER_PREVIOUS = "after_previous"  # ``days`` after the previous level was sent
    END_OF_MONTH = "end_of_month"  # the last day of the month ``days`` after the due date


class DunningChannel(StrEnum):
    EMAIL = "email"
    LETTER = "letter"  # a printable (PDF-ready) HTML letter for the post room
    CALL = "call"  # a call task on the collections team's worklist


class DunningLevel(_Strict):
    level: int = Field(ge=1)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    trigger: DunningTrigger = DunningTrigger.AFTER_DUE
    days: int = Field(ge=0)
    channel: DunningChannel = DunningChannel.EMAIL
    template: str
    action: DunningAction = DunningAction.NONE
    # A flat late fee per currency (currencies not listed get none) and whether to charge
    # interest at the policy's annual rate; only with action "charge".
    fee: dict[str, Decimal] = {}
    interest: bool = False
    pay_within_days: int = Field(default=7, ge=0, le=90)  # the notice asks for payment by then
    # The customer's statement of account (every open item and credit) goes with the notice as a
    # second PDF.
    attach_statement: bool = False
    # Below this overdue total (per currency; currencies not listed: none) the level waits.
    min_amount: dict[str, Decimal] = {}

    @model_validator(mode="before")
    @classmethod
    def _days_overdue_is_after_due(cls, data: object) -> object:
        """Policies written before triggers existed say ``days_overdue: N``."""
        if isinstance(data, dict) and "days_overdue" in data:
            data = dict(data)
            if "days" in data:
                raise ValueError("give either days_overdue or trigger and days, not both")
            data["days"] = data.pop("days_overdue")
            data.setdefault("trigger", DunningTrigger.AFTER_DUE)
        return data

    @field_validator("fee")
    @classmethod
    def _fees(cls, fee: dict[str, Decimal]) -> dict[str, Decimal]:
        for cur, amount in fee.items():
            if not re.fullmatch(r"[A-Z]{3}", cur):
                raise ValueError(f"fee currency {cur!r} is not an ISO 4217 code")
            if amount <= 0 or decimal_exponent(amount) < -2:
                raise ValueError(f"fee {amount} {cur} must be positive with at most 2 decimals")
        return fee

    @field_validator("min_amount")
    @classmethod
    def _min_amounts(cls, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_amounts(amounts, "min_amount")

    @model_validator(mode="after")
    def _charge_says_what(self) -> DunningLevel:
        charges = bool(self.fee) or self.interest
        if self.action == DunningAction.CHARGE and not charges:
            raise ValueError(f"level {self.level}: action charge needs a fee or interest: true")
        if self.action != DunningAction.CHARGE and charges:
            raise ValueError(f"level {self.level}: fee and interest need action: charge")
        if self.attach_statement and self.channel == DunningChannel.CALL:
            raise ValueError(
                f"level {self.level}: attach_statement needs a letter or an e-mail, not a call"
            )
        return self


class Orders(_Strict):
    """When ``credit orders check`` holds a new order besides the limit and an on-hold line."""

    max_days_overdue: int = Field(default=30, ge=0)  # oldest undisputed overdue invoice
    release_valid_days: int = Field(default=7, ge=1, le=90)  # an approved order release's life
    max_exemption_days: int = Field(default=366, ge=1, le=1830)  # how far an exemption may reach


class CashApplication(_Strict):
    """How close a payment matched by the payer's IBAN and its amount must come to the items it
    pays: within the smaller of ``tolerance`` (an amount, in the payment's currency) and
    ``tolerance_pct`` percent of the payment. Policies without the section get these defaults."""

    tolerance: Decimal = Field(default=Decimal("1.00"), ge=0, le=1000)
    tolerance_pct: Decimal = Field(default=Decimal("0.5"), ge=0, le=10)


class Dunning(_Strict):
    tolerance: Decimal = Field(ge=0)
    interest_annual_rate: Decimal | None = Field(default=None, gt=0, le=1)
    # However late a run catches up, two levels are at least this many days apart.
    min_days_between_levels: int = Field(default=0, ge=0, le=90)
    # A promise is judged this many days after its date (payments are imported with a lag);
    # promises may reach at most max_promise_days ahead.
    promise_grace_days: int = Field(default=0, ge=0, le=30)
    max_promise_days: int = Field(default=90, ge=1, le=366)
    levels: list[DunningLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _levels_ascend(self) -> Dunning:
        if [lv.level for lv in self.levels] != list(range(1, len(self.levels) + 1)):
            raise ValueError("dunning levels must be numbered 1, 2, 3, ... in order")
        if len({lv.name for lv in self.levels}) != len(self.levels):
            raise ValueError("dunning level names must be unique")
        after_due = [lv.days for lv in self.levels if lv.trigger == DunningTrigger.AFTER_DUE]
        if after_due != sorted(after_due) or len(set(after_due)) != len(after_due):
            raise ValueError("the days of the after_due dunning levels must strictly ascend")
        if self.interest_annual_rate is None and any(lv.interest for lv in self.levels):
            raise ValueError("a level charges interest but dunning.interest_annual_rate is not set")
        return self


class DunningProfile(_Strict):
    """A dunning schedule: its own ``levels`` (left out: the policy's ``dunning.levels``) or
    ``dun: false`` (never dunned), and an optional courtesy reminder before the due date."""

    dun: bool = True
    levels: list[DunningLevel] | None = Field(default=None, min_length=1)
    courtesy: Courtesy | None = None

    @model_validator(mode="after")
    def _schedule(self) -> DunningProfile:
        if not self.dun and (self.levels is not None or self.courtesy is not None):
            raise ValueError("a profile with dun: false has no levels and no courtesy reminder")
        if self.levels is not None:
            check_schedule(self.levels)
        return self


class DunningProfiles(_Strict):
    """Several dunning schedules, assigned per customer (explicitly, else by the first matching
    rule, else ``default``). ``standard`` is the policy's ``dunning.levels`` unless redefined."""

    default: str = Field(default=STANDARD, pattern=r"^[a-z][a-z0-9_]*$")
    profiles: dict[str, DunningProfile] = {}
    rules: list[ProfileRule] = []

    @model_validator(mode="after")
    def _known_profiles(self) -> DunningProfiles:
        known = {STANDARD, *self.profiles}
        for name in self.profiles:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"dunning profile name {name!r}: lower-case letters, digits, _")
        for what, name in [("default", self.default), *(("a rule", r.profile) for r in self.rules)]:
            if name not in known:
                raise ValueError(
                    f"dunning_profiles: {what} names profile {name!r}, not one of "
                    f"{', '.join(sorted(known))}"
                )
        return self


class SignalEffect(_Strict):
    """What a risk signal of one severity does to research's recommendation: the best rating
    the customer can get, a cut of the recommended limit (percent, applied after the cap) and
    conditions added to the rating's own."""

    max_rating: str | None = None
    limit_cut_pct: Decimal = Field(default=Decimal(0), ge=0, le=100)
    conditions: list[Condition] = []

    @property
    def does_something(self) -> bool:
        return self.max_rating is not None or self.limit_cut_pct > 0 or bool(self.conditions)


class RiskRules(_Strict):
    """When a warning sign in a customer's profile or ledger becomes a risk signal, and how severe.

    A high-severity signal alerts the credit team and flags the customer for re-review.
    ``effects`` say what the signals in force at research do to the rating and recommendation
    (policies without it: no effect). A signal is in force when research finds it itself, or
    when it was recorded earlier, detected within ``effects_lookback_days`` before the research
    date, and no completed review has answered it yet.
    """

    required_fields: list[
        Literal["email", "country", "tax_id", "registered_on", "sales_owner_email"]
    ] = [
        "email",
        "country",
        "tax_id",
    ]
    tax_id_patterns: dict[str, str] = {
        "DE": r"^DE[0-9]{9}$",
        "AT": r"^ATU[0-9]{8}$",
        "FR": r"^FR[0-9A-Z]{2}[0-9]{9}$",
        "NL": r"^NL[0-9]{9}B[0-9]{2}$",
        "IT": r"^IT[0-9]{11}$",
        "GB": r"^GB([0-9]{9}|[0-9]{12})$",
        "CH": r"^CHE[0-9]{9}$",
    }
    late_trend_window: int = Field(default=3, ge=1)  # invoices compared: last N vs the N before
    late_trend_days: Decimal = Field(default=Decimal(7), gt=0)
    late_trend_high_days: Decimal = Field(default=Decimal(20), gt=0)
    utilisation_threshold: Decimal = Field(default=Decimal("0.9"), gt=0)
    utilisation_high: Decimal = Field(default=Decimal("1.0"), gt=0)
    bounced_lookback_days: int = Field(default=180, ge=1)
    method_change_severity: Literal["low", "medium", "high"] = "medium"
    stale_statement_severity: Literal["low", "medium", "high"] = "medium"
    effects: dict[Severity, SignalEffect] = {}
    effects_lookback_days: int = Field(default=180, ge=1)

    @model_validator(mode="after")
    def _graver_is_not_milder(self) -> RiskRules:
        """A graver severity cuts at least as much as a milder one (rating caps are checked
        against the ratings in :class:`PolicyBody`)."""
        cuts = [(sev, self.effects[sev].limit_cut_pct) for sev in SEVERITIES if sev in self.effects]
        for (milder, low), (graver, high) in zip(cuts, cuts[1:], strict=False):
            if high < low:
                raise ValueError(
                    f"risk.effects: {graver} signals cut the limit by {high}%, less than "
                    f"{milder} ones ({low}%)"
                )
        return self

    @field_validator("tax_id_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for country, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"tax id pattern for {country} is not a regular expression: {exc}"
                ) from None
        return patterns


class PolicyBody(_Strict):
    """A whole credit policy version as written in ``config/policy.yaml``."""

    name: str
    base_currency: str = Field(pattern=r"^[A-Z]{3}$")
    max_statement_age_months: int = Field(ge=1)
    scorecard: Scorecard
    ratings: list[Rating] = Field(min_length=1)
    unrated: Rating
    authority: Authority
    policy_change: PolicyChange
    dunning: Dunning
    orders: Orders = Orders()
    risk: RiskRules = RiskRules()
    cash_application: CashApplication = CashApplication()
    team: Team = Team()  # collector rules, case priority weights, dispute codes
    plans: Plans = Plans()  # instalment plans and write-offs (credit.domain.policy_plans)
    limits: Limits = Limits()
    dunning_profiles: DunningProfiles = DunningProfiles()

    @field_validator("ratings")
    @classmethod
    def _ratings_descend(cls, ratings: list[Rating]) -> list[Rating]:
        scores = [r.min_score for r in ratings]
        if scores != sorted(scores, reverse=True) or len(set(scores)) != len(scores):
            raise ValueError("ratings must be listed best first with strictly falling min_score")
        if scores[-1] != 0:
            raise ValueError("the last rating must start at min_score 0 so every score is rated")
        return ratings

    @model_validator(mode="after")
    def _effects_cap_to_known_ratings(self) -> PolicyBody:
        """Every ``risk.effects`` cap names a grade of ``ratings``, and a graver severity caps at
        the same grade or a worse one than a milder severity."""
        grades = [r.grade for r in self.ratings]
        caps: list[tuple[str, int]] = []
        for sev in SEVERITIES:
            effect = self.risk.effects.get(sev)
            if effect is None or effect.max_rating is None:
                continue
            if effect.max_rating not in grades:
                raise ValueError(
                    f"risk.effects.{sev}.max_rating {effect.max_rating!r} is not one of the "
                    f"ratings ({', '.join(grades)})"
                )
            caps.append((sev, grades.index(effect.max_rating)))
        for (milder, low), (graver, high) in zip(caps, caps[1:], strict=False):
            if high < low:
                raise ValueError(
                    f"risk.effects: {graver} signals cap the rating at {grades[high]}, better "
                    f"than {milder} ones ({grades[low]})"
                )
        return self

    @model_validator(mode="after")
    def _profiles_fit(self) -> PolicyBody:
        """Profile rules name known ratings; a profile's interest needs the policy's rate."""
        grades = [r.grade for r in [*self.ratings, self.unrated]]
        for rule in self.dunning_profiles.rules:
            if unknown := sorted(set(rule.rating) - set(grades)):
                raise ValueError(f"dunning_profiles: a rule names unknown ratings {unknown}")
        for name, profile in self.dunning_profiles.profiles.items():
            if self.dunning.interest_annual_rate is None and any(
                lv.interest for lv in profile.levels or []
            ):
                raise ValueError(f"dunning profile {name} charges interest but no rate is set")
        return self

    def rating_rank(self, grade: str) -> int:
        """0 for the best rating, larger for worse ones; the unrated grade is the worst."""
        grades = [r.grade for r in self.ratings]
        return grades.index(grade) if grade in grades else len(grades)

    def rating(self, grade: str) -> Rating:
        for r in [*self.ratings, self.unrated]:
            if r.grade == grade:
                return r
        raise KeyError(grade)

    def dunning_level(self, level: int) -> DunningLevel:
        return self.dunning.levels[level - 1]
