"""Dunning profiles, courtesy reminders and minimum amounts per level: one ledger run day by day
(March 2027, customers in Germany: weekends are no business days), the exact notices each day.

The policy is compact. ``standard`` (``dunning.levels``): a reminder 1 day after the due date, a
second notice after 8 days (only from 50.00 EUR overdue), a credit hold after 15 days.
``key_accounts`` (segment ``key``, by rule): a reminder after 5 days, a second notice after 20,
and a courtesy reminder 5 days before an invoice falls due. ``do_not_dun``: never dunned (here
assigned by a credit manager).
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, Customer, DunningAction, Invoice, Notice, Payment
from credit.db.models_dunning_profiles import CourtesyReminder, CustomerDunningProfile
from credit.importers import ImportFailed
from credit.resources import resource_dir
from credit.services.common import ServiceError
from credit.settings import Settings
from tests.conftest import scratch_postgres

DUNNING = {
    "tolerance": "10.00",
    "levels": [
        {"level": 1, "name": "reminder", "label": "Payment reminder", "days": 1,
         "template": "dunning_reminder"},
        {"level": 2, "name": "second_notice", "label": "Second notice", "days": 8,
         "template": "dunning_second_notice", "min_amount": {"EUR": "50.00"}},
        {"level": 3, "name": "credit_hold", "label": "Credit hold", "days": 15,
         "template": "dunning_credit_hold", "action": "credit_hold"},
    ],
}  # fmt: skip
PROFILES = {
    "default": "standard",
    "profiles": {
        "key_accounts": {
            "courtesy": {"days_before_due": 5},
            "levels": [
                {"level": 1, "name": "reminder", "label": "Payment reminder", "days": 5,
                 "template": "dunning_reminder"},
                {"level": 2, "name": "second_notice", "label": "Second notice", "days": 20,
                 "template": "dunning_second_notice"},
            ],
        },
        "do_not_dun": {"dun": False},
    },
    "rules": [{"profile": "key_accounts", "segment": ["key"]}],
}  # fmt: skip


def day(d: int, month: int = 3) -> date:
    return date(2027, month, d)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, credit_env: Path, monkeypatch: pytest.MonkeyPatch):
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    body["dunning"], body["dunning_profiles"] = DUNNING, PROFILES
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


def add_customer(s, code: str, segment: str | None = None) -> Customer:
    c = Customer(code=code, name=f"{code.title()} GmbH", email=f"ap@{code.lower()}.example",
                 country="DE", currency="EUR", sales_owner_email="sales@example.com",
                 postal_address=f"{code.title()} GmbH\nHauptstrasse 1\n20095 Hamburg")  # fmt: skip
    s.add(c)
    s.flush()
    if segment:
        s.add(CustomerDunningProfile(customer_id=c.id, segment=segment, set_by="import"))
    return c


def add_invoice(s, c: Customer, number: str, due: date, amount: str) -> Invoice:
    inv = Invoice(customer_id=c.id, number=number, issue_date=day(10, 2), due_date=due,
                  amount=Decimal(amount), currency="EUR")  # fmt: skip
    s.add(inv)
    s.flush()
    return inv


def ledger(app: App) -> None:
    with app.uow() as uow:
        s = uow.session
        for code, segment in (("STD", None), ("KEY", "key"), ("NODUN", None)):
            add_invoice(s, add_customer(s, code, segment), f"{code}-1", day(26, 2), "1000.00")
        small = add_customer(s, "SMALL")
        add_invoice(s, small, "SMALL-1", day(26, 2), "30.00")
        add_invoice(s, small, "SMALL-2", day(9), "40.00")
        keyc = add_customer(s, "KEYC", "key")
        add_invoice(s, keyc, "KEYC-1", day(10), "1000.00")
        add_invoice(s, keyc, "KEYC-2", day(10), "300.00")  # disputed: no courtesy reminder
        add_invoice(s, keyc, "KEYC-3", day(9), "200.00")  # paid on 2 March: none either
        uow.commit()
    services.assign_dunning_profile(
        app, customer_code="NODUN", profile="do_not_dun", by="carla.manager",
        reason="insolvency administrator handles the account",
    )  # fmt: skip


def dispute_keyc2(app: App, d: date) -> None:
    services.open_dispute(app, invoice_number="KEYC-2", reason="quantity short",
                          by="cora.collector", as_of=d)  # fmt: skip


def pay_keyc3(app: App, d: date) -> None:
    with app.uow() as uow:
        s = uow.session
        c = s.exec(select(Customer).where(Customer.code == "KEYC")).one()
        inv = s.exec(select(Invoice).where(Invoice.number == "KEYC-3")).one()
        s.add(Payment(customer_id=c.id, reference="P-KEYC-3", paid_on=d, amount=Decimal("200.00"),
                      currency="EUR", method="bank_transfer", invoice_id=inv.id))  # fmt: skip
        uow.commit()


EVENTS = {day(1): dispute_keyc2, day(2): pay_keyc3}
RERUN = {day(5), day(15)}  # a second run the same day sends nothing

EXPECTED = {
    day(1): ["SMALL EUR reminder 30.00 [SMALL-1]", "SMALL dunning_reminder",
             "STD EUR reminder 1000.00 [STD-1]", "STD dunning_reminder"],
    day(3): ["KEY EUR reminder 1000.00 [KEY-1]", "KEY dunning_reminder"],
    day(5): ["KEYC dunning_courtesy"],
    day(8): ["STD EUR second_notice 1000.00 [STD-1]", "STD dunning_second_notice"],
    day(10): ["SMALL EUR second_notice 70.00 [SMALL-1, SMALL-2]",
              "SMALL dunning_second_notice"],
    day(15): ["KEYC EUR reminder 1000.00 [KEYC-1]", "KEYC dunning_reminder",
              "SMALL EUR credit_hold 70.00 [SMALL-1, SMALL-2]", "SMALL credit_hold_sales",
              "SMALL dunning_credit_hold",
              "STD EUR credit_hold 1000.00 [STD-1]", "STD credit_hold_sales",
              "STD dunning_credit_hold"],
    # SMALL-2 reaches its own second level: a notice at the highest item level (the hold, which
    # sales already heard of) lists SMALL-1 at level 3 and SMALL-2 at level 2.
    day(17): ["SMALL EUR credit_hold 70.00 [SMALL-1, SMALL-2]", "SMALL dunning_credit_hold"],
    day(18): ["KEY EUR second_notice 1000.00 [KEY-1]", "KEY dunning_second_notice"],
}  # fmt: skip


def run_day(app: App, d: date) -> list[dict]:
    ids = services.collection_candidates(app, as_of=d)
    return services.dun_customers(app, customer_ids=ids, as_of=d, dry_run=False)


def happened(app: App, since_action: int, since_notice: int) -> tuple[list[str], int, int]:
    with app.uow() as uow:
        s = uow.session
        codes = dict(s.exec(select(Customer.id, Customer.code)).all())
        actions = s.exec(select(DunningAction).where(col(DunningAction.id) > since_action)).all()
        notices = s.exec(select(Notice).where(col(Notice.id) > since_notice)).all()
    lines = [
        f"{codes[a.customer_id]} {a.currency} {a.level_name} {a.overdue_total:.2f} "
        f"[{', '.join(a.invoice_numbers)}]"
        for a in actions
    ] + [f"{codes[n.customer_id]} {n.kind}" for n in notices]
    return (
        sorted(lines),
        max([since_action, *(a.id for a in actions)]),
        max([since_notice, *(n.id for n in notices)]),
    )


def test_profiles_courtesy_and_minimum_amounts_day_by_day(desk: App):
    ledger(desk)
    got: dict[date, list[str]] = {}
    outcomes: dict[date, list[dict]] = {}
    last_action = last_notice = 0
    for d in [day(1) + timedelta(days=n) for n in range(18)]:
        if d in EVENTS:
            EVENTS[d](desk, d)
        outcomes[d] = run_day(desk, d)
        lines, last_action, last_notice = happened(desk, last_action, last_notice)
        if lines:
            got[d] = lines
        if d in RERUN:
            again = run_day(desk, d)
            assert happened(desk, last_action, last_notice)[0] == []
            assert not [o for o in again if o["status"] in ("sent", "courtesy")]
    assert got == {d: sorted(v) for d, v in EXPECTED.items()}

    def outcome(d: date, code: str, status: str | None = None) -> dict:
        return next(
            o for o in outcomes[d] if o["customer"] == code and status in (None, o["status"])
        )

    # The customer that is not dunned: nothing sent, and the run says why.
    nodun = outcome(day(8), "NODUN")
    assert nodun["status"] == "nothing_due"
    assert nodun["reason"] == (
        "dunning profile do_not_dun (assigned to the customer): this customer is not dunned"
    )
    # A level held back by its minimum amount, sent once the amount is reached.
    small = outcome(day(8), "SMALL")
    assert (small["status"], small["level"]) == ("nothing_due", 1)
    assert small["reason"] == "level 2 waits: 30.00 EUR overdue is below its minimum 50.00 EUR"
    # The courtesy reminder: its own outcome, the invoice coming due only (not the disputed one,
    # not the paid one), once; it never became a level.
    courtesy = outcome(day(5), "KEYC", "courtesy")
    assert courtesy["invoices"] == ["KEYC-1"] and courtesy["level"] == 0
    assert outcome(day(5), "KEYC", "nothing_due")["level"] == 0
    with desk.uow() as uow:
        s = uow.session
        [n] = s.exec(select(Notice).where(Notice.kind == "dunning_courtesy")).all()
        assert n.idempotency_key == "courtesy:KEYC:EUR:KEYC-1@2027-03-10"
        assert n.recipients == ["ap@keyc.example"] and n.channel == "email"
        assert "KEYC-1" in n.text and "KEYC-2" not in n.text and "KEYC-3" not in n.text
        assert "Friendly reminder" in n.subject
        [r] = s.exec(select(CourtesyReminder)).all()
        assert (r.invoice_number, r.sent_on, r.profile) == ("KEYC-1", day(5), "key_accounts")
        keyc = s.exec(select(Customer).where(Customer.code == "KEYC")).one()
        steps = s.exec(select(DunningAction).where(DunningAction.customer_id == keyc.id)).all()
        assert [(a.level, a.as_of) for a in steps] == [(1, day(15))]
        # Every step, hold and charge names the profile it followed.
        profiles = {
            (s.get(Customer, a.customer_id).code, a.level): a.details["profile"]
            for a in s.exec(select(DunningAction))
        }
        assert profiles[("STD", 3)] == "standard" and profiles[("KEY", 2)] == "key_accounts"
        assert profiles[("KEYC", 1)] == "key_accounts"
        levels = s.exec(select(AuditEvent).where(AuditEvent.action == "dunning.level")).all()
        assert {(e.entity_id, e.after["profile"]) for e in levels} >= {
            ("STD", "standard"), ("KEY", "key_accounts")
        }  # fmt: skip
        [assigned] = s.exec(
            select(AuditEvent).where(AuditEvent.action == "customer.dunning_profile")
        ).all()
        assert (assigned.actor, assigned.after) == (
            "carla.manager", {"dunning_profile": "do_not_dun"}
        )  # fmt: skip


def test_only_credit_managers_assign_known_profiles(desk: App):
    with desk.uow() as uow:
        add_customer(uow.session, "ACME")
        uow.commit()
    for by, profile, refusal in (
        ("cora.collector", "do_not_dun", "cora.collector may not assign dunning profiles"),
        ("carla.manager", "vip", "dunning profile 'vip' is not in the published policy"),
    ):
        with pytest.raises(ServiceError, match=refusal):
            services.assign_dunning_profile(
                desk, customer_code="ACME", profile=profile, by=by, reason="test"
            )
    with desk.uow() as uow:
        assert uow.session.exec(select(CustomerDunningProfile)).all() == []


HEADER = "code,name,email,country,currency,sales_owner_email,dunning_profile,segment\n"


def write_csv(tmp_path: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_customers_file_assigns_profiles_and_segments(desk: App, tmp_path: Path):
    row = "{0},{0} GmbH,ap@{1}.example,DE,EUR,sales@example.com,{2},{3}"
    bad = write_csv(tmp_path, "bad.csv", [row.format("NEWKEY", "k", "key_accounts", ""),
                                          row.format("VIP", "v", "vip", "Public Sector")])  # fmt: skip
    with pytest.raises(ImportFailed) as refused:
        services.import_data(desk, kind="customers", path=bad, actor="carla.manager", dry_run=False)
    assert [(e.row, e.column, e.value, e.reason) for e in refused.value.errors] == [
        (3, "dunning_profile", "vip",
         "not a dunning profile of the published policy (standard, do_not_dun, key_accounts)"),
        (3, "segment", "Public Sector", "letters, digits, _ and - only (max 40)"),
    ]  # fmt: skip
    with desk.uow() as uow:
        assert uow.session.exec(select(Customer)).all() == []  # the whole file or nothing
    good = write_csv(tmp_path, "good.csv", [row.format("NEWKEY", "k", "key_accounts", ""),
                                            row.format("PUB", "p", "", "Public")])  # fmt: skip
    plan = services.import_data(desk, kind="customers", path=good, actor="carla.manager",
                                dry_run=False)  # fmt: skip
    assert sorted(plan.created) == ["NEWKEY", "PUB"]

    def stored() -> dict[str, tuple]:
        with desk.uow() as uow:
            s = uow.session
            return {
                s.get(Customer, r.customer_id).code: (r.profile, r.segment)
                for r in s.exec(select(CustomerDunningProfile))
            }

    assert stored() == {"NEWKEY": ("key_accounts", None), "PUB": (None, "public")}
    again = services.import_data(desk, kind="customers", path=good, actor="carla.manager",
                                 dry_run=False)  # fmt: skip
    assert sorted(again.unchanged) == ["NEWKEY", "PUB"]
    # Only the segment changes: the customer counts as updated, in a dry run too; a file
    # without the dunning_profile column leaves the assigned profile as it is.
    header = "code,name,email,country,currency,sales_owner_email,segment\n"
    moved = write_csv(tmp_path, "moved.csv",
                      ["NEWKEY,NEWKEY GmbH,ap@k.example,DE,EUR,sales@example.com,key"], header)  # fmt: skip
    dry = services.import_data(desk, kind="customers", path=moved, actor="carla.manager",
                               dry_run=True)  # fmt: skip
    assert dry.updated == ["NEWKEY"] and stored()["NEWKEY"] == ("key_accounts", None)
    services.import_data(desk, kind="customers", path=moved, actor="carla.manager",
                         dry_run=False)  # fmt: skip
    assert stored()["NEWKEY"] == ("key_accounts", "key")
    with desk.uow() as uow:
        events = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "customer.dunning_profile")
        ).all()
    assert [(e.entity_id, e.after) for e in events] == [
        ("NEWKEY", {"dunning_profile": "key_accounts", "segment": None}),
        ("PUB", {"dunning_profile": None, "segment": "public"}),
        ("NEWKEY", {"segment": "key"}),
    ]
    overview = services.customer_overview(desk, code="PUB", as_of=day(1))
    assert overview["dunning_profile"] == {"profile": "standard", "why": "the default",
                                           "segment": "public"}  # fmt: skip


def test_a_back_test_follows_each_policys_profiles(desk: App):
    """Live: the profiles above; draft: key accounts (segment key) not dunned at all. The draft
    changes KEY's level (and names both profiles), and nobody else's."""
    from credit.domain.policy import PolicyBody
    from credit.services.backtest import shadow_run

    with desk.uow() as uow:
        s = uow.session
        for code, segment in (("STD", None), ("KEY", "key")):
            add_invoice(s, add_customer(s, code, segment), f"{code}-1", day(26, 2), "1000.00")
        uow.commit()
    with desk.uow() as uow:
        _, live = desk.published_policy(uow.session)
        rules = [{"profile": "do_not_dun", "segment": ["key"]}]
        draft = PolicyBody.model_validate(
            {**live.model_dump(), "dunning_profiles": {**PROFILES, "rules": rules}}
        )
        result = shadow_run(uow.session, live, draft, [day(10)])
    assert result["dunning"] == [
        {"date": "2027-03-10", "customer": "KEY", "currency": "EUR", "live_level": 1,
         "draft_level": 0, "live_hold": False, "draft_hold": False,
         "live_profile": "key_accounts", "draft_profile": "do_not_dun"},
    ]  # fmt: skip
