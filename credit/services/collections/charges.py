"""The late fee and interest a charge level adds: receivables of their own (kind fee and
interest), due at once, so that paying only the principal never drops them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from credit.db.models import DunningAction, Invoice
from credit.domain import dunning
from credit.domain.money import ZERO
from credit.domain.policy import DunningLevel
from credit.services.collections.state import CustomerPosition, DunningRun


def book_charges(
    run: DunningRun, pos: CustomerPosition, step: DunningLevel
) -> tuple[list[dunning.OpenItem], dict[str, Any]]:
    """Book the level's late fee and interest; (the new items, the step's details)."""
    new: list[dunning.OpenItem] = []
    details: dict[str, Any] = {}
    prefix = f"{pos.customer.code}-{pos.currency}-E{pos.state.episode}-L{step.level}"
    fee = step.fee.get(pos.currency)
    if fee:
        number = f"FEE-{prefix}"
        new.append(_book(run, pos, number=number, amount=fee, kind=dunning.FEE))
        details["fee"] = {"number": number, "amount": str(fee)}
    rate = run.policy.dunning.interest_annual_rate
    if step.interest and rate is not None:
        lines = dunning.interest_lines(
            pos.owed.overdue_items,
            as_of=run.as_of,
            annual_rate=rate,
            charged_until=_interest_charged_until(run, pos),
            net_open=pos.owed.net_open,
        )
        total = sum((ln.amount for ln in lines), ZERO)
        if total > 0:
            number = f"INT-{prefix}"
            new.append(_book(run, pos, number=number, amount=total, kind=dunning.INTEREST))
            details["interest"] = _interest_details(number, rate=rate, total=total, lines=lines)
    return new, details


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
