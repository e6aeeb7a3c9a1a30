"""Table-driven collections: ledgers that real receivables look like, run day by day, with the exact
notices expected on each day.

The policy here is compact so the tables stay readable: reminder 1 day after the due date, then
each level 5 days after the previous one (final demand as a letter with a 40.00 EUR / 30.00 USD fee
and interest at 3.65% a year, i.e. 0.01% a day: 1000.00 for 10 days = 1.00), credit hold, and a
handover by phone (a call task for the collections team). Customers are in Germany: weekends,
Good Friday (26 March 2027) and Easter Monday (29 March 2027) are not business days.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from babel.numbers import format_currency
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import (
    Customer,
    DunningAction,
    Invoice,
    Notice,
    Payment,
    PaymentPromise,
    RiskSignal,
)
from credit.resources import resource_dir
from credit.services.collections import state as collections_state
from credit.settings import Settings
from tests.conftest import scratch_postgres

DUNNING = {
    "tolerance": "10.00",
    "interest_annual_rate": "0.0365",
    "levels": [
        {"level": 1, "name": "reminder", "label": "Payment reminder", "trigger": "after_due",
         "days": 1, "template": "dunning_reminder"},
        {"level": 2, "name": "second_notice", "label": "Second notice",
         "trigger": "after_previous", "days": 5, "template": "dunning_second_notice"},
        {"level": 3, "name": "final_demand", "label": "Final demand", "trigger": "after_previous",
         "days": 5, "channel": "letter", "template": "dunning_final_demand", "action": "charge",
         "fee": {"EUR": "40.00", "USD": "30.00"}, "interest": True},
        {"level": 4, "name": "credit_hold", "label": "Credit hold", "trigger": "after_previous",
         "days": 5, "template": "dunning_credit_hold", "action": "credit_hold"},
        {"level": 5, "name": "handover", "label": "Handover to collections",
         "trigger": "after_previous", "days": 5, "channel": "call",
         "template": "dunning_handover", "action": "handover"},
    ],
}  # fmt: skip


def day(d: int, month: int = 3) -> date:
    return date(2027, month, d)


def days(first: int, last: int) -> list[date]:
    return [day(d) for d in range(first, last + 1)]


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch):
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    body["dunning"] = DUNNING
    path = credit_env / "policy.yaml"
    path.write_text(yaml.safe_dump(body))
    monkeypatch.setenv("CREDIT_POLICY_FILE", str(path))
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(monkeypatch))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


# --------------------------------------------------------------------------- ledger builders


def add_customer(s, code: str, currency: str = "EUR", address: bool = True) -> Customer:
    c = Customer(
        code=code,
        name=f"{code.title()} GmbH",
        email=f"ap@{code.lower()}.example",
        country="DE",
        currency=currency,
        sales_owner_email="sales@example.com",
        postal_address=f"{code.title()} GmbH\nHauptstrasse 1\n20095 Hamburg" if address else None,
    )
    s.add(c)
    s.flush()
    return c


def add_invoice(s, c: Customer, number: str, due: date, amount: str, currency: str = "EUR",
                applies_to: Invoice | None = None) -> Invoice:  # fmt: skip
    inv = Invoice(
        customer_id=c.id,
        number=number,
        issue_date=min(due, day(20, 2)) - timedelta(days=5),
        due_date=due,
        amount=Decimal(amount),
        currency=currency,
        applies_to_id=applies_to.id if applies_to else None,
    )
    s.add(inv)
    s.flush()
    return inv


def add_payment(s, c: Customer, ref: str, paid_on: date, amount: str, invoice: Invoice | None = None,
                currency: str = "EUR") -> None:  # fmt: skip
    s.add(
        Payment(
            customer_id=c.id,
            reference=ref,
            paid_on=paid_on,
            amount=Decimal(amount),
            currency=currency,
            method="bank_transfer",
            invoice_id=invoice.id if invoice else None,
        )
    )


@dataclass
class Scenario:
    name: str
    ledger: Callable  # (session) -> None
    run_days: list[date]
    expected: dict[date, list[str]]
    events: dict[date, Callable] = field(default_factory=dict)  # (app, day) before the run
    between: dict[date, Callable] = field(default_factory=dict)  # after selection, before send
    check: Callable | None = None  # (app, outcomes by day) after the last day


def _partial(s):
    c = add_customer(s, "PARTIAL")
    inv = add_invoice(s, c, "PARTIAL-1", day(26, 2), "1000.00")
    add_payment(s, c, "P-PARTIAL", day(20, 2), "400.00", inv)


def _credits(s):
    c = add_customer(s, "CREDITS")
    b1 = add_invoice(s, c, "CREDITS-1", day(26, 2), "800.00")
    add_invoice(s, c, "CREDITS-CN1", day(20, 2), "-300.00", applies_to=b1)  # allocated to B1
    add_invoice(s, c, "CREDITS-CN2", day(25, 2), "-100.00")  # a credit on account
    add_invoice(s, c, "CREDITS-2", day(3), "200.00")
    # P-CREDITS: 600.00 on account on 9 March (an event), pays off the rest


def _on_account(s):
    c = add_customer(s, "ONACCT")
    add_invoice(s, c, "ONACCT-1", day(26, 2), "1000.00")
    add_payment(s, c, "P-ONACCT", day(28, 2), "995.00")  # not allocated: 5.00 left, tolerated
    add_invoice(s, c, "ONACCT-2", day(5), "300.00")


def _multi(s):
    c = add_customer(s, "MULTI")
    add_invoice(s, c, "MULTI-E1", day(26, 2), "700.00")
    add_invoice(s, c, "MULTI-U1", day(2), "900.00", currency="USD")
    # P-MULTI pays MULTI-E1 on 10 March (an event)


def _dispute(s):
    c = add_customer(s, "DISPUTE")
    add_invoice(s, c, "DISPUTE-1", day(26, 2), "600.00")
    add_invoice(s, c, "DISPUTE-2", day(26, 2), "400.00")
    # P-DISPUTE pays DISPUTE-1 on 9 March (an event)


def _promise(code: str):
    def build(s):
        c = add_customer(s, code)
        add_invoice(s, c, f"{code}-1", day(26, 2), "1000.00")

    return build


def _single(code: str):
    def build(s):
        c = add_customer(s, code)
        add_invoice(s, c, f"{code}-1", day(26, 2), "1000.00" if code != "RACE" else "500.00")

    return build


def _pay(code: str, ref: str, amount: str, invoice: str | None = None):
    """An event: a payment recorded on the day it is made (a live run never judges a ledger that
    already holds later payments: it would ignore them)."""

    def event(app: App, d: date) -> None:
        with app.uow() as uow:
            s = uow.session
            c = s.exec(select(Customer).where(Customer.code == code)).one()
            inv = (
                s.exec(select(Invoice).where(Invoice.number == invoice)).one() if invoice else None
            )
            add_payment(s, c, ref, d, amount, inv)
            uow.commit()

    return event


def _pay_race(app: App, d: date) -> None:
    with app.uow() as uow:
        s = uow.session
        c = s.exec(select(Customer).where(Customer.code == "RACE")).one()
        inv = s.exec(select(Invoice).where(Invoice.number == "RACE-1")).one()
        add_payment(s, c, "P-RACE", d, "500.00", inv)
        uow.commit()


def _promise_event(code: str, amount: str, by: date):
    def event(app: App, d: date) -> None:
        services.record_promise(
            app, customer_code=code, amount=Decimal(amount), promised_for=by, by="cora.collector",
            as_of=d,
        )  # fmt: skip

    return event


def _check_kept(app: App, outcomes) -> None:
    with app.uow() as uow:
        [p] = uow.session.exec(select(PaymentPromise)).all()
        assert (p.status, p.settled_on, p.paid) == ("kept", day(11), Decimal("1000.00"))
        assert uow.session.exec(select(RiskSignal)).all() == []
    promised = [o.status for o in outcomes[day(8)]]
    assert promised == ["promised"]  # level 2 was due on 6 March: the promise held it back


def _check_broken(app: App, outcomes) -> None:
    with app.uow() as uow:
        [p] = uow.session.exec(select(PaymentPromise)).all()
        assert (p.status, p.settled_on, p.paid) == ("broken", day(4), Decimal("200.00"))
        [signal] = uow.session.exec(select(RiskSignal)).all()
        assert signal.kind == "broken_promise" and signal.severity == "high"
        assert "promised 1000.00 EUR by 2027-03-03" in signal.detail


def _check_race(app: App, outcomes) -> None:
    [o] = outcomes[day(1)]
    assert o.status == "skipped" and "level 1 was planned" in o.reason


def _check_dispute(app: App, outcomes) -> None:
    assert [o.status for o in outcomes[day(9)]] == ["paused"]
    assert "DISPUTE-2" in outcomes[day(12)][0].reason


def _mixed(s):
    c = add_customer(s, "MIXED")
    add_invoice(s, c, "MIXED-1", day(26, 2), "600.00")
    add_invoice(s, c, "MIXED-2", day(26, 2), "400.00")


def _credits_on_account(app: App, d: date) -> None:
    """A payment on account and a credit note on account, neither naming MIXED-1."""
    with app.uow() as uow:
        s = uow.session
        c = s.exec(select(Customer).where(Customer.code == "MIXED")).one()
        add_payment(s, c, "P-MIXED", d, "450.00")
        s.add(Invoice(customer_id=c.id, number="CN-MIXED", issue_date=d, due_date=d,
                      amount=Decimal("-150.00"), currency="EUR"))  # fmt: skip
        uow.commit()


def _check_offset(app: App, outcomes) -> None:
    # MIXED-1 is overdue, but the credits on account cover it; MIXED-2 is disputed: the episode
    # pauses, and the reason says both, not "only disputed invoices are overdue".
    [o] = outcomes[day(5)]
    assert o.status == "paused"
    assert o.reason == (
        "overdue MIXED-1 offset by unallocated credits: credit note CN-MIXED, payment on account "
        "P-MIXED; disputed: MIXED-2"
    )


def _check_holiday(app: App, outcomes) -> None:
    # The handover was due on Saturday 27 March; Easter Monday is a holiday in Germany.
    assert [o.status for o in outcomes[day(29)]] == ["deferred"]
    assert "Easter Monday" in outcomes[day(29)][0].reason


FEE, INT = "FEE-{0}-{1}-E1-L3", "INT-{0}-{1}-E1-L3"

SCENARIOS = [
    Scenario(
        "partial payment, charges, hold, handover by call, weekends and Easter",
        _partial,
        days(1, 31),
        {
            day(1): ["PARTIAL EUR reminder 600.00 [PARTIAL-1]", "PARTIAL dunning_reminder"],
            day(8): ["PARTIAL EUR second_notice 600.00 [PARTIAL-1]",
                     "PARTIAL dunning_second_notice"],
            day(15): ["PARTIAL EUR final_demand 641.02 [PARTIAL-1, FEE-PARTIAL-EUR-E1-L3, "
                      "INT-PARTIAL-EUR-E1-L3]", "PARTIAL dunning_final_demand (letter)"],
            day(22): ["PARTIAL EUR credit_hold 641.02 [PARTIAL-1, FEE-PARTIAL-EUR-E1-L3, "
                      "INT-PARTIAL-EUR-E1-L3]", "PARTIAL credit_hold_sales",
                      "PARTIAL dunning_credit_hold"],
            day(30): ["PARTIAL EUR handover 641.02 [PARTIAL-1, FEE-PARTIAL-EUR-E1-L3, "
                      "INT-PARTIAL-EUR-E1-L3]", "PARTIAL call_task",
                      "PARTIAL handover_collections"],
        },
        check=_check_holiday,
    ),
    Scenario(
        "allocated and unallocated credit notes, then a payment on account clears it",
        _credits,
        days(1, 12),
        {
            day(1): ["CREDITS EUR reminder 400.00 [CREDITS-1]", "CREDITS dunning_reminder"],
            # Item levels: CREDITS-2 (due 3 March) reaches its own first level on 4 March; the
            # notice goes at the highest item level, 1, and lists both.
            day(4): ["CREDITS EUR reminder 600.00 [CREDITS-1, CREDITS-2]",
                     "CREDITS dunning_reminder"],
            day(8): ["CREDITS EUR second_notice 600.00 [CREDITS-1, CREDITS-2]",
                     "CREDITS dunning_second_notice"],
            day(9): ["CREDITS EUR cleared"],
        },
        events={day(9): _pay("CREDITS", "P-CREDITS", "600.00")},
    ),
    Scenario(
        "an unallocated payment leaves less than the tolerance, until the next invoice is late",
        _on_account,
        days(1, 10),
        {day(8): ["ONACCT EUR reminder 305.00 [ONACCT-1, ONACCT-2]", "ONACCT dunning_reminder"]},
    ),
    Scenario(
        "one customer, two currencies: one notice per currency, each on its own schedule",
        _multi,
        days(1, 16),
        {
            day(1): ["MULTI EUR reminder 700.00 [MULTI-E1]", "MULTI dunning_reminder"],
            day(3): ["MULTI USD reminder 900.00 [MULTI-U1]", "MULTI dunning_reminder"],
            day(8): ["MULTI EUR second_notice 700.00 [MULTI-E1]",
                     "MULTI USD second_notice 900.00 [MULTI-U1]",
                     "MULTI dunning_second_notice", "MULTI dunning_second_notice"],
            day(10): ["MULTI EUR cleared"],
            day(15): ["MULTI USD final_demand 931.17 [MULTI-U1, FEE-MULTI-USD-E1-L3, "
                      "INT-MULTI-USD-E1-L3]", "MULTI dunning_final_demand (letter)"],
        },
        events={day(10): _pay("MULTI", "P-MULTI", "700.00", "MULTI-E1")},
    ),
    Scenario(
        "a disputed invoice leaves dunning and comes back when the dispute is resolved",
        _dispute,
        days(1, 17),
        {
            day(1): ["DISPUTE EUR reminder 1000.00 [DISPUTE-1, DISPUTE-2]",
                     "DISPUTE dunning_reminder"],
            day(8): ["DISPUTE EUR second_notice 600.00 [DISPUTE-1]",
                     "DISPUTE dunning_second_notice"],
            # Item levels: DISPUTE-2 left dunning at its own level 1 and comes back at it; it
            # climbs to its second level (DISPUTE-1, paid, was the one at level 2).
            day(16): ["DISPUTE EUR second_notice 400.00 [DISPUTE-2]",
                      "DISPUTE dunning_second_notice"],
        },
        events={
            day(3): lambda a, d: services.open_dispute(
                a, invoice_number="DISPUTE-2", reason="goods damaged", by="cora.collector", as_of=d
            ),
            day(9): _pay("DISPUTE", "P-DISPUTE", "600.00", "DISPUTE-1"),
            day(16): lambda a, d: services.resolve_dispute(
                a, invoice_number="DISPUTE-2", by="cora.collector", note="claim rejected", as_of=d
            ),
        },
        check=_check_dispute,
    ),
    Scenario(
        "unallocated credits offset what is overdue beside a dispute: paused, and the reason says so",
        _mixed,
        days(1, 8),
        {day(1): ["MIXED EUR reminder 1000.00 [MIXED-1, MIXED-2]", "MIXED dunning_reminder"]},
        events={
            day(3): lambda a, d: services.open_dispute(
                a, invoice_number="MIXED-2", reason="goods damaged", by="cora.collector", as_of=d
            ),
            day(5): _credits_on_account,
        },
        check=_check_offset,
    ),
    Scenario(
        "a kept promise pauses escalation; the payment clears the episode",
        _promise("KEPT"),
        days(1, 12),
        {day(1): ["KEPT EUR reminder 1000.00 [KEPT-1]", "KEPT dunning_reminder"],
         day(9): ["KEPT EUR cleared"]},
        events={day(2): _promise_event("KEPT", "1000.00", day(10)),
                day(9): _pay("KEPT", "P-KEPT", "1000.00", "KEPT-1")},
        check=_check_kept,
    ),
    Scenario(
        "a broken promise resumes escalation one level up at once and raises a risk signal",
        _promise("BROKEN"),
        days(1, 10),
        {
            day(1): ["BROKEN EUR reminder 1000.00 [BROKEN-1]", "BROKEN dunning_reminder"],
            day(4): ["BROKEN EUR second_notice 800.00 [BROKEN-1]",
                     "BROKEN dunning_second_notice", "BROKEN risk_alert"],
            day(9): ["BROKEN EUR final_demand 840.88 [BROKEN-1, FEE-BROKEN-EUR-E1-L3, "
                     "INT-BROKEN-EUR-E1-L3]", "BROKEN dunning_final_demand (letter)"],
        },
        events={day(2): _promise_event("BROKEN", "1000.00", day(3)),
                day(3): _pay("BROKEN", "P-BROKEN", "200.00", "BROKEN-1")},
        check=_check_broken,
    ),
    Scenario(
        "a payment arriving between selection and send means no notice",
        _single("RACE"),
        days(1, 3),
        {},
        between={day(1): _pay_race},
        check=_check_race,
    ),
    Scenario(
        "10 days without runs: one notice, at the next level, then the schedule goes on",
        _single("DOWNTIME"),
        [day(1), *days(12, 18)],
        {
            day(1): ["DOWNTIME EUR reminder 1000.00 [DOWNTIME-1]", "DOWNTIME dunning_reminder"],
            day(12): ["DOWNTIME EUR second_notice 1000.00 [DOWNTIME-1]",
                      "DOWNTIME dunning_second_notice"],
            day(17): ["DOWNTIME EUR final_demand 1041.90 [DOWNTIME-1, FEE-DOWNTIME-EUR-E1-L3, "
                      "INT-DOWNTIME-EUR-E1-L3]", "DOWNTIME dunning_final_demand (letter)"],
        },
    ),
]  # fmt: skip


def run_day(app: App, d: date, between: Callable | None):
    ids = services.collection_candidates(app, as_of=d)
    expected: dict[int, dict[str, int]] = {}
    if between is not None:
        for cid in ids:  # the selection: what the run plans to send
            plan = services.dun_customer(app, customer_id=cid, as_of=d, dry_run=True)
            expected[cid] = {o.currency: o.level for o in plan if o.status == "would_send"}
        between(app, d)
    if between is None:  # the run as the flow makes it: batches, state read set-based
        done = services.dun_customers(app, customer_ids=ids, as_of=d, dry_run=False)
        return [services.collections.DunningOutcome(**o) for o in done]
    outcomes = []  # one customer at a time, each checked against its plan
    for cid in ids:
        outcomes += services.dun_customer(
            app, customer_id=cid, as_of=d, dry_run=False, expected=expected.get(cid)
        )
    return outcomes


def happened(app: App, since_action: int, since_notice: int) -> tuple[list[str], int, int]:
    with app.uow() as uow:
        s = uow.session
        codes = dict(s.exec(select(Customer.id, Customer.code)).all())
        actions = s.exec(select(DunningAction).where(col(DunningAction.id) > since_action)).all()
        notices = s.exec(select(Notice).where(col(Notice.id) > since_notice)).all()
    lines = [
        f"{codes[a.customer_id]} {a.currency} "
        + (
            f"{a.level_name} {a.overdue_total:.2f} [{', '.join(a.invoice_numbers)}]"
            if a.level
            else "cleared"
        )
        for a in actions
    ] + [
        f"{codes[n.customer_id]} {n.kind}" + (" (letter)" if n.channel == "letter" else "")
        for n in notices
    ]
    return (
        sorted(lines),
        max([since_action, *(a.id for a in actions)]),
        max([since_notice, *(n.id for n in notices)]),
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_ledger_gets_exactly_the_expected_notices_day_by_day(desk: App, scenario: Scenario):
    with desk.uow() as uow:
        scenario.ledger(uow.session)
        uow.commit()
    got: dict[date, list[str]] = {}
    outcomes = {}
    last_action = last_notice = 0
    for d in scenario.run_days:
        if d in scenario.events:
            scenario.events[d](desk, d)
        outcomes[d] = run_day(desk, d, scenario.between.get(d))
        lines, last_action, last_notice = happened(desk, last_action, last_notice)
        if lines:
            got[d] = lines
    assert got == {d: sorted(v) for d, v in scenario.expected.items()}
    if scenario.check:
        scenario.check(desk, outcomes)
    # The notice of every level shows the total the action recorded, formatted for its locale.
    # A level sent again in the episode (a later item climbed to it) has its own key: -2, -3 ...
    with desk.uow() as uow:
        s = uow.session
        times: dict[tuple, int] = {}
        steps = s.exec(
            select(DunningAction).where(DunningAction.level > 0).order_by(DunningAction.id)
        )
        for a in steps:
            code = s.get(Customer, a.customer_id).code
            prefix = "call-task" if a.channel == "call" else "dunning"
            n = times[a.customer_id, a.currency, a.episode, a.level] = (
                times.get((a.customer_id, a.currency, a.episode, a.level), 0) + 1
            )
            suffix = "" if n == 1 else f"-{n}"
            key = f"{prefix}:{code}:{a.currency}:e{a.episode}:l{a.level}{suffix}"
            notice = s.exec(select(Notice).where(Notice.idempotency_key == key)).one()
            assert format_currency(a.overdue_total, a.currency, locale="en") in notice.text


def test_a_letter_without_a_postal_address_goes_by_email_and_the_run_says_so(desk: App):
    with desk.uow() as uow:
        c = add_customer(uow.session, "NOADDR", address=False)
        add_invoice(uow.session, c, "NOADDR-1", day(26, 2), "1000.00")
        uow.commit()
    outcomes = {}
    for d in (day(1), day(8), day(15)):
        outcomes[d] = run_day(desk, d, None)
    [final] = outcomes[day(15)]
    assert (final.level_name, final.channel) == ("final_demand", "email")
    assert "no postal address on file" in final.reason
    with desk.uow() as uow:
        n = uow.session.exec(select(Notice).where(Notice.kind == "dunning_final_demand")).one()
        action = uow.session.exec(select(DunningAction).where(DunningAction.level == 3)).one()
    assert n.channel == "email" and action.channel == "email" and "@page" not in n.html


def test_two_call_levels_and_a_failing_customer_do_not_block_the_others(desk: App, monkeypatch):
    """A policy may call twice (two cases, two notices); an error on one customer is reported and
    the rest of the batch still runs."""
    with desk.uow() as uow:
        a = add_customer(uow.session, "CALLS")
        add_invoice(uow.session, a, "CALLS-1", day(26, 2), "1000.00")
        b = add_customer(uow.session, "BROKEN")
        add_invoice(uow.session, b, "BROKEN-1", day(26, 2), "1000.00")
        uow.commit()
    from credit.domain.policy import PolicyBody

    with desk.uow() as uow:
        _, policy = desk.published_policy(uow.session)
    levels = [lv.model_dump() for lv in policy.dunning.levels]
    levels[1]["channel"] = "call"  # second notice: a call, and the handover: a call too
    twice = PolicyBody.model_validate(
        {**policy.model_dump(), "dunning": {**policy.dunning.model_dump(), "levels": levels}}
    )
    monkeypatch.setattr(desk, "published_policy", lambda s: (1, twice))
    with desk.uow() as uow:
        broken_id = uow.session.exec(select(Customer.id).where(Customer.code == "BROKEN")).one()
    real = collections_state.open_items_many

    def failing(s, ids, as_of):
        # The batch holding BROKEN fails, is rolled back and redone customer by customer.
        if broken_id in ids and as_of >= day(8):
            raise RuntimeError("ledger unreadable")
        return real(s, ids, as_of)

    monkeypatch.setattr(collections_state, "open_items_many", failing)
    by_day = {}
    for d in days(1, 31):
        ids = services.collection_candidates(desk, as_of=d)
        by_day[d] = services.dun_customers(desk, customer_ids=ids, as_of=d, dry_run=False)
    calls = [
        o
        for d, out in by_day.items()
        for o in out
        if o["customer"] == "CALLS" and o["status"] == "sent"
    ]
    assert [o["level_name"] for o in calls] == [
        "reminder", "second_notice", "final_demand", "credit_hold", "handover"
    ]  # fmt: skip
    errors = [o for o in by_day[day(8)] if o["status"] == "error"]
    assert [(o["customer"], o["reason"]) for o in errors] == [
        ("BROKEN", "RuntimeError: ledger unreadable")
    ]
    with desk.uow() as uow:
        keys = [
            n.idempotency_key
            for n in uow.session.exec(select(Notice))
            if "CALLS" in n.idempotency_key
        ]
    assert sum(k.startswith("call-task:") for k in keys) == 2


def test_promises_are_checked_and_a_kept_one_lifts_an_earlier_broken_one(desk: App):
    with desk.uow() as uow:
        c = add_customer(uow.session, "PROMISES")
        add_invoice(uow.session, c, "PROMISES-1", day(26, 2), "1000.00")
        uow.commit()
    with pytest.raises(services.ServiceError, match="owes nothing in 'EURO'"):
        services.record_promise(desk, customer_code="PROMISES", amount=Decimal(1), currency="EURO",
                                promised_for=day(5), by="cora.collector", as_of=day(1))  # fmt: skip
    with pytest.raises(services.ServiceError, match="more than 90 days ahead"):
        services.record_promise(desk, customer_code="PROMISES", amount=Decimal(1),
                                promised_for=date(2027, 12, 1), by="cora.collector", as_of=day(1))  # fmt: skip
    run_day(desk, day(1), None)  # reminder
    services.record_promise(desk, customer_code="PROMISES", amount=Decimal("500"),
                            promised_for=day(3), by="cora.collector", as_of=day(2))  # fmt: skip
    # Thursday 4 March: broken; the next level is forced (it goes out at once).
    [o] = run_day(desk, day(4), None)
    assert (o.status, o.level_name) == ("sent", "second_notice")
    services.record_promise(desk, customer_code="PROMISES", amount=Decimal("500"),
                            promised_for=day(10), by="cora.collector", as_of=day(5))  # fmt: skip
    for d in days(5, 10):
        if d == day(10):
            _pay("PROMISES", "P-PROMISES", "500.00", "PROMISES-1")(desk, d)
        assert [o.status for o in run_day(desk, d, None)] in (["promised"], ["deferred"], [])
    # Kept on the 10th: the earlier broken promise no longer forces anything; the final demand
    # waits for its own trigger (5 days after the second notice = 9 March, so due now) ...
    [o] = run_day(desk, day(11), None)
    assert "promise kept" in o.reason and "broken promise" not in o.reason
    with desk.uow() as uow:
        statuses = [
            p.status for p in uow.session.exec(select(PaymentPromise).order_by(PaymentPromise.id))
        ]
    assert statuses == ["broken", "kept"]


# --------------------------------------------------------------------------- the run's date


def test_a_live_run_dated_before_the_latest_run_is_refused_a_rerun_of_its_date_is_not(desk: App):
    with desk.uow() as uow:
        c = add_customer(uow.session, "LATE")
        add_invoice(uow.session, c, "LATE-1", day(26, 2), "1000.00")
        uow.commit()
    [o] = run_day(desk, day(8), None)
    assert o.status == "sent"
    with pytest.raises(services.ServiceError) as refused:
        services.collection_candidates(desk, as_of=day(1))
    assert str(refused.value) == (
        "a collections run as of 2027-03-08 is already recorded; a run as of 2027-03-01 would "
        "judge the ledger as it was then: run as of 2027-03-08 or later, or inspect that date with a dry run"
    )
    [again] = run_day(desk, day(8), None)  # the same date: allowed, and nothing is done twice
    assert again.status == "already_done"
    ids = services.collection_candidates(desk, as_of=day(1), dry_run=True)  # a look back: allowed
    [looked] = services.dun_customers(desk, customer_ids=ids, as_of=day(1), dry_run=True)
    assert (looked["status"], looked["reason"]) == (
        "nothing_due",
        "a later run (2027-03-08) already acted",
    )


def test_a_live_run_that_would_ignore_later_payments_credit_notes_or_disputes_is_refused(desk):
    """The issue's case: a back-dated run sent a first reminder for an invoice paid a week later."""
    with desk.uow() as uow:
        c = add_customer(uow.session, "PAIDLATER")
        inv = add_invoice(uow.session, c, "PAIDLATER-1", day(26, 2), "1000.00")
        add_payment(uow.session, c, "P-PAIDLATER", day(9), "1000.00", inv)
        uow.commit()
    with pytest.raises(services.ServiceError) as refused:
        services.collection_candidates(desk, as_of=day(2))
    assert str(refused.value) == (
        "payments up to 2027-03-09 are recorded; a run as of 2027-03-02 would ignore them: run "
        "as of 2027-03-09 or later, or inspect that date with a dry run"
    )
    with desk.uow() as uow:
        assert uow.session.exec(select(DunningAction)).all() == []
        assert uow.session.exec(select(Notice)).all() == []
    with desk.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "PAIDLATER")).one()
        uow.session.add(Invoice(customer_id=c.id, number="CN-LATER", issue_date=day(12),
                                due_date=day(12), amount=Decimal("-5.00"), currency="EUR"))  # fmt: skip
        uow.commit()
    services.open_dispute(
        desk, invoice_number="PAIDLATER-1", reason="x", by="cora.collector", as_of=day(12)
    )
    with pytest.raises(services.ServiceError, match="^credit notes and disputes up to 2027-03-12"):
        services.collection_candidates(desk, as_of=day(10))
    assert services.collection_candidates(desk, as_of=day(12)) == []  # paid: nothing to do
    # A bounced payment pays nothing: ignoring it changes nothing, so it does not hold a run up.
    with desk.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "PAIDLATER")).one()
        uow.session.add(Payment(customer_id=c.id, reference="P-BOUNCED", paid_on=day(20),
                                amount=Decimal("50.00"), currency="EUR", method="direct_debit",
                                status="bounced"))  # fmt: skip
        uow.commit()
    services.collection_candidates(desk, as_of=day(12))


