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
from datetime import date, timedelta
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
    add_payment(s, c, "P-CREDITS", day(9), "600.00")  # on account, pays off the rest


def _on_account(s):
    c = add_customer(s, "ONACCT")
    add_invoice(s, c, "ONACCT-1", day(26, 2), "1000.00")
    add_payment(s, c, "P-ONACCT", day(28, 2), "995.00")  # not allocated: 5.00 left, tolerated
    add_invoice(s, c, "ONACCT-2", day(5), "300.00")


def _multi(s):
    c = add_customer(s, "MULTI")
    e1 = add_invoice(s, c, "MULTI-E1", day(26, 2), "700.00")
    add_invoice(s, c, "MULTI-U1", day(2), "900.00", currency="USD")
    add_payment(s, c, "P-MULTI", day(10), "700.00", e1)


def _dispute(s):
    c = add_customer(s, "DISPUTE")
    e1 = add_invoice(s, c, "DISPUTE-1", day(26, 2), "600.00")
    add_invoice(s, c, "DISPUTE-2", day(26, 2), "400.00")
    add_payment(s, c, "P-DISPUTE", day(9), "600.00", e1)


def _promise(code: str, pay: str, on: date):
    def build(s):
        c = add_customer(s, code)
        inv = add_invoice(s, c, f"{code}-1", day(26, 2), "1000.00")
        add_payment(s, c, f"P-{code}", on, pay, inv)

    return build


def _single(code: str):
    def build(s):
        c = add_customer(s, code)
        add_invoice(s, c, f"{code}-1", day(26, 2), "1000.00" if code != "RACE" else "500.00")

    return build


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
            day(8): ["CREDITS EUR second_notice 600.00 [CREDITS-1, CREDITS-2]",
                     "CREDITS dunning_second_notice"],
            day(9): ["CREDITS EUR cleared"],
        },
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
            day(16): ["DISPUTE EUR final_demand 440.72 [DISPUTE-2, FEE-DISPUTE-EUR-E1-L3, "
                      "INT-DISPUTE-EUR-E1-L3]", "DISPUTE dunning_final_demand (letter)"],
        },
        events={
            day(3): lambda a, d: services.open_dispute(
                a, invoice_number="DISPUTE-2", reason="goods damaged", by="cora.collector", as_of=d
            ),
            day(16): lambda a, d: services.resolve_dispute(
                a, invoice_number="DISPUTE-2", by="cora.collector", note="claim rejected", as_of=d
            ),
        },
        check=_check_dispute,
    ),
    Scenario(
        "a kept promise pauses escalation; the payment clears the episode",
        _promise("KEPT", "1000.00", day(9)),
        days(1, 12),
        {day(1): ["KEPT EUR reminder 1000.00 [KEPT-1]", "KEPT dunning_reminder"],
         day(9): ["KEPT EUR cleared"]},
        events={day(2): _promise_event("KEPT", "1000.00", day(10))},
        check=_check_kept,
    ),
    Scenario(
        "a broken promise resumes escalation one level up at once and raises a risk signal",
        _promise("BROKEN", "200.00", day(3)),
        days(1, 10),
        {
            day(1): ["BROKEN EUR reminder 1000.00 [BROKEN-1]", "BROKEN dunning_reminder"],
            day(4): ["BROKEN EUR second_notice 800.00 [BROKEN-1]",
                     "BROKEN dunning_second_notice", "BROKEN risk_alert"],
            day(9): ["BROKEN EUR final_demand 840.88 [BROKEN-1, FEE-BROKEN-EUR-E1-L3, "
                     "INT-BROKEN-EUR-E1-L3]", "BROKEN dunning_final_demand (letter)"],
        },
        events={day(2): _promise_event("BROKEN", "1000.00", day(3))},
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
    with desk.uow() as uow:
        s = uow.session
        for a in s.exec(select(DunningAction).where(DunningAction.level > 0)):
            code = s.get(Customer, a.customer_id).code
            prefix = "call-task" if a.channel == "call" else "dunning"
            key = f"{prefix}:{code}:{a.currency}:e{a.episode}:l{a.level}"
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
    real = services.collections.open_items_many

    def failing(s, ids, as_of):
        # The batch holding BROKEN fails, is rolled back and redone customer by customer.
        if broken_id in ids and as_of >= day(8):
            raise RuntimeError("ledger unreadable")
        return real(s, ids, as_of)

    monkeypatch.setattr(services.collections, "open_items_many", failing)
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
        inv = add_invoice(uow.session, c, "PROMISES-1", day(26, 2), "1000.00")
        add_payment(uow.session, c, "P-PROMISES", day(10), "500.00", inv)
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
