"""The demo's collections depth and credit control: contacts with a CC list, a second dunning
profile with a courtesy reminder before the due date, each invoice at its own dunning level, and a
held order released once by an approver with the authority for its amount."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import Customer
from credit.db.models_dunning_items import DunningItemLevel
from credit.domain.words import counted

COURTESY_DAY = date(2026, 11, 25)  # five days before C-1012's invoice falls due
KEY_ACCOUNT = "C-1012"


class Demo(Protocol):
    """What these steps use of the demo (flows.demo.Demo)."""

    app: App
    directory: Path
    data: Path

    def say(self, text: str) -> None: ...


def before_collections(demo: Demo) -> None:
    """Contacts (the dunning contact and CC) and a key account on its own dunning profile."""
    done = services.import_data(
        demo.app, kind="contacts", path=demo.data / "contacts.csv", actor="demo", dry_run=False
    )
    demo.say(
        f"   credit import contacts contacts.csv: {counted(len(done.created), 'contact')}; "
        "C-1003's and C-1007's dunning notices go to their accounts payable, with the finance "
        "director on CC"
    )
    services.assign_dunning_profile(
        demo.app, customer_code=KEY_ACCOUNT, profile="key_accounts", by="carla.manager",
        reason="Key account: a courtesy reminder before the due date, first reminder after a week",
    )  # fmt: skip
    demo.say(
        f"   credit customers profile {KEY_ACCOUNT} key_accounts --as carla.manager: a second "
        "dunning profile (courtesy reminder 5 days before due; reminder 7 days after, not 1)"
    )


def before_run(demo: Demo, day: date) -> None:
    """What happens before the collections run of ``day``."""
    if day == date(2026, 11, 30):
        courtesy(demo)


def after_run(demo: Demo, day: date) -> None:
    """What the demo shows after the collections run of ``day``."""
    if day == date(2026, 11, 2):
        item_levels(demo, "C-1003", day)
    if day == date(2026, 11, 16):
        release_order(demo, day)


def courtesy(demo: Demo) -> None:
    """C-1012's invoice falls due on 30 November: a friendly reminder five days before."""
    with demo.app.uow() as uow:
        cid = uow.session.exec(select(Customer.id).where(Customer.code == KEY_ACCOUNT)).one()
    assert cid is not None  # a saved row
    outcomes = services.dun_customer(demo.app, customer_id=cid, as_of=COURTESY_DAY, dry_run=False)
    sent = [o for o in outcomes if o.status == "courtesy"]
    demo.say(
        f"   {COURTESY_DAY}: {KEY_ACCOUNT} (key_accounts): "
        + (
            f"courtesy reminder for {', '.join(sent[0].invoices)} due 2026-11-30 "
            "(never a level, a fee or a hold)"
            if sent
            else "no courtesy reminder"
        )
    )


def item_levels(demo: Demo, customer: str, day: date) -> None:
    """The levels each invoice of ``customer`` stands at after the run of ``day``."""
    with demo.app.uow() as uow:
        s = uow.session
        cid = s.exec(select(Customer.id).where(Customer.code == customer)).one()
        rows = s.exec(
            select(DunningItemLevel)
            .where(DunningItemLevel.customer_id == cid, DunningItemLevel.as_of <= day)
            .order_by(col(DunningItemLevel.item_number), col(DunningItemLevel.level))
        ).all()
    levels: dict[str, int] = {}
    for r in rows:
        levels[r.item_number] = r.level
    demo.say(
        f"      {customer}'s notice lists each invoice at its own level: "
        + ", ".join(f"{n} level {lv}" for n, lv in sorted(levels.items()))
    )


def release_order(demo: Demo, day: date) -> None:
    """Sales asks for C-1003's held order SO-4711 to ship; a credit manager (authority up to
    50,000) approves; the order's next check allows it once, the one after holds it again."""
    a = demo.app
    asked = services.request_order_release(
        a, customer_code="C-1003", order_ref="SO-4711", amount=Decimal("8000"),
        reason="Customer pays by transfer this week; goods are perishable", by="sam.sales",
        as_of=day,
    )  # fmt: skip
    services.decide(
        a, subject="order_release", subject_id=asked["id"], username="carla.manager",
        approve=True, comment="One shipment; the payment is announced", as_of=day,
    )  # fmt: skip
    first = services.check_order(
        a, customer_code="C-1003", amount=Decimal("8000"), as_of=day, order_ref="SO-4711"
    )
    second = services.check_order(
        a, customer_code="C-1003", amount=Decimal("8000"), as_of=day, order_ref="SO-4711"
    )
    demo.say(
        f"   credit orders release C-1003 --order SO-4711 --amount 8000 --as sam.sales: release "
        f"{asked['id']} approved by carla.manager (credit approve {asked['id']} "
        f"--subject order_release)\n"
        f"      credit orders check C-1003 --order SO-4711: [bold]{first['decision'].upper()}[/] "
        f"({first['allowed_by']}); checked again: [bold]{second['decision'].upper()}[/] "
        "(a release is used once)"
    )


def copies(demo: Demo) -> int:
    """How many notices went out with a CC list."""
    from credit.db.models_contacts import NoticeCopy

    with demo.app.uow() as uow:
        return len(uow.session.exec(select(NoticeCopy.notice_key)).all())
