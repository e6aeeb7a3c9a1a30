"""Group exposure and temporary limits, table-driven on SQLite and PostgreSQL.

The sample ledger as of 1 December 2026, with credit lines published through the real chain
(research, the analyst's rating, approval, publication):

- C-1001 (limit 60,000.00 EUR) and C-1002 (limit 40,000.00 EUR) belong to the group NORDATLAS,
  whose own limit is 50,000.00 EUR: an order each customer's own limit allows is held when the
  group's exposure with it exceeds the group limit; taken out of the group, the customer's order
  goes through again.
- C-1003 (limit 20,000.00 EUR) gets a temporary raise to 35,000.00 EUR until 15 December 2026:
  in force through that day, fallen back by the first daily run after it (16 December), with its
  notices once; a rerun sends nothing more.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from credit import services
from credit.app import App
from credit.db.models import AuditEvent, CreditLine, Customer, Notice
from credit.db.models_groups import TemporaryLimit
from credit.importers import import_file
from credit.settings import Settings
from tests.conftest import SAMPLE, TEST_COMPANY, import_sample, scratch_postgres

DAY = date(2026, 12, 1)
UNTIL = date(2026, 12, 15)
QUALITATIVE = {
    "market_position": Decimal(70),
    "management": Decimal(70),
    "industry_outlook": Decimal(60),
    "reputation": Decimal(70),
}
LINES = {"C-1001": "60000", "C-1002": "40000", "C-1003": "20000"}


def review(a: App, code: str, limit: str, key: str, *, as_of: date = DAY) -> int:
    """Research (with the analyst's rating), draft, approve at every level and publish."""
    collected = services.collect_customer_data(
        a, customer_code=code, as_of=as_of, requested_by="ben.manager", review_key=key,
        requested_limit=Decimal(limit), override_reason="agreed with sales", analyst="mia.analyst",
    )  # fmt: skip
    services.score_assessment(a, assessment_id=collected["assessment_id"])
    services.record_qualitative(
        a, customer_code=code, username="mia.analyst", scores=QUALITATIVE, comment="known",
        as_of=as_of,
    )  # fmt: skip
    rid = services.draft_request(a, assessment_id=collected["assessment_id"])
    progress = services.advance_request(a, request_id=rid, as_of=as_of)
    for _ in range(4):
        if progress.status != "in_approval":
            break
        approver = progress.waiting_for.split(": ")[-1]
        services.decide(
            a, subject=services.SUBJECT_REQUEST, subject_id=rid, username=approver,
            approve=True, comment="ok", as_of=as_of,
        )  # fmt: skip
        progress = services.advance_request(a, request_id=rid, as_of=as_of)
    assert progress.status == "approved", progress
    services.publish_request(a, request_id=rid, as_of=as_of)
    return rid


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request, tmp_path_factory) -> Iterator[App]:
    """The sample ledger with the three lines published, once per database."""
    tmp: Path = tmp_path_factory.mktemp(f"groups-{request.param}")
    with pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as stack:
        for key in list(os.environ):
            if key.startswith("CREDIT_") and key != "CREDIT_TEST_POSTGRES_URL":
                mp.delenv(key)
        mp.setenv("CREDIT_DATABASE_URL", f"sqlite:///{tmp / 'credit.db'}")
        mp.setenv("CREDIT_OUTBOX_DIR", str(tmp / "outbox"))
        for key, value in TEST_COMPANY.items():
            mp.setenv(key, value)
        mp.chdir(tmp)
        if request.param == "postgresql":
            stack.enter_context(scratch_postgres(mp))
        a = App(Settings.load())
        services.init_database(a, actor="test")
        import_sample(a)
        with a.uow() as uow:
            for kind in ("fx-rates", "orders"):
                path = SAMPLE / f"{kind.replace('-', '_')}.csv"
                import_file(uow.session, kind=kind, path=path, actor="test", dry_run=False)
            uow.commit()
        for code, limit in LINES.items():
            review(a, code, limit, f"t:{code}")
        yield a
        a.engine.dispose()