# --------------------------------------------------------------------------- a failing customer


def _raw_invoice(app: App, customer: str, number: str, due: date, amount: str, cur: str) -> None:
    """An invoice written past the importer and the column type's checks (as data older than
    today's limits would be): SQLite stores ten-thousandths as an integer."""
    from sqlalchemy import text

    value: object = Decimal(amount)
    if app.engine.dialect.name == "sqlite":
        value = int(Decimal(amount) * 10_000)
    with app.engine.begin() as conn:
        cid = conn.execute(text("SELECT id FROM customer WHERE code = :c"), {"c": customer}).one()[
            0
        ]
        conn.execute(
            text(
                "INSERT INTO invoice (customer_id, number, issue_date, due_date, amount, currency, "
                "kind, created_at) VALUES (:cid, :n, :issued, :due, :amount, :cur, 'invoice', :now)"
            ),
            {"cid": cid, "n": number, "issued": due - timedelta(days=30), "due": due,
             "amount": value, "cur": cur, "now": datetime.now(UTC)},
        )  # fmt: skip


def test_a_customer_whose_amounts_add_up_beyond_the_ledger_fails_alone_with_one_line(desk: App):
    with desk.uow() as uow:
        for code in ("FINE1", "HUGE", "FINE2"):
            c = add_customer(uow.session, code)
            add_invoice(uow.session, c, f"{code}-1", day(26, 2), "1000.00")
        uow.commit()
    for n in (1, 2):  # each one fits; together they do not
        _raw_invoice(desk, "HUGE", f"HUGE-USD-{n}", day(20, 2), "60000000000000.00", "USD")
    ids = services.collection_candidates(desk, as_of=day(1))
    out = services.dun_customers(desk, customer_ids=ids, as_of=day(1), dry_run=False)
    by = {(o["customer"], o["currency"]): o for o in out}
    assert {k: o["status"] for k, o in by.items()} == {
        ("FINE1", "EUR"): "sent", ("FINE2", "EUR"): "sent", ("HUGE", "USD"): "error",
    }  # fmt: skip
    reason = by[("HUGE", "USD")]["reason"]
    assert reason.startswith("its USD overdue items add up to 120,000,000,000,000.00, more than")
    assert "\n" not in reason and "SQL" not in reason
    with desk.uow() as uow:  # the others are committed; the failing customer is left as it was
        acted = {(a.customer_id, a.level) for a in uow.session.exec(select(DunningAction))}
        huge = uow.session.exec(select(Customer.id).where(Customer.code == "HUGE")).one()
    assert len(acted) == 2 and huge not in {cid for cid, _ in acted}
    summary = services.collections.run_summary(out)
    assert summary["by_currency"] == {"EUR": {"sent": 2}, "USD": {"error": 1}}


