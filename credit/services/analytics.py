"""The policy's research step: portfolio analytics as of a date, from the stored ledger."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import (
    ApprovalStep,
    CollectionCase,
    CreditAssessment,
    CreditLine,
    Customer,
    Decision,
    DunningAction,
    Invoice,
    Payment,
)
from credit.db.models_plans import WriteOff
from credit.domain import analytics
from credit.domain import write_offs as bad_debts
from credit.domain.cleaning import RateTable
from credit.domain.money import ZERO, money
from credit.domain.policy import DunningAction as DunningActionKind
from credit.services.common import SUBJECT_REQUEST, add_months, enqueued_id, id_col, saved_id
from credit.services.ledger import rate_table


def _ratings(s: Session, as_of: date) -> dict[int, str]:
    """Each customer's rating as of the date: its latest completed assessment's by then."""
    ratings: dict[int, str] = {}
    for a in s.exec(
        select(CreditAssessment)
        .where(CreditAssessment.as_of <= as_of, col(CreditAssessment.rating).is_not(None))
        .order_by(col(CreditAssessment.as_of), col(CreditAssessment.id))
    ):
        assert a.rating is not None  # rated assessments only
        ratings[a.customer_id] = a.rating  # the latest by the date
    return ratings


@dataclass
class _ToBase:
    """Amounts in the base currency at the rate of ``as_of`` (one lookup per currency); a
    currency without a rate is left out, with a warning."""

    rates: RateTable
    as_of: date
    base: str
    warnings: list[str]
    factor: dict[str, Decimal | None] = field(default_factory=dict)

    def __call__(self, amount: Decimal, currency: str) -> Decimal | None:
        if currency not in self.factor:
            found = self.rates.lookup(currency, self.as_of)
            self.factor[currency] = found[0] if found else None
            if found is None:
                self.warnings.append(f"no {currency} rate to {self.base}: left out")
        f = self.factor[currency]
        return None if f is None else amount * f


Settlements = dict[int, list[tuple[date, Decimal, bool]]]


def portfolio_ledger(
    app: App, s: Session, as_of: date
) -> tuple[analytics.Ledger, dict[str, Decimal], list[str]]:
    """Every document and payment up to ``as_of`` in the base currency (at the rate of as_of);
    (ledger, exposure per customer, warnings)."""
    _, policy = app.published_policy(s)
    to_base = _ToBase(rate_table(s, policy.base_currency), as_of, policy.base_currency, [])
    codes = dict(s.exec(select(id_col(Customer), Customer.code)).all())
    ratings = _ratings(s, as_of)
    invoices = list(s.exec(select(Invoice).where(Invoice.issue_date <= as_of)))
    loaded = {saved_id(i) for i in invoices}
    settlements, on_account = _payments(s, as_of, to_base, loaded=loaded, codes=codes)
    applied = _applied_credit_notes(invoices, to_base, loaded=loaded, settlements=settlements)
    documents = []
    exposure: dict[str, Decimal] = defaultdict(Decimal)
    for i in invoices:
        amount = to_base(i.amount, i.currency)
        if amount is None:
            continue
        own = sorted(settlements.get(saved_id(i), []))
        if i.id in applied:  # a credit note used up on its invoice: nothing left open on it
            own = [(i.issue_date, amount, False)]
        doc = analytics.Document(
            number=i.number,
            customer=codes[i.customer_id],
            rating=ratings.get(i.customer_id, "unrated"),
            issue_date=i.issue_date,
            due_date=i.due_date,
            amount=amount,
            settlements=tuple(own),
            kind=i.kind,
        )
        documents.append(doc)
        exposure[doc.customer] += doc.open_on(as_of)
    for _day, amount, code in on_account:
        exposure[code] -= amount
    return (
        analytics.Ledger(documents, [(d, a) for d, a, _ in on_account]),
        dict(exposure),
        to_base.warnings,
    )


def _payments(
    s: Session, as_of: date, to_base: _ToBase, *, loaded: set[int], codes: dict[int, str]
) -> tuple[Settlements, list[tuple[date, Decimal, str]]]:
    """Payments received by ``as_of``: those settling a loaded invoice (by invoice id), and
    those on account (or paid ahead of an invoice issued after the date), with the customer."""
    settlements: Settlements = defaultdict(list)
    on_account: list[tuple[date, Decimal, str]] = []
    for p in s.exec(select(Payment).where(Payment.paid_on <= as_of, Payment.status == "received")):
        amount = to_base(p.amount, p.currency)
        if amount is None:
            continue
        if p.invoice_id is not None and p.invoice_id in loaded:
            settlements[p.invoice_id].append((p.paid_on, amount, True))
        else:  # on account, or paid ahead of an invoice issued after the date
            on_account.append((p.paid_on, amount, codes[p.customer_id]))
    return settlements, on_account


def _applied_credit_notes(
    invoices: list[Invoice], to_base: _ToBase, *, loaded: set[int], settlements: Settlements
) -> set[int]:
    """Credit notes applied to a loaded invoice settle it (added to ``settlements``); their ids."""
    applied: set[int] = set()
    for i in invoices:
        if i.amount < 0 and i.applies_to_id is not None and i.applies_to_id in loaded:
            amount = to_base(-i.amount, i.currency)
            if amount is not None:
                settlements[i.applies_to_id].append((i.issue_date, amount, False))
                applied.add(saved_id(i))
    return applied


def _bad_debt(s: Session, base: str, start: date, as_of: date) -> dict[str, Any]:
    """What approved write-offs booked in the window, in the base currency at the rate of
    ``as_of``: the bad debt (per month and per rating of the customer when booked)."""
    to_base = _ToBase(rate_table(s, base), as_of, base, [])
    codes = dict(s.exec(select(id_col(Customer), Customer.code)).all())
    booked = []
    for wo in s.exec(
        select(WriteOff).where(WriteOff.status == "approved", col(WriteOff.decided_on).is_not(None))
    ):
        assert wo.decided_on is not None and wo.booked is not None  # booked when approved
        amount = to_base(wo.booked, wo.currency)
        if amount is not None:
            rating = _ratings(s, wo.decided_on).get(wo.customer_id, "unrated")
            booked.append(
                bad_debts.WrittenOff(wo.decided_on, codes[wo.customer_id], rating, amount)
            )
    figures = bad_debts.bad_debt(booked, start=start, end=as_of)
    return {
        "written_off": str(money(figures.written_off)),
        "write_offs": figures.write_offs,
        "by_month": {k: str(money(v)) for k, v in figures.by_month.items()},
        "by_rating": {k: str(money(v)) for k, v in figures.by_rating.items()},
        "warnings": to_base.warnings,
    }


def _outcomes(app: App, s: Session, start: date, as_of: date) -> dict[str, Any]:
    """What the current policy did in the window: holds, handovers, dunning steps, approvals."""
    _, policy = app.published_policy(s)
    hold_names = {
        lv.name for lv in policy.dunning.levels if lv.action == DunningActionKind.CREDIT_HOLD
    }
    steps = list(
        s.exec(
            select(DunningAction).where(DunningAction.as_of > start, DunningAction.as_of <= as_of)
        )
    )
    by_level: dict[str, int] = defaultdict(int)
    for a in steps:
        by_level[a.level_name] += 1
    handovers = s.exec(
        select(CollectionCase).where(
            CollectionCase.reason == "handover",
            CollectionCase.opened_on > start,
            CollectionCase.opened_on <= as_of,
        )
    ).all()
    approvals: dict[int, dict[str, Any]] = {}
    decided = s.exec(
        select(ApprovalStep).where(
            ApprovalStep.subject == SUBJECT_REQUEST,
            col(ApprovalStep.decided_at).is_not(None),
            col(ApprovalStep.decision).in_([Decision.APPROVED, Decision.REJECTED]),
        )
    ).all()
    # decisions are stamped by the wall clock: those on the window's days count
    in_window = [
        (st, st.decided_at)
        for st in decided
        if st.decided_at is not None and start < st.decided_at.date() <= as_of
    ]
    for step, decided_at in in_window:
        entry = approvals.setdefault(
            step.level, {"level": step.level, "approved": 0, "rejected": 0, "hours": []}
        )
        entry["approved" if step.decision == Decision.APPROVED else "rejected"] += 1
        created = step.created_at
        hours = (decided_at - created).total_seconds() / 3600
        entry["hours"].append(hours)
    approval_rows = []
    for level in sorted(approvals):
        entry = approvals[level]
        hours = entry.pop("hours")
        entry["median_hours"] = round(statistics.median(hours), 1) if hours else None
        approval_rows.append(entry)
    return {
        "dunning_steps": dict(sorted(by_level.items())),
        "holds": sum(n for name, n in by_level.items() if name in hold_names),
        "cleared": by_level.get("cleared", 0),
        "handovers": len(handovers),
        "approvals_by_level": approval_rows,
    }


RATES = {"dso", "collection_rate", "cei", "late_rate", "bad_debt_rate"}


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Amounts to the cent, rates and days as computed, as strings (None stays None)."""
    return {
        k: (str(v if k in RATES else money(v)) if isinstance(v, Decimal) else v)
        for k, v in values.items()
    }


