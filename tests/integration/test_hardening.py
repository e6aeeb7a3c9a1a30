"""Failure modes found in review: decisions that race or arrive late, holds across currencies,
re-imports with fewer columns, a notice that cannot be built, policies proposed side by side."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select

from credit import notices, services
from credit.db.models import CreditLine, Customer, Invoice, Notice, NoticeStatus
from credit.importers import ImportFailed, import_file
from credit.resources import resource_dir
from tests.conftest import import_sample
from tests.integration.test_lifecycle_services import DAY, collect, decide, review


def test_a_rejected_request_cannot_be_approved_at_a_later_level(ledger):
    rid = review(ledger, "C-1001", "120000")  # two levels
    decide(ledger, rid, "carla.manager", ok=False, comment="Exposure too high")
    with pytest.raises(services.ServiceError, match="is rejected, not awaiting approval"):
        decide(ledger, rid, "fiona.director")
    assert services.pending_approvals(ledger) == []


def test_a_step_decided_meanwhile_cannot_be_decided_again(ledger):
    rid = review(ledger, "C-1003", "30000")
    decide(ledger, rid, "carla.manager")
    with pytest.raises(services.ServiceError, match="is approved, not awaiting approval"):
        decide(ledger, rid, "ben.manager")


def test_the_decision_and_what_follows_commit_together(ledger):
    rid = review(ledger, "C-1001", "120000")
    services.decide(
        ledger,
        subject=services.SUBJECT_REQUEST,
        subject_id=rid,
        username="carla.manager",
        approve=True,
        comment="ok",
        as_of=DAY,
    )
    # no continuation flow ran, yet the next approver is already asked
    with ledger.uow() as uow:
        kinds = [
            n.recipients
            for n in uow.session.exec(select(Notice).where(Notice.kind == "approval_needed"))
        ]
    assert kinds == [["carla.jansen@example.com"], ["fiona.meyer@example.com"]]
    services.decide(
        ledger,
        subject=services.SUBJECT_REQUEST,
        subject_id=rid,
        username="fiona.director",
        approve=True,
        comment="ok",
        as_of=DAY,
    )
    assert (
        services.customer_overview(ledger, code="C-1001", as_of=DAY)["requests"][0]["status"]
        == "approved"
    )


def test_paying_one_currency_does_not_release_a_hold_another_currency_caused(story):
    ledger = story
    rid = review(ledger, "C-1003", "30000")
    decide(ledger, rid, "carla.manager")
    services.publish_request(ledger, request_id=rid, as_of=DAY)
    with ledger.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1003")).one()
        uow.session.add(
            Invoice(
                customer_id=c.id,
                number="USD-1",
                issue_date=date(2026, 8, 1),
                due_date=date(2026, 9, 30),
                amount=Decimal("5000"),
                currency="USD",
            )
        )
        uow.commit()
    for day in (date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16)):
        collect(ledger, day)
    with ledger.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
    assert line.status == "on_hold"
    # the EUR invoices were paid on 2026-11-20, the USD one was not
    import_sample(ledger, ("payments",), payments_until=date(2026, 11, 30))
    collect(ledger, date(2026, 11, 30))
    with ledger.uow() as uow:
        line = uow.session.exec(select(CreditLine)).one()
        released = uow.session.exec(
            select(Notice).where(Notice.kind == "credit_hold_released")
        ).all()
    assert line.status == "on_hold" and released == []


def test_reimport_without_optional_columns_keeps_their_values(app, tmp_path):
    with app.uow() as uow:
        import_file(
            uow.session,
            kind="customers",
            path=resource_dir("sample_data") / "customers.csv",
            actor="t",
            dry_run=False,
        )
        uow.commit()
    f = tmp_path / "c.csv"
    f.write_text(
        "code,name,email,country,currency,sales_owner_email\n"
        "C-1001,Nordwind Logistik GmbH,ap@nordwind.example,DE,EUR,sales.north@example.com\n"
    )
    with app.uow() as uow:
        plan = import_file(uow.session, kind="customers", path=f, actor="t", dry_run=False)
        uow.commit()
    assert plan.unchanged == ["C-1001"]
    with app.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1001")).one()
    assert (c.locale, c.tax_id, c.registered_on) == ("de", "DE811907980", date(2004, 3, 15))


def test_customer_codes_differing_only_in_case_or_spaces_are_one_customer(app, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(
        "code,name,email,country,currency,sales_owner_email\n"
        "c-9 ,Nine Ltd,a@nine.example,GB,GBP,s@x.example\n"
        "C-9,Nine Ltd,a@nine.example,GB,GBP,s@x.example\n"
    )
    with app.uow() as uow:
        plan = import_file(uow.session, kind="customers", path=f, actor="t", dry_run=False)
        uow.commit()
    assert plan.created == ["C-9"]
    assert any("read as 'C-9'" in fix for fix in plan.fixes) and any(
        "merged" in fix for fix in plan.fixes
    )


def test_control_characters_in_text_are_refused_at_import(app, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(
        'code,name,email,country,currency,sales_owner_email\nC-8,"Evil\nCorp",a@b.example,GB,GBP,s@x.example\n'
    )
    with (
        app.uow() as uow,
        pytest.raises(ImportFailed, match="column name: value 'Evil\nCorp': contains a line break"),
    ):
        import_file(uow.session, kind="customers", path=f, actor="t", dry_run=False)


def test_a_notice_that_cannot_become_a_message_fails_alone_and_the_rest_is_delivered(app):
    with app.uow() as uow:
        for key, subject in (("bad", "Broken\r\nBcc: everyone@example.com"), ("good", "Fine")):
            uow.session.add(
                Notice(
                    idempotency_key=key,
                    kind="test",
                    locale="en",
                    recipients=["a@b.example"],
                    subject=subject,
                    text="t",
                    html="<p>h</p>",
                )
            )
        uow.commit()
    report = notices.deliver_pending(
        app.engine, notices.FileTransport(app.settings.outbox_dir), mail_from=app.settings.mail_from
    )
    assert (report.sent, report.failed) == (1, 1)
    with app.uow() as uow:
        bad = uow.session.exec(select(Notice).where(Notice.idempotency_key == "bad")).one()
    assert bad.status == NoticeStatus.FAILED and "cannot build the message" in bad.last_error
    again = notices.deliver_pending(
        app.engine, notices.FileTransport(app.settings.outbox_dir), mail_from=app.settings.mail_from
    )
    assert (again.sent, again.failed) == (0, 0)


def test_two_policy_versions_proposed_side_by_side_cannot_undo_each_other(ledger):
    path = resource_dir("sample_data") / "policy_v2.yaml"
    v2 = services.propose_policy(ledger, path=path, by="carla.manager", reason="first")
    v3 = services.propose_policy(ledger, path=path, by="ben.manager", reason="second")
    for version in (v2, v3):
        for user in ("fiona.director", "victor.cfo"):
            services.decide(
                ledger,
                subject=services.SUBJECT_POLICY,
                subject_id=version,
                username=user,
                approve=True,
                comment=None,
                as_of=DAY,
            )
    assert services.policy_view(ledger, version=v2)["status"] == "published"
    assert services.policy_view(ledger, version=v3)["status"] == "rejected"
    with ledger.uow() as uow:
        [n] = uow.session.exec(select(Notice).where(Notice.kind == "policy_rejected")).all()
    assert (
        n.recipients == ["ben.okafor@example.com"] and "was published after this proposal" in n.text
    )


def test_a_policy_naming_a_missing_template_is_refused_at_proposal(ledger, tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text(
        (resource_dir("config") / "policy.yaml")
        .read_text()
        .replace("template: dunning_reminder", "template: dunning_remindr")
    )
    with pytest.raises(
        services.ServiceError, match="no notice template for dunning level 1 \\(reminder\\)"
    ):
        services.propose_policy(ledger, path=bad, by="carla.manager", reason="typo")


def test_reviews_started_on_the_same_day_by_two_runs_each_get_their_list(ledger):
    def item(code: str) -> dict:
        return {
            "customer": code,
            "name": code,
            "next_review_on": "2026-10-01",
            "reason": "scheduled",
            "flagged_on": None,
            "limit": "1000.0000",
            "currency": "EUR",
            "rating": "B",
            "status": "active",
            "review_key": f"periodic:{code}:2026-10-01",
            "review": {
                "customer": code,
                "status": "in_approval",
                "request_id": 1,
                "waiting_for": "x",
            },
        }

    a = services.notify_reviews_started(ledger, as_of=DAY, reviews=[item("C-1001")])
    b = services.notify_reviews_started(ledger, as_of=DAY, reviews=[item("C-1002")])
    again = services.notify_reviews_started(ledger, as_of=DAY, reviews=[item("C-1002")])
    assert a != b and b == again


def test_migration_from_the_first_schema_keeps_existing_rows(tmp_path):
    from credit.db.engine import make_engine
    from credit.db.migrate import head_revision, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customer (code, name, email, country, currency, locale, sales_owner_email, "
                "created_at, updated_at) VALUES ('C1', 'N', 'a@b.cd', 'DE', 'EUR', 'en', 's@b.cd', "
                "'2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO payment (customer_id, reference, paid_on, amount, currency, method, created_at) "
                "VALUES (1, 'P1', '2026-01-02', 1000000, 'EUR', 'bank_transfer', '2026-01-02')"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM payment")).scalar_one() == "received"
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            == head_revision()
        )
