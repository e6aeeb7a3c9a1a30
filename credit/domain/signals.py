"""Risk signals: warning signs in a customer's profile and ledger, each with a severity."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from credit.domain.directory import EMAIL_PATTERN
from credit.domain.policy import RiskRules, Severity
from credit.domain.records import PaymentStatus, RawDocument, RawPayment
from credit.domain.words import counted

SEVERITY_ORDER: dict[Severity, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Profile:
    email: str | None
    country: str | None
    tax_id: str | None
    registered_on: date | None
    sales_owner_email: str | None


@dataclass(frozen=True)
class Signal:
    kind: str
    severity: Severity
    detail: str
    key: str  # what makes this occurrence the same signal on a later scan

    @property
    def high(self) -> bool:
        return self.severity == "high"


def identity_signals(profile: Profile, rules: RiskRules) -> list[Signal]:
    """Required fields present and well formed (email, country, tax id by country)."""
    problems = []
    for name in rules.required_fields:
        if getattr(profile, name) in (None, ""):
            problems.append(f"{name} missing")
    if profile.email and not re.fullmatch(EMAIL_PATTERN, profile.email):
        problems.append(f"email {profile.email!r} malformed")
    if profile.country and not re.fullmatch(r"[A-Z]{2}", profile.country):
        problems.append(f"country {profile.country!r} is not an ISO code")
    if profile.tax_id and profile.country in rules.tax_id_patterns:
        compact = profile.tax_id.replace(" ", "").upper()
        if not re.fullmatch(rules.tax_id_patterns[profile.country], compact):
            problems.append(
                f"tax id {profile.tax_id!r} does not match the {profile.country} format"
            )
    if not problems:
        return []
    detail = "identity check failed: " + "; ".join(problems)
    return [Signal("identity", "high", detail, "identity:" + "|".join(sorted(problems)))]


def late_trend_signal(documents: list[RawDocument], rules: RiskRules, as_of: date) -> Signal | None:
    """Average days late of the last N invoices that were paid or are overdue, against the N before
    them (ordered by due date; an unpaid overdue invoice counts its days overdue so far)."""
    relevant = sorted(
        (
            d
            for d in documents
            if d.amount > 0
            and ((d.paid_on and d.paid_on <= as_of) or (not d.paid_on and d.due_date < as_of))
        ),
        key=lambda d: (d.due_date, d.number),
    )
    n = rules.late_trend_window
    if len(relevant) < 2 * n:
        return None

    def late(d: RawDocument) -> int:
        paid = d.paid_on if d.paid_on and d.paid_on <= as_of else as_of
        return max(0, (paid - d.due_date).days)

    before = Decimal(sum(late(d) for d in relevant[-2 * n : -n])) / n
    recent = Decimal(sum(late(d) for d in relevant[-n:])) / n
    rise = recent - before
    if rise < rules.late_trend_days:
        return None
    severity: Severity = "high" if rise >= rules.late_trend_high_days else "medium"
    return Signal(
        "late_trend",
        severity,
        f"days late rising: last {n} invoices average {recent:.1f} days late, the {n} before "
        f"{before:.1f}",
        f"late_trend:{relevant[-1].number}",
    )


def method_change_signal(
    payments: list[RawPayment], rules: RiskRules, as_of: date
) -> Signal | None:
    """The latest payment came by another method than the customer's usual one."""
    received = sorted(
        (p for p in payments if p.paid_on <= as_of and p.status == PaymentStatus.RECEIVED),
        key=lambda p: (p.paid_on, p.reference),
    )
    if len(received) < 3:
        return None
    usual, _ = Counter(p.method for p in received[:-1]).most_common(1)[0]
    last = received[-1]
    if last.method == usual:
        return None
    return Signal(
        "payment_method_change",
        rules.method_change_severity,
        f"payment {last.reference} on {last.paid_on.isoformat()} by {last.method}; usually {usual}",
        f"payment_method_change:{last.reference}",
    )


def bounced_signal(payments: list[RawPayment], rules: RiskRules, as_of: date) -> Signal | None:
    since = as_of - timedelta(days=rules.bounced_lookback_days)
    bounced = sorted(
        (p for p in payments if p.status == PaymentStatus.BOUNCED and since <= p.paid_on <= as_of),
        key=lambda p: p.paid_on,
    )
    if not bounced:
        return None
    refs = ", ".join(p.reference for p in bounced)
    return Signal(
        "bounced_payment",
        "high",
        f"{counted(len(bounced), 'bounced payment')} since {since.isoformat()}: {refs}",
        f"bounced_payment:{bounced[-1].reference}",
    )