def notices(a: App, kind: str) -> list[Notice]:
    with a.uow() as uow:
        return list(
            uow.session.exec(select(Notice).where(Notice.kind == kind).order_by(col(Notice.id)))
        )


def audit_actions(a: App, prefix: str) -> list[tuple[str, str, str]]:
    with a.uow() as uow:
        return [
            (e.actor, e.action, e.entity_id)
            for e in uow.session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action).startswith(prefix))
                .order_by(col(AuditEvent.id))
            )
        ]


def check(a: App, code: str, amount: str, on: date = DAY) -> dict:
    return dict(services.check_order(a, customer_code=code, amount=Decimal(amount), as_of=on))


# --------------------------------------------------------------------------- group exposure

EUR = "EUR"
# C-1001 owes 9,600.00 and has an open order of 15,000.00; C-1002 owes nothing.
GROUP_REASON = (
    "group NORDATLAS (Nordwind & Atlas, 2 members): exposure EUR {total} (receivables "
    "EUR 9,600.00 + open orders EUR 15,000.00 + this order EUR {order}) exceeds the group limit "
    "EUR {limit} by EUR {over}"
)
# (customer, order amount, decision, the group's reason or None); each customer's own limit
# allows every one of these orders.
IN_THE_GROUP = [
    ("C-1002", "4000.00", "allow", None),
    ("C-1002", "6000.00", "hold", ("30,600.00", "6,000.00", "30,000.00", "600.00")),
    ("C-1001", "5400.00", "allow", None),  # exactly at the group limit
    ("C-1001", "5400.01", "hold", ("30,000.01", "5,400.01", "30,000.00", "0.01")),
]