def test_a_sum_that_overflows_the_database_fails_that_customer_not_the_selection(desk: App):
    if desk.engine.dialect.name != "sqlite":
        pytest.skip("SQLite sums integers of ten-thousandths: only there can a sum overflow")
    with desk.uow() as uow:
        for code in ("FINE", "OVERPAID"):
            c = add_customer(uow.session, code)
            add_invoice(uow.session, c, f"{code}-1", day(26, 2), "1000.00")
        uow.commit()
    from sqlalchemy import text

    with desk.engine.begin() as conn:  # 11 payments of 9e13 on one invoice: the SUM overflows
        cid, inv = conn.execute(
            text("SELECT customer_id, id FROM invoice WHERE number = 'OVERPAID-1'")
        ).one()
        for n in range(11):
            conn.execute(
                text(
                    "INSERT INTO payment (customer_id, reference, paid_on, amount, currency, "
                    "method, status, invoice_id, created_at) VALUES (:cid, :ref, :day, :amount, "
                    "'EUR', 'bank_transfer', 'received', :inv, :now)"
                ),
                {"cid": cid, "ref": f"P-OVER-{n}", "day": day(20, 2), "inv": inv,
                 "amount": 90_000_000_000_000 * 10_000, "now": datetime.now(UTC)},
            )  # fmt: skip
    ids = services.collection_candidates(desk, as_of=day(1))  # no longer fails as a whole
    out = services.dun_customers(desk, customer_ids=ids, as_of=day(1), dry_run=False)
    statuses = {o["customer"]: (o["status"], o["reason"]) for o in out}
    assert statuses["FINE"][0] == "sent"
    assert statuses["OVERPAID"][0] == "error"
    assert statuses["OVERPAID"][1].startswith("a sum over its ledger overflows (integer overflow)")