def utilisation_signal(
    exposure: Decimal,
    limit: Decimal | None,
    rules: RiskRules,
    as_of: date,  # noqa: ARG001  # every signal rule takes the date; exposure is as of it already
    *,
    line_ref: str = "",
) -> Signal | None:
    """Open receivables against the credit limit."""
    if limit is None or limit <= 0 or exposure <= 0:
        return None
    used = exposure / limit
    if used < rules.utilisation_threshold:
        return None
    severity: Severity = "high" if used >= rules.utilisation_high else "medium"
    band = "over" if used >= 1 else "near"
    return Signal(
        "limit_utilisation",
        severity,
        f"{used:.0%} of the credit limit used ({exposure:,.2f} of {limit:,.2f})",
        f"limit_utilisation:{band}:{line_ref}",
    )


def group_limit_signal(
    code: str, exposure: Decimal, limit: Decimal, currency: str
) -> Signal | None:
    """The customer's group (parent company) owes more than the group limit: medium (the
    customer's own line may still have room; the group's does not)."""
    if exposure <= limit:
        return None
    return Signal(
        "group_over_limit",
        "medium",
        f"group {code} is over its limit: exposure {exposure:,.2f} of {limit:,.2f} {currency}",
        f"group_over_limit:{code}:{limit}",
    )


def scan(  # noqa: PLR0913  # keyword-only; research and the risk scan call it (a record would change them)
    *,
    profile: Profile,
    documents: list[RawDocument],
    payments: list[RawPayment],
    exposure: Decimal,
    limit: Decimal | None,
    stale_statement: str | None,
    rules: RiskRules,
    as_of: date,
    stale_key: str = "",
    line_ref: str = "",
) -> list[Signal]:
    """Every risk signal for a customer as of a date (broken promises come with promises to pay)."""
    found = identity_signals(profile, rules)
    for signal in (
        late_trend_signal(documents, rules, as_of),
        method_change_signal(payments, rules, as_of),
        bounced_signal(payments, rules, as_of),
        utilisation_signal(exposure, limit, rules, as_of, line_ref=line_ref),
    ):
        if signal is not None:
            found.append(signal)
    if stale_statement:
        found.append(
            Signal(
                "stale_financials",
                rules.stale_statement_severity,
                stale_statement,
                f"stale_financials:{stale_key or stale_statement[:40]}",
            )
        )
    return sorted(found, key=lambda s: -SEVERITY_ORDER[s.severity])


@dataclass(frozen=True)
class StoredSignal:
    """A signal recorded before research (by a risk scan or collections) that no completed
    review has answered yet."""

    kind: str
    severity: Severity
    detail: str
    key: str
    detected_on: date


@dataclass(frozen=True)
class InForce:
    """A signal whose effects (the policy's ``risk.effects``) apply to a research."""

    kind: str
    severity: Severity
    detail: str
    key: str
    detected_on: date
    source: str  # "research": found by the research's own scan; "open": recorded earlier


def signals_in_force(
    *,
    found: list[Signal],
    open_signals: list[StoredSignal],
    as_of: date,
    lookback_days: int,
) -> list[InForce]:
    """The signals whose effects apply to a research as of ``as_of``:

    - every signal the research's own scan finds: the warning sign is there now (each rule has
      its own window, e.g. bounced payments within ``bounced_lookback_days``), whether or not an
      earlier review saw it;
    - every signal recorded that no completed review has answered (``open_signals``: what the
      snapshot took in, up to the day the analyst answered), detected no earlier than
      ``lookback_days`` before ``as_of`` (a broken promise, or a sign a risk scan saw that has
      gone since, or one recorded while the analyst was asked).

    One per kind (the gravest; the research's own at equal severity), gravest first."""
    chosen: dict[str, InForce] = {}
    for sig in found:
        chosen.setdefault(
            sig.key, InForce(sig.kind, sig.severity, sig.detail, sig.key, as_of, "research")
        )
    earliest = as_of - timedelta(days=lookback_days)
    for old in open_signals:
        if old.detected_on < earliest:
            continue
        chosen.setdefault(
            old.key,
            InForce(old.kind, old.severity, old.detail, old.key, old.detected_on, "open"),
        )
    per_kind: dict[str, InForce] = {}
    for candidate in chosen.values():
        held = per_kind.get(candidate.kind)
        if held is None or SEVERITY_ORDER[candidate.severity] > SEVERITY_ORDER[held.severity]:
            per_kind[candidate.kind] = candidate
    return sorted(per_kind.values(), key=lambda s: (-SEVERITY_ORDER[s.severity], s.kind))


def in_force_from_snapshot(
    snapshot: dict[str, Any], as_of: date, lookback_days: int
) -> list[InForce]:
    """:func:`signals_in_force` of an assessment's snapshot: its scan's ``signals`` and the
    ``open_signals`` recorded before it (a snapshot older than effects has none of those)."""
    found = [
        Signal(d["kind"], d["severity"], d["detail"], d["key"]) for d in snapshot.get("signals", [])
    ]
    opened = [
        StoredSignal(
            d["kind"], d["severity"], d["detail"], d["key"], date.fromisoformat(d["detected_on"])
        )
        for d in snapshot.get("open_signals", [])
    ]
    return signals_in_force(
        found=found, open_signals=opened, as_of=as_of, lookback_days=lookback_days
    )