def portfolio_report(app: App, *, as_of: date, months: int = 12) -> dict[str, Any]:
    """Every figure of the policy research report as of a date (plain JSON-able values)."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        ledger, exposure, warnings = portfolio_ledger(app, s, as_of)
        start = add_months(as_of, -months)
        lines = {}
        rates = rate_table(s, policy.base_currency)
        for line, code in s.exec(
            select(CreditLine, Customer.code).join(
                Customer, col(Customer.id) == col(CreditLine.customer_id)
            )
        ):
            found = rates.lookup(line.currency, as_of)
            if found is None:
                warnings.append(f"no {line.currency} rate: {code}'s limit left out of utilisation")
                continue
            limit = line.limit * found[0]
            lines[code] = (exposure.get(code, ZERO), limit)
        ranked, share = analytics.concentration(exposure)
        util = analytics.utilisation(lines)
        outcomes = _outcomes(app, s, start, as_of)
        bad_debt = _bad_debt(s, policy.base_currency, start, as_of)
        from credit.services.service_desk import feedback_summary

        feedback = feedback_summary(s, start, as_of)
    monthly = analytics.monthly_figures(ledger, as_of, months)
    aging = analytics.aging(ledger, as_of)
    ratings = analytics.by_rating(ledger, as_of, start, policy.dunning.tolerance)
    return {
        "as_of": as_of.isoformat(),
        "months": months,
        "policy_version": version,
        "base_currency": policy.base_currency,
        "receivables": str(money(ledger.receivables(as_of))),
        "aging": {k: str(money(v)) for k, v in aging.items()},
        "monthly": [_plain(asdict(m)) for m in monthly],
        "by_rating": [_plain(asdict(r)) for r in ratings],
        "concentration": {
            "top": [[c, str(money(v))] for c, v in ranked],
            "top_share_pct": str(share) if share is not None else None,
        },
        "utilisation": {
            c: {
                "exposure": str(money(e)),
                "limit": str(money(lim)),
                "pct": str(util[c]) if util[c] is not None else None,
            }
            for c, (e, lim) in sorted(lines.items())
        },
        "outcomes": outcomes,
        "bad_debt": bad_debt,  # approved write-offs (credit.services.approval_chain.subjects)
        "feedback": feedback,
        "warnings": warnings,
    }


def notify_policy_research(
    app: App, *, as_of: date, report: dict[str, Any], path: str, review_due: bool = False
) -> int:
    """Send the research report's summary to the policy committee (the roles the published
    policy names for policy changes) and the credit team; ``review_due`` when the periodic policy
    review asks them to evaluate the policy."""
    from credit import notices

    with app.uow() as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        people = [
            p.email
            for role in policy.policy_change.approver_roles
            for p in app.directory.holders(role)
        ]
        if review_due:  # the policy owner: who proposed the version in force
            from credit.db.models import CreditPolicy, PolicyStatus

            row = s.exec(
                select(CreditPolicy).where(CreditPolicy.status == PolicyStatus.PUBLISHED)
            ).one()
            owner = app.directory.get(row.proposed_by)
            if owner is not None:
                people.append(owner.email)
        n, _ = notices.enqueue(
            s,
            app.renderer,
            key=f"policy-research:{as_of.isoformat()}" + (":review" if review_due else ""),
            kind="policy_research_report",
            locale="en",
            recipients=[*people, app.directory.teams.credit],
            context={
                "as_of": as_of,
                "report": report,
                "path": path,
                "review_due": review_due,
                "roles": list(policy.policy_change.approver_roles),
            },
        )
        uow.commit()
        return enqueued_id(n)
