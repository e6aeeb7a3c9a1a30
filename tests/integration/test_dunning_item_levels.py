"""Item-level dunning, table-driven on SQLite and PostgreSQL: each overdue invoice climbs its own
levels; a notice goes out when at least one item climbs, at the highest item level, listing every
overdue item with its own level.

The policy is the compact one of ``test_collections_ledgers``: reminder 1 day after the due date,
then each level 5 days after the item's previous one (3: final demand by letter with a 40.00 EUR fee
and interest at 0.01% a day, 4: credit hold, 5: handover by call). Customers are in Germany:
weekends are no business days (the customer's step waits for Monday).

One ledger, run day by day once per database (a module-scoped fixture), holds every case:

- INDEP: two invoices due 26 February and 9 March climb independently, each by its own days; a
  charge level's fee once per notice in which an item climbed to it, interest on the items at or
  above it; the hold when an item reaches the hold level.
- FINAL: an item newly overdue while the older one is at the final demand starts at level 1 (and
  the notice, at level 3, lists it as such); once the old item is paid, the next notice is at the
  new item's level 2, not the old one's 4.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert
from sqlmodel import Session, col, select

from credit import services
from credit.app import App
from credit.db.migrate import downgrade, upgrade
from credit.db.models import Customer, DunningAction, Invoice, Notice
from credit.db.models_dunning_items import DunningItemLevel
from credit.resources import resource_dir
from credit.services.common import table_of
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, scratch_postgres
from tests.integration.test_collections_ledgers import (
    DUNNING,
    add_customer,
    add_invoice,
    add_payment,
    day,
    days,
    run_day,
)


@contextlib.contextmanager
def _desk(tmp: Path, database: str) -> Iterator[App]:
    """A migrated database (SQLite file or scratch PostgreSQL) with the compact policy published."""
    with pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as stack:
        for key in list(os.environ):
            if key.startswith("CREDIT_") and key != "CREDIT_TEST_POSTGRES_URL":
                mp.delenv(key)
        mp.setenv("CREDIT_DATABASE_URL", f"sqlite:///{tmp / 'credit.db'}")
        mp.setenv("CREDIT_OUTBOX_DIR", str(tmp / "outbox"))
        for key, value in TEST_COMPANY.items():
            mp.setenv(key, value)
        mp.chdir(tmp)
        body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
        body["dunning"] = DUNNING
        (tmp / "policy.yaml").write_text(yaml.safe_dump(body))
        mp.setenv("CREDIT_POLICY_FILE", str(tmp / "policy.yaml"))
        if database == "postgresql":
            stack.enter_context(scratch_postgres(mp))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        try:
            yield a
        finally:
            a.engine.dispose()


# --------------------------------------------------------------------------- the ledger


def _ledger(s: Session) -> None:
    indep = add_customer(s, "INDEP")
    add_invoice(s, indep, "INDEP-1", day(26, 2), "1000.00")
    add_invoice(s, indep, "INDEP-2", day(9), "500.00")
    final = add_customer(s, "FINAL")
    add_invoice(s, final, "FINAL-1", day(26, 2), "1000.00")
    add_invoice(s, final, "FINAL-2", day(16), "300.00")


def _pay_final_1(app: App, d: date) -> None:
    with app.uow() as uow:
        s = uow.session
        c = s.exec(select(Customer).where(Customer.code == "FINAL")).one()
        inv = s.exec(select(Invoice).where(Invoice.number == "FINAL-1")).one()
        add_payment(s, c, "P-FINAL-1", d, "1000.00", inv)
        uow.commit()


EVENTS = {day(18): _pay_final_1}
RUN_DAYS = days(1, 22)

I1, I2 = "INDEP-1", "INDEP-2"
F1, F2 = "FINAL-1", "FINAL-2"
FEE3, INT3 = "FEE-{0}-EUR-E1-L3", "INT-{0}-EUR-E1-L3"

# What happens each day: the customer's step (notice level, total, items listed), each item that
# climbs (number -> its new level) and the notices queued.
EXPECTED: dict[str, dict[date, list[str]]] = {
    "INDEP": {
        day(1): ["step reminder 1000.00 [INDEP-1]", "INDEP-1 -> 1", "dunning_reminder"],
        # INDEP-1's second level was due on Saturday 6 March: Monday.
        day(8): ["step second_notice 1000.00 [INDEP-1]", "INDEP-1 -> 2",
                 "dunning_second_notice"],
        # INDEP-2 (due 9 March) reaches its own first level; the notice stays at the highest
        # item level, 2, and lists both.
        day(10): ["step second_notice 1500.00 [INDEP-1, INDEP-2]", "INDEP-2 -> 1",
                  "dunning_second_notice"],
        # INDEP-1 reaches the final demand (fee; interest on it alone: 17 days = 1.70), INDEP-2
        # its second level, the same day.
        day(15): ["step final_demand 1541.70 [INDEP-1, INDEP-2, FEE-INDEP-EUR-E1-L3, "
                  "INT-INDEP-EUR-E1-L3]", "INDEP-1 -> 3", "INDEP-2 -> 2",
                  "dunning_final_demand (letter)"],
        # INDEP-1 reaches the hold; INDEP-2 the final demand: its fee once more, and interest on
        # both items at or above level 3 (INDEP-1 since 15 March: 0.70; INDEP-2: 13 days, 0.65).
        day(22): ["step credit_hold 1583.05 [INDEP-1, INDEP-2, FEE-INDEP-EUR-E1-L3, "
                  "INT-INDEP-EUR-E1-L3, FEE-INDEP-EUR-E1-L3-2, INT-INDEP-EUR-E1-L3-2]",
                  "INDEP-1 -> 4", "INDEP-2 -> 3", "credit_hold_sales", "dunning_credit_hold"],
    },
    "FINAL": {
        day(1): ["step reminder 1000.00 [FINAL-1]", "FINAL-1 -> 1", "dunning_reminder"],
        day(8): ["step second_notice 1000.00 [FINAL-1]", "FINAL-1 -> 2", "dunning_second_notice"],
        day(15): ["step final_demand 1041.70 [FINAL-1, FEE-FINAL-EUR-E1-L3, INT-FINAL-EUR-E1-L3]",
                  "FINAL-1 -> 3", "dunning_final_demand (letter)"],
        # FINAL-2 is newly overdue: it starts at level 1; the notice is at the highest item level
        # (the final demand, by letter again) and lists FINAL-2 at its own level. No new charge:
        # no item climbed to the charge level.
        day(17): ["step final_demand 1341.70 [FINAL-1, FEE-FINAL-EUR-E1-L3, INT-FINAL-EUR-E1-L3, "
                  "FINAL-2]", "FINAL-2 -> 1", "dunning_final_demand (letter)"],
        # FINAL-1 paid on 18 March: its hold level (due 20 March) never comes; FINAL-2 climbs to
        # its second level on 22 March and the notice follows it down to level 2.
        day(22): ["step second_notice 341.70 [FEE-FINAL-EUR-E1-L3, INT-FINAL-EUR-E1-L3, FINAL-2]",
                  "FINAL-2 -> 2", "dunning_second_notice"],
    },
}  # fmt: skip


@dataclass
class Story:
    app: App
    got: dict[str, dict[date, list[str]]]
    outcomes: dict[date, list]


def _happened(app: App, d: date, seen: dict[str, int]) -> dict[str, list[str]]:
    """The steps, item climbs and notices recorded since the last call, per customer."""
    out: dict[str, list[str]] = {}
    with app.uow() as uow:
        s = uow.session
        codes = dict(s.exec(select(Customer.id, Customer.code)).all())
        for a in s.exec(select(DunningAction).where(col(DunningAction.id) > seen["action"])):
            seen["action"] = max(seen["action"], a.id or 0)
            what = (
                f"step {a.level_name} {a.overdue_total:.2f} [{', '.join(a.invoice_numbers)}]"
                if a.level
                else "cleared"
            )
            out.setdefault(codes[a.customer_id], []).append(what)
        for r in s.exec(select(DunningItemLevel).where(col(DunningItemLevel.id) > seen["item"])):
            seen["item"] = max(seen["item"], r.id or 0)
            assert r.as_of == d
            out.setdefault(codes[r.customer_id], []).append(f"{r.item_number} -> {r.level}")
        for n in s.exec(select(Notice).where(col(Notice.id) > seen["notice"])):
            seen["notice"] = max(seen["notice"], n.id or 0)
            kind = n.kind + (" (letter)" if n.channel == "letter" else "")
            out.setdefault(codes[n.customer_id], []).append(kind)
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def story(request, tmp_path_factory) -> Iterator[Story]:
    with _desk(tmp_path_factory.mktemp("items"), request.param) as app:
        with app.uow() as uow:
            _ledger(uow.session)
            uow.commit()
        got: dict[str, dict[date, list[str]]] = {}
        outcomes: dict[date, list] = {}
        seen = {"action": 0, "item": 0, "notice": 0}
        for d in RUN_DAYS:
            if d in EVENTS:
                EVENTS[d](app, d)
            outcomes[d] = run_day(app, d, None)
            for code, lines in _happened(app, d, seen).items():
                got.setdefault(code, {})[d] = sorted(lines)
        yield Story(app, got, outcomes)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_items_climb_their_own_levels_day_by_day(story: Story, code: str):
    assert story.got.get(code, {}) == {d: sorted(v) for d, v in EXPECTED[code].items()}


def _notice(app: App, key: str) -> Notice:
    with app.uow() as uow:
        return uow.session.exec(select(Notice).where(Notice.idempotency_key == key)).one()


def test_a_newly_overdue_item_is_listed_at_its_own_level_under_the_final_demand(story: Story):
    # The second final demand of the episode has its own key; it lists each item's level.
    n = _notice(story.app, "dunning:FINAL:EUR:e1:l3-2")
    lines = {ln.split()[1]: ln for ln in n.text.splitlines() if ln.strip().startswith("- ")}
    assert "level 3" in lines[F1] and "19 days overdue" in lines[F1]
    assert "level 1" in lines[F2] and "1 day overdue" in lines[F2]
    assert "level" not in lines["FEE-FINAL-EUR-E1-L3"]  # charges carry no level
    assert '<th class="num">Level</th>' in n.html
    [o] = [o for o in story.outcomes[day(17)] if o.customer == "FINAL"]
    assert (o.status, o.level, o.level_name) == ("sent", 3, "final_demand")


def test_once_the_old_items_are_paid_the_new_items_level_drives_the_notice(story: Story):
    [o] = [o for o in story.outcomes[day(22)] if o.customer == "FINAL"]
    assert (o.status, o.level, o.level_name) == ("sent", 2, "second_notice")
    with story.app.uow() as uow:
        hold = uow.session.exec(select(Notice).where(Notice.kind == "credit_hold_sales")).all()
    assert [n.idempotency_key for n in hold] == ["credit-hold:INDEP:EUR:e1:l4"]
    # What shows "the level" reads the step record: FINAL stands at level 2 now.
    with story.app.uow() as uow:
        final = uow.session.exec(select(Customer).where(Customer.code == "FINAL")).one()
        last = uow.session.exec(
            select(DunningAction)
            .where(DunningAction.customer_id == final.id)
            .order_by(col(DunningAction.id).desc())
        ).first()
    assert last is not None and last.level == 2


def test_the_case_file_shows_each_items_own_level(story: Story):
    from credit.services import casework

    file = casework.case_file(
        story.app, customer_code="INDEP", as_of=day(22), viewer="cora.collector"
    )
    [eur] = file["currencies"]
    assert eur["level"] == 4
    assert {i["number"]: i["level"] for i in eur["items"]} == {
        I1: 4, I2: 3, FEE3.format("INDEP"): 0, INT3.format("INDEP"): 0,
        FEE3.format("INDEP") + "-2": 0, INT3.format("INDEP") + "-2": 0,
    }  # fmt: skip


def test_a_rerun_the_same_day_is_a_no_op(story: Story):
    seen = {"action": 10**9, "item": 10**9, "notice": 10**9}
    with story.app.uow() as uow:
        s = uow.session
        counts = [len(s.exec(select(t)).all()) for t in (DunningAction, DunningItemLevel, Notice)]
    outcomes = run_day(story.app, day(22), None)
    assert {o.status for o in outcomes} == {"already_done"}
    with story.app.uow() as uow:
        s = uow.session
        again = [len(s.exec(select(t)).all()) for t in (DunningAction, DunningItemLevel, Notice)]
    assert again == counts and _happened(story.app, day(22), seen) == {}


def test_the_next_climb_is_named_when_nothing_is_due(story: Story):
    [o] = [o for o in story.outcomes[day(11)] if o.customer == "INDEP"]
    assert o.status == "nothing_due"
    assert o.reason == "level 3 (final_demand) is due on 2027-03-13 for INDEP-1"


# --------------------------------------------------------------------------- migrated history


def _at_0014(app: App) -> None:
    """A customer at level 3 in episode 1 as the database held it at 0014 (one level per
    customer): MIG-1 due before the last step, MIG-2 due after it."""
    engine = app.engine
    downgrade(engine, "0014")
    now = datetime(2027, 3, 1, tzinfo=UTC)
    with Session(engine) as s:
        cid = s.execute(
            insert(table_of(Customer))
            .values(
                code="MIG",
                name="Mig GmbH",
                email="ap@mig.example",
                country="DE",
                currency="EUR",
                locale="en",
                sales_owner_email="sales@example.com",
                postal_address="Mig GmbH\nHauptstrasse 1\n20095 Hamburg",
                created_at=now,
                updated_at=now,
            )  # fmt: skip
            .returning(table_of(Customer).c.id)
        ).scalar_one()
        for number, due, amount in (("MIG-1", day(26, 2), "1000.00"), ("MIG-2", day(16), "300.00")):
            s.execute(
                insert(table_of(Invoice)).values(
                    customer_id=cid,
                    number=number,
                    issue_date=day(10, 2),
                    due_date=due,
                    amount=Decimal(amount),
                    currency="EUR",
                    kind="invoice",
                    created_at=now,
                )  # fmt: skip
            )
        for level, name, on in (
            (1, "reminder", 1),
            (2, "second_notice", 8),
            (3, "final_demand", 15),
        ):
            s.execute(
                insert(table_of(DunningAction)).values(
                    customer_id=cid,
                    currency="EUR",
                    episode=1,
                    level=level,
                    level_name=name,
                    as_of=day(on),
                    invoice_numbers=["MIG-1"],
                    overdue_total=Decimal("1000.00"),
                    policy_version=1,
                    channel="email",
                    details=None,
                    created_at=now,
                )  # fmt: skip
            )
        s.commit()
    upgrade(engine)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_migrated_history_does_not_jump(tmp_path: Path, database: str):
    with _desk(tmp_path, database) as app:
        _at_0014(app)
        with app.uow() as uow:
            rows = uow.session.exec(select(DunningItemLevel)).all()
        # MIG-1 was due before the last step: it carries the customer's level 3 from that day;
        # MIG-2 fell due after it and starts at 0.
        assert [(r.item_number, r.episode, r.level, r.as_of) for r in rows] == [
            ("MIG-1", 1, 3, day(15))
        ]
        [o] = run_day(app, day(22), None)
        # The next notice is level 4 (MIG-1's next), not 1 (a fresh start) and not 5.
        assert (o.status, o.level, o.level_name) == ("sent", 4, "credit_hold")
        with app.uow() as uow:
            climbed = {
                r.item_number: r.level
                for r in uow.session.exec(
                    select(DunningItemLevel).where(DunningItemLevel.as_of == day(22))
                )
            }
        assert climbed == {"MIG-1": 4, "MIG-2": 1}