def test_a_group_limit_holds_an_order_the_customers_own_limit_allows(desk):
    group = services.create_group(
        desk, code="nordatlas", name="Nordwind & Atlas", currency=EUR,
        limit=Decimal("30000"), by="carla.manager", reason="one parent company", as_of=DAY,
    )  # fmt: skip
    assert (group["code"], group["exposure"], group["members"]) == ("NORDATLAS", "0.00", [])
    group = services.add_members(
        desk, code="NORDATLAS", customers=["C-1001", "C-1002"], by="carla.manager",
        reason="subsidiaries of Nordwind Holding", as_of=DAY,
    )  # fmt: skip
    assert [(m["customer"], m["exposure"]) for m in group["members"]] == [
        ("C-1001", "24600.00"),
        ("C-1002", "0.00"),
    ]
    assert (group["exposure"], group["headroom"], group["over_limit"]) == (
        "24600.00", "5400.00", False,
    )  # fmt: skip
    for code, amount, decision, figures in IN_THE_GROUP:
        got = check(desk, code, amount)
        assert got["decision"] == decision, (code, amount, got["reasons"])
        expected = [] if figures is None else [GROUP_REASON.format(
            total=figures[0], order=figures[1], limit=figures[2], over=figures[3],
        )]  # fmt: skip
        assert got["reasons"] == expected, (code, amount)
        own_limit = Decimal(LINES[code])
        assert Decimal(got["exposure"]) <= own_limit  # the customer's own limit allows it
        assert got["group"]["group"]["code"] == "NORDATLAS"
    # The customer's page and the research both show the group.
    overview = services.customer_overview(desk, code="C-1002", as_of=DAY)
    assert overview["group"]["code"] == "NORDATLAS" and overview["group"]["limit"] == "30000.00"
    rid = review(desk, "C-1002", "40000", "t:group-evidence")
    with desk.uow() as uow:
        from credit.db.models import CreditAssessment, CreditRequest

        r = uow.session.get(CreditRequest, rid)
        a = uow.session.get(CreditAssessment, r.assessment_id)
        assert a.inputs["group"]["exposure"] == "24600.00"
        assert a.inputs["group"]["limit"] == "30000.00"
    asked = [n for n in notices(desk, "approval_needed") if f"#{rid}," in n.text]
    assert asked and all(
        "\n  Group:              NORDATLAS (Nordwind & Atlas, 2 members): exposure €24,600.00 "
        "of the group limit €30,000.00 (at research, 2026-12-01)\n" in n.text
        for n in asked
    )

    # Over its limit, the group is a risk signal of each member (the risk scan).
    services.set_group_limit(
        desk, code="NORDATLAS", limit=Decimal("20000"), by="carla.manager", reason="cut",
        as_of=DAY,
    )  # fmt: skip
    with desk.uow() as uow:
        c2 = uow.session.exec(select(Customer).where(Customer.code == "C-1002")).one()
    services.scan_risk(desk, as_of=DAY, customer_ids=[c2.id])
    found = [s for s in services.list_signals(desk, customer_code="C-1002")]
    assert [(s["kind"], s["severity"], s["detail"]) for s in found if "group" in s["kind"]] == [
        ("group_over_limit", "medium",
         "group NORDATLAS is over its limit: exposure 24,600.00 of 20,000.00 EUR"),
    ]  # fmt: skip
    # A bigger group limit is beyond a credit manager's authority (50,000.00 EUR).
    with pytest.raises(services.ServiceError, match="carla.manager may decide limits up to"):
        services.set_group_limit(
            desk, code="NORDATLAS", limit=Decimal("60000"), by="carla.manager", reason="x",
            as_of=DAY,
        )  # fmt: skip
    services.set_group_limit(
        desk, code="NORDATLAS", limit=Decimal("60000"), by="fiona.director",
        reason="holding guarantee", as_of=DAY,
    )  # fmt: skip
    assert check(desk, "C-1002", "6000.00")["decision"] == "allow"
    services.set_group_limit(
        desk, code="NORDATLAS", limit=Decimal("30000"), by="carla.manager", reason="back",
        as_of=DAY,
    )  # fmt: skip
    assert check(desk, "C-1002", "6000.00")["decision"] == "hold"
    # Out of the group, the customer's own limit alone decides again.
    group = services.remove_member(
        desk, code="NORDATLAS", customer_code="C-1001", by="carla.manager", reason="sold",
        as_of=DAY,
    )  # fmt: skip
    assert group["exposure"] == "0.00"
    assert check(desk, "C-1002", "6000.00")["decision"] == "allow"
    assert check(desk, "C-1001", "5400.01")["group"] is None
    assert audit_actions(desk, "group.") == [
        ("carla.manager", "group.create", "NORDATLAS"),
        ("carla.manager", "group.add_member", "C-1001"),
        ("carla.manager", "group.add_member", "C-1002"),
        ("carla.manager", "group.limit", "NORDATLAS"),
        ("fiona.director", "group.limit", "NORDATLAS"),
        ("carla.manager", "group.limit", "NORDATLAS"),
        ("carla.manager", "group.remove_member", "C-1001"),
    ]


# Refused, one clear line each, nothing changed.
GROUP_REFUSALS = [
    ({"by": "mia.analyst"}, "mia.analyst may not manage customer groups"),
    ({"by": "junior.analyst"}, "junior.analyst may decide limits up to EUR 10,000.00"),
    ({"by": "nobody.at.all"}, "'nobody.at.all' is not in the approver directory"),
    ({"limit": Decimal("-5")}, "the group limit -5 must be positive"),
    ({"limit": Decimal("10.001")}, "the group limit 10.001: more decimals than EUR has"),
    ({"currency": "EURO"}, "the group currency 'EURO': not an ISO 4217"),
    ({"code": "no spaces"}, "the group code 'no spaces' must be"),
    ({"reason": " "}, "a reason is required"),
]


