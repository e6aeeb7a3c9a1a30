"""The late fee and interest a charge level adds: receivables of their own (kind fee and
interest), due at once, so that paying only the principal never drops them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from credit.db.models import DunningAction, Invoice
from credit.domain import dunning
from credit.domain.dunning_items import ItemPlan
from credit.domain.money import ZERO
from credit.domain.policy import DunningLevel
from credit.services.collections.items import Effects
from credit.services.collections.state import CustomerPosition, DunningRun


def book_charges(
    run: DunningRun, pos: CustomerPosition, act: Effects, item_plan: ItemPlan
) -> tuple[list[dunning.OpenItem], dict[str, Any]]:
    """Book the late fee of each charge level an item climbed to in this step, and the interest
    on the items at or above the level asking for it; (the new items, the step's details)."""
    new: list[dunning.OpenItem] = []
    details: dict[str, Any] = {}
    for level in act.charges:
        fee = level.fee.get(pos.currency)
        if fee:
            number = _charge_number(run, pos, "FEE", level)
            new.append(_book(run, pos, number=number, amount=fee, kind=dunning.FEE))
            details["fee"] = {"number": number, "amount": str(fee)}
    rate = run.policy.dunning.interest_annual_rate
    if act.interest is not None and rate is not None:
        charged = item_plan.at_or_above(act.interest.level)
        lines = dunning.interest_lines(
            [i for i in pos.owed.overdue_items if i.number in charged],
            as_of=run.as_of,
            annual_rate=rate,
            charged_until=_interest_charged_until(run, pos),
            net_open=pos.owed.net_open,
        )
        total = sum((ln.amount for ln in lines), ZERO)
        if total > 0:
            number = _charge_number(run, pos, "INT", act.interest)
            new.append(_book(run, pos, number=number, amount=total, kind=dunning.INTEREST))
            details["interest"] = _interest_details(number, rate=rate, total=total, lines=lines)
    return new, details


def _charge_number(run: DunningRun, pos: CustomerPosition, what: str, level: DunningLevel) -> str:
    """``FEE-CODE-CUR-E1-L3``; a level charged again in the episode (a later item climbed to it)
    adds ``-2``, ``-3`` ...: derived from the ledger, so every run derives the same."""
    base = f"{what}-{pos.customer.code}-{pos.currency}-E{pos.state.episode}-L{level.level}"
    taken = set(
        run.session.exec(
            select(Invoice.number).where(
                Invoice.customer_id == pos.customer_id, col(Invoice.number).startswith(base)
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _book(
    run: DunningRun, pos: CustomerPosition, *, number: str, amount: Decimal, kind: str
) -> dunning.OpenItem:
    """A charge is a receivable of its own, due at once."""
    run.session.add(
        Invoice(
            customer_id=pos.customer_id,
            number=number,
            issue_date=run.as_of,
            due_date=run.as_of,
            amount=amount,
            currency=pos.currency,
            kind=kind,
        )
    )
    return dunning.OpenItem(number, run.as_of, amount, kind)


def _interest_charged_until(run: DunningRun, pos: CustomerPosition) -> dict[str, date]:
    """Invoice number -> the last day interest was already charged on it (earlier steps)."""
    charged_until: dict[str, date] = {}
    for d in run.session.exec(
        select(DunningAction.details).where(
            DunningAction.customer_id == pos.customer.id,
            DunningAction.currency == pos.currency,
            col(DunningAction.details).is_not(None),
        )
    ):
        for line in (d or {}).get("interest", {}).get("lines", []):
            end = date.fromisoformat(line["end"])
            charged_until[line["invoice"]] = max(end, charged_until.get(line["invoice"], end))
    return charged_until


def _interest_details(
    number: str, *, rate: Decimal, total: Decimal, lines: list[dunning.InterestLine]
) -> dict[str, Any]:
    return {
        "number": number,
        "rate": str(rate),
        "amount": str(total),
        "lines": [
            {
                "invoice": ln.number,
                "start": ln.start.isoformat(),
                "end": ln.end.isoformat(),
                "days": ln.days,
                "open_amount": str(ln.open_amount),
                "amount": str(ln.amount),
            }
            for ln in lines
        ],
    }
