"""The demo's cash application: three days of bank statements come in (camt.053, MT940), most
payments match on their own, a collector confirms one suggestion, and a payment that clears a
customer's overdue balance releases its hold at the next collections run."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import Customer, LineStatus
from credit.db.models_cash import PaymentReference
from credit.domain.money import fmt_money
from credit.domain.words import counted


class Demo(Protocol):
    """What these steps use of the demo (flows.demo.Demo)."""

    app: App
    directory: Path
    data: Path

    def say(self, text: str) -> None: ...


STATEMENTS = [
    (date(2026, 12, 2), "camt053_day1.xml"),
    (date(2026, 12, 3), "mt940_day1.sta"),
    (date(2026, 12, 4), "camt053_day2.xml"),
]
# The RF references the sample statements quote, and whose they are: the demo puts in the one
# its own letters gave that customer (references are numbered as letters go out).
SAMPLE_RFS = {"RF61C100500000001": "C-1005", "RF43C100300000002": "C-1003"}
# The sample payments (payments.csv) that the statement of 27 November brings instead.
BY_STATEMENT = frozenset({"PAY-1003-LATE1", "PAY-1003-LATE2", "PAY-1003-LATE3"})


def statement_of_nov_27(demo: Demo) -> set[str]:
    """Brightline (C-1003), on credit hold, pays its final demand quoting the letter's RF; our
    direct debit of its other invoice is collected. The customers on hold before."""
    held_before = _held(demo)
    path = _statement_file(demo, "camt053_nov27.xml")
    done = services.import_statement(demo.app, path=path, actor="demo", as_of=date(2026, 11, 27))
    demo.say(
        f"   2026-11-27 camt053_nov27.xml: {counted(done['new'], 'payment')} read; matched "
        + _rules(done["matched"])
    )
    return held_before


def cash_application(demo: Demo) -> set[str]:
    """The bank statements of 2-4 December, matched; one suggestion confirmed by the collector.
    The customers on hold before (the next collections run says which it released)."""
    demo.say(
        "[bold]Cash application[/]: the bank statements of 2-4 December come in "
        "(credit import statement FILE; camt.053 and MT940)"
    )
    held_before = _held(demo)
    for day, name in STATEMENTS:
        path = _statement_file(demo, name)
        done = services.import_statement(demo.app, path=path, actor="demo", as_of=day)
        demo.say(
            f"   {day} {name}: {counted(done['new'], 'payment')} read; matched "
            f"{_rules(done['matched'])}; {counted(done['returns'], 'return')} placed; "
            f"{done['unmatched']} waiting"
        )
    waiting = services.unmatched_payments(demo.app)
    for w in waiting:
        first = (w["suggestions"] or [{}])[0]
        demo.say(
            f"   waiting: entry {w['id']}, {fmt_money(w['amount'], w['currency'])} from "
            f"{w['payer_name'] or 'an unknown payer'} ({w['remittance'] or 'no text'!r}); "
            f"first suggestion: {_suggested(first)}"
        )
    confirm = next((w for w in waiting if w["suggestions"]), None)
    if confirm is not None:
        services.match_payment(
            demo.app,
            entry_id=confirm["id"],
            by="cora.collector",
            suggestion=1,
            reason="Checked with the customer's remittance advice",
            as_of=date(2026, 12, 4),
        )
        demo.say(
            f"   cora.collector confirms entry {confirm['id']}'s first suggestion "
            f"(credit payments match {confirm['id']} --suggestion 1 --as cora.collector)"
        )
    return held_before


def _rules(matched: dict[str, int]) -> str:
    return ", ".join(f"{n} by {rule.replace('_', ' ')}" for rule, n in matched.items()) or "none"


def _suggested(s: dict[str, Any]) -> str:
    if not s:
        return "none"
    items = ", ".join(s.get("invoices") or []) or "on account"
    return f"{s.get('customer')} {items} (score {s.get('score')})"


def _statement_file(demo: Demo, name: str) -> Path:
    """The sample statement; its RF reference for C-1005 is the one this demo's letters really
    gave C-1005 (references are numbered as letters go out, so the sample's number may be
    another customer's here)."""
    source = demo.data / "statements" / name
    text = original = source.read_text(encoding="utf-8")
    for sample, code in SAMPLE_RFS.items():
        if sample in text and (ref := _last_rf(demo, code)) is not None:
            text = text.replace(sample, ref)
    if text == original:
        return source
    path = demo.directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _last_rf(demo: Demo, code: str) -> str | None:
    with demo.app.uow(read_only=True) as uow:
        return uow.session.exec(
            select(PaymentReference.rf)
            .join(Customer, col(Customer.id) == col(PaymentReference.customer_id))
            .where(Customer.code == code)
            .order_by(col(PaymentReference.id).desc())
        ).first()


def released(demo: Demo, held_before: set[str]) -> None:
    """Say which holds the run after the statements released."""
    for code in sorted(held_before - _held(demo)):
        demo.say(f"   {code}: its matched payments cleared the overdue balance: hold released")


def _held(demo: Demo) -> set[str]:
    from credit.db.models import CreditLine

    with demo.app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(Customer.code)
            .join(CreditLine, col(CreditLine.customer_id) == col(Customer.id))
            .where(CreditLine.status == LineStatus.ON_HOLD)
        ).all()
    return set(rows)