def test_group_decisions_are_refused_for_the_wrong_person_or_bad_values(desk):
    base = {
        "code": "REFUSED", "name": "Refused Holding", "currency": EUR,
        "limit": Decimal("20000"), "by": "carla.manager", "reason": "x", "as_of": DAY,
    }  # fmt: skip
    for change, message in GROUP_REFUSALS:
        with pytest.raises(services.ServiceError, match=message):
            services.create_group(desk, **{**base, **change})
    assert [g["code"] for g in services.list_groups(desk, as_of=DAY)] in ([], ["NORDATLAS"])
    services.create_group(desk, **{**base, "code": "ONE"})
    services.create_group(desk, **{**base, "code": "TWO"})
    services.add_members(
        desk, code="ONE", customers=["C-1004"], by="carla.manager", reason="x", as_of=DAY
    )
    with pytest.raises(services.ServiceError, match="C-1004 is in group ONE already"):
        services.add_members(
            desk, code="TWO", customers=["C-1004"], by="carla.manager", reason="x", as_of=DAY
        )
    with pytest.raises(services.ServiceError, match="customer C-1004 is not in group TWO"):
        services.remove_member(
            desk, code="TWO", customer_code="C-1004", by="carla.manager", reason="x", as_of=DAY
        )
    with pytest.raises(services.ServiceError, match="a customer group ONE exists already"):
        services.create_group(desk, **{**base, "code": "one"})
    assert services.show_group(desk, code="TWO", as_of=DAY)["members"] == []


# --------------------------------------------------------------------------- temporary limits

# (day, what happens, C-1003's limit that day, decision on an order of 10,000.00)
TEMPORARY = [
    (date(2026, 12, 2), "asked for and approved", "35000.0000", "allow"),
    (date(2026, 12, 15), "last day in force", "35000.0000", "allow"),
    (date(2026, 12, 16), "fallen back", "20000.0000", "hold"),
    (date(2026, 12, 17), "rerun: nothing more", "20000.0000", "hold"),
]


def ask_temporary(a: App, code: str, limit: str, until: date, *, on: date) -> str:
    """`credit reviews start CODE --requested-limit L --until D`, its research then run here
    (the follow-up the service would run is marked done); the review's key."""
    from credit.db.models import FollowUp

    asked = services.request_review(
        a, customer_code=code, requested_by="ben.manager", as_of=on, analyst="mia.analyst",
        requested_limit=Decimal(limit), override_reason="seasonal peak", until=until,
    )  # fmt: skip
    with a.uow() as uow:
        done = uow.session.get(FollowUp, asked["follow_up"])
        done.status = "done"
        uow.session.add(done)
        uow.commit()
    return asked["review_key"]


def line_of(a: App, code: str) -> CreditLine:
    with a.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == code)).one()
        return uow.session.exec(select(CreditLine).where(CreditLine.customer_id == c.id)).one()


def test_a_temporary_limit_is_approved_in_force_and_falls_back_once(desk):
    key = ask_temporary(desk, "C-1003", "35000", UNTIL, on=DAY)
    rid = review(desk, "C-1003", "35000", key, as_of=date(2026, 12, 2))
    overview = services.customer_overview(desk, code="C-1003", as_of=date(2026, 12, 2))
    assert overview["temporary_limit"] == {
        "limit": "35000.0000", "currency": "EUR", "until": "2026-12-15", "then": "20000.0000",
        "started_on": "2026-12-02", "request_id": rid,
    }  # fmt: skip
    asking = [n for n in notices(desk, "approval_needed") if f"#{rid}," in n.text]
    assert asking and all(
        "\n  Temporary:          until 2026-12-15, then the current limit again\n" in n.text
        for n in asking
    )
    letter = notices(desk, "terms_letter")[-1]
    assert (
        "  Credit limit:   €35,000.00 (previously €20,000.00)\n"
        "  Until:          Dec 15, 2026 (a temporary increase); from the day after, €20,000.00 "
        "again\n\n  Payment terms:"
    ) in letter.text
    assert "temporary increase" in letter.html
    sales = notices(desk, "line_published_sales")[-1]
    assert "\n  Temporary:      until 2026-12-15, then €20,000.00 again (falls" in sales.text
    expired = {}
    for day, what, limit, decision in TEMPORARY:
        expired[day] = services.expire_temporary_limits(desk, as_of=day)
        assert str(line_of(desk, "C-1003").limit) == limit, what
        assert check(desk, "C-1003", "10000", on=day)["decision"] == decision, what
    assert [len(v) for v in expired.values()] == [0, 0, 1, 0]
    [done] = expired[date(2026, 12, 16)]
    assert done == {
        "customer": "C-1003", "limit": "35000.0000", "fallen_back_to": "20000.0000",
        "currency": "EUR", "until": "2026-12-15", "notices": done["notices"],
    }  # fmt: skip
    [internal] = notices(desk, "temporary_limit_expired")
    assert sorted(internal.recipients) == [
        "ben.okafor@example.com", "credit-team@example.com", "sales.south@example.com",
    ]  # fmt: skip
    assert "ended on" in internal.text and "EUR 20,000.00" in internal.subject.replace("€", "EUR ")
    [letter] = notices(desk, "temporary_limit_ended")
    assert letter.recipients == ["compta@brightline.example"] and letter.locale == "en"
    assert "temporary increase" in letter.subject
    assert [n.id for n in (internal, letter)] == done["notices"]
    assert services.customer_overview(desk, code="C-1003", as_of=UNTIL)["temporary_limit"] is None
    with desk.uow() as uow:
        [t] = uow.session.exec(select(TemporaryLimit)).all()
        assert (t.status, t.ended_on, t.request_id) == ("expired", date(2026, 12, 16), rid)
        assert t.review_key == key
    assert [a for _, a, _ in audit_actions(desk, "credit_line.temporary")] == [
        "credit_line.temporary_limit_expired"
    ]

    # A second raise, superseded by a review published before its end: nothing falls back.
    key = ask_temporary(desk, "C-1003", "30000", date(2026, 12, 31), on=date(2026, 12, 17))
    review(desk, "C-1003", "30000", key, as_of=date(2026, 12, 17))
    review(desk, "C-1003", "25000", "t:C-1003:december", as_of=date(2026, 12, 18))
    assert services.expire_temporary_limits(desk, as_of=date(2027, 1, 2)) == []
    assert str(line_of(desk, "C-1003").limit) == "25000.0000"
    with desk.uow() as uow:
        rows = uow.session.exec(select(TemporaryLimit).order_by(col(TemporaryLimit.id))).all()
        assert [(t.status, t.ended_on) for t in rows] == [
            ("expired", date(2026, 12, 16)),
            ("superseded", date(2026, 12, 18)),
        ]
    assert len(notices(desk, "temporary_limit_expired")) == 1


TEMPORARY_REFUSALS = [
    ({"until": DAY}, "end date 2026-12-01 must be after the review's day 2026-12-01"),
    ({"until": date(2028, 1, 1)}, "more than 366 days ahead"),
    ({"requested_limit": None, "override_reason": None}, "needs a requested limit"),
    ({"requested_limit": Decimal("15000")}, "a temporary limit is a raise: 15000 is not above"),
    ({"customer_code": "C-1005"}, "this customer has none yet"),
]


def test_a_temporary_limit_is_refused_when_it_is_no_raise_or_runs_too_long(desk):
    base = {
        "customer_code": "C-1002", "requested_by": "ben.manager", "as_of": DAY,
        "requested_limit": Decimal("45000"), "override_reason": "x", "until": UNTIL,
    }  # fmt: skip
    for change, message in TEMPORARY_REFUSALS:
        with pytest.raises(services.ServiceError, match=message):
            services.request_review(desk, **{**base, **change})
    with desk.uow() as uow:
        assert not uow.session.exec(
            select(TemporaryLimit).where(TemporaryLimit.review_key.startswith("manual:C-1002"))
        ).all()
