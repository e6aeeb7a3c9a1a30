"""Research as a credit analyst trusts it: cleaning, explainable and reproducible scores, the
qualitative step with reminders, and risk signals that trigger a re-review."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from credit import services
from credit.app import App
from credit.db.models import (
    AuditEvent,
    CreditAssessment,
    CreditPolicy,
    Customer,
    Invoice,
    Notice,
    Payment,
    RiskSignal,
    utcnow,
)
from credit.importers import ImportFailed, import_file
from tests.conftest import SAMPLE

DAY = date(2026, 10, 1)
RATINGS = {
    "market_position": Decimal(70),
    "management": Decimal(65),
    "industry_outlook": Decimal(55),
    "reputation": Decimal(75),
}


def start(app, code: str, key: str = "k", as_of: date = DAY) -> dict:
    collected = services.collect_customer_data(
        app,
        customer_code=code,
        as_of=as_of,
        requested_by="ben.manager",
        review_key=f"{key}:{code}",
        analyst="junior.analyst",
    )
    return services.score_assessment(app, assessment_id=collected["assessment_id"])


def import_rates(app) -> None:
    with app.uow() as uow:
        import_file(
            uow.session,
            kind="fx-rates",
            path=SAMPLE / "fx_rates.csv",
            actor="t",
            dry_run=False,
            base_currency="EUR",
        )
        uow.commit()


def notices(app, kind: str) -> list[Notice]:
    with app.uow() as uow:
        return list(uow.session.exec(select(Notice).where(Notice.kind == kind)))


def test_rescoring_a_stored_assessment_with_its_policy_version_gives_the_same_result(ledger):
    scored = start(ledger, "C-1002")
    services.record_qualitative(
        ledger,
        customer_code="C-1002",
        username="junior.analyst",
        scores=RATINGS,
        comment="steady distributor",
    )
    # New data after the assessment must not change how it is re-scored: the snapshot is what counts.
    with ledger.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1002")).one()
        uow.session.add(
            Payment(
                customer_id=c.id,
                reference="LATE-X",
                paid_on=DAY - timedelta(days=1),
                amount=Decimal("1"),
                currency="EUR",
                method="cheque",
            )
        )
        uow.commit()
    with ledger.uow() as uow:
        a = uow.session.get(CreditAssessment, scored["assessment_id"])
        again = services.rescore(a, ledger.policy_body_for(uow.session, a.policy_version))
    assert again.total == a.quantitative_score
    assert [f.points for f in again.factors] == [Decimal(f["points"]) for f in a.factors]
    assert {k: (str(v) if v is not None else None) for k, v in again.metrics.items()} == a.metrics


def test_the_breakdown_stores_every_factors_value_band_points_and_weight(ledger):
    scored = start(ledger, "C-1006")
    factors = {f["name"]: f for f in scored["factors"]}
    assert set(factors) >= {
        "payment_record",
        "days_beyond_terms",
        "dso",
        "liquidity",
        "leverage",
        "profitability",
        "cash_flow",
        "scale",
        "track_record",
    }
    assert factors["leverage"]["band"] == "[, 0.4)" and factors["leverage"]["points"] == "100"
    assert Decimal(factors["leverage"]["value"]) == Decimal("0.3125")  # 15,000,000 / 48,000,000


def test_qualitative_step_waits_in_the_database_and_reminds_once_when_overdue(ledger):
    scored = start(ledger, "C-1002")
    assert scored["status"] == "awaiting_qualitative"
    assert services.send_research_reminders(ledger) == {"reminders": 0, "escalations": 0}
    later = utcnow() + timedelta(hours=49)
    assert services.send_research_reminders(ledger, now=later) == {"reminders": 1, "escalations": 0}
    assert services.send_research_reminders(ledger, now=later) == {"reminders": 0, "escalations": 0}
    much_later = utcnow() + timedelta(hours=97)
    assert services.send_research_reminders(ledger, now=much_later) == {
        "reminders": 0,
        "escalations": 1,
    }
    [first, reminder, escalation] = notices(ledger, "qualitative_needed")
    assert reminder.subject.startswith("Reminder:") and reminder.recipients == [
        "jun.park@example.com"
    ]
    assert "credit-team@example.com" in escalation.recipients
    with pytest.raises(
        services.ServiceError, match="assigned to junior.analyst, not carla.manager"
    ):
        services.record_qualitative(
            ledger, customer_code="C-1002", username="carla.manager", scores=RATINGS, comment="x"
        )
    done = services.record_qualitative(
        ledger,
        customer_code="C-1002",
        username="junior.analyst",
        scores=RATINGS,
        comment="steady distributor",
    )
    assert done["status"] == "complete" and done["rating"] in {"A", "B", "C"}
    assert services.send_research_reminders(ledger, now=much_later) == {
        "reminders": 0,
        "escalations": 0,
    }


def test_override_of_the_recommended_limit_needs_a_reason_and_is_audited(ledger):
    with pytest.raises(services.ServiceError, match="give the reason for it"):
        services.check_review_can_start(
            ledger,
            customer_code="C-1002",
            requested_by="ben.manager",
            requested_limit=Decimal("99000"),
        )
    collected = services.collect_customer_data(
        ledger,
        customer_code="C-1002",
        as_of=DAY,
        requested_by="ben.manager",
        review_key="o",
        requested_limit=Decimal("99000"),
        override_reason="strategic account",
    )
    services.score_assessment(ledger, assessment_id=collected["assessment_id"])
    services.record_qualitative(
        ledger, customer_code="C-1002", username="ben.manager", scores=RATINGS, comment="ok"
    )
    rid = services.draft_request(ledger, assessment_id=collected["assessment_id"])
    events = services.audit_events(ledger, entity=str(rid), limit=10)
    override = next(e for e in events if e["action"] == "request.override")
    assert override["reason"] == "strategic account" and override["after"] == {
        "proposed_limit": "99000.0000"
    }


def test_stale_statements_are_flagged_in_the_cleaning_report(ledger):
    later = date(2027, 9, 1)  # the latest statement (2025-12-31) is 20 months old by then
    collected = services.collect_customer_data(
        ledger, customer_code="C-1002", as_of=later, requested_by="ben.manager", review_key="stale"
    )
    [flag] = [f for f in collected["cleaning"]["flags"] if f["field"] == "period_end"]
    assert "stale: 20 months old, older than the policy's 18 months" in flag["reason"]
    scored = services.score_assessment(ledger, assessment_id=collected["assessment_id"])
    assert any(s["kind"] == "stale_financials" for s in scored["signals"])


def test_foreign_currency_ledger_is_converted_with_the_rates_table(ledger):
    import_rates(ledger)
    collected = services.collect_customer_data(
        ledger, customer_code="C-1009", as_of=DAY, requested_by="ben.manager", review_key="usd"
    )
    fixes = collected["cleaning"]["fixes"]
    assert any(
        f["item"] == "statement 2025-12-31" and "converted to EUR at" in f["reason"] for f in fixes
    )
    assert any(f["item"].endswith(("document", "documents")) and f["value"] == "USD" for f in fixes)
    assert collected["cleaning"]["rejected"] == []


def test_a_statement_in_its_own_currency_is_converted_at_that_currencys_rate(ledger, tmp_path):
    import_rates(ledger)
    f = tmp_path / "fin.csv"
    f.write_text(  # Nordwind (EUR) reports in USD this half-year
        "customer_code,period_end,currency,revenue,net_income,total_assets,total_liabilities,"
        "current_assets,current_liabilities,operating_cash_flow\n"
        "C-1001,2026-06-30,USD,20000000,1500000,13000000,4800000,6200000,2600000,1800000\n"
    )
    with ledger.uow() as uow:
        import_file(uow.session, kind="financials", path=f, actor="t", dry_run=False)
        uow.commit()
    collected = services.collect_customer_data(
        ledger, customer_code="C-1001", as_of=DAY, requested_by="ben.manager", review_key="usd-st"
    )
    [fix] = [f for f in collected["cleaning"]["fixes"] if f["item"] == "statement 2026-06-30"]
    assert (fix["field"], fix["value"]) == ("currency", "USD")
    assert fix["reason"] == "converted to EUR at 0.9091 (rate of 2026-06-01)"
    with ledger.uow() as uow:
        a = uow.session.get(CreditAssessment, collected["assessment_id"])
        latest = a.inputs["statements"][-1]
    assert Decimal(latest["revenue"]) == Decimal("20000000") * Decimal("0.9091")


def test_ledger_without_rates_rejects_foreign_values_instead_of_scoring_zero(ledger):
    collected = services.collect_customer_data(
        ledger, customer_code="C-1009", as_of=DAY, requested_by="ben.manager", review_key="no-rates"
    )
    rejected = collected["cleaning"]["rejected"]
    assert any(r["field"] == "currency" and "no USD rate to EUR" in r["reason"] for r in rejected)
    scored = services.score_assessment(ledger, assessment_id=collected["assessment_id"])
    liquidity = next(f for f in scored["factors"] if f["name"] == "liquidity")
    assert liquidity["band"] == "missing: penalty"


def _publish_line(app, code: str) -> None:
    collected = services.collect_customer_data(
        app, customer_code=code, as_of=DAY, requested_by="ben.manager", review_key=f"line:{code}"
    )
    services.score_assessment(app, assessment_id=collected["assessment_id"])
    services.record_qualitative(
        app, customer_code=code, username="ben.manager", scores=RATINGS, comment="ok"
    )
    rid = services.draft_request(app, assessment_id=collected["assessment_id"])
    services.advance_request(app, request_id=rid, as_of=DAY)
    progress = services.advance_request(app, request_id=rid, as_of=DAY)
    while progress.status == "in_approval":
        approver = progress.waiting_for.split(": ")[1]
        services.decide(
            app,
            subject=services.SUBJECT_REQUEST,
            subject_id=rid,
            username=approver,
            approve=True,
            comment="ok",
            as_of=DAY,
        )
        progress = services.advance_request(app, request_id=rid, as_of=DAY)
    services.publish_request(app, request_id=rid, as_of=DAY)


def test_high_severity_signal_alerts_and_brings_the_re_review_forward(ledger):
    _publish_line(ledger, "C-1001")  # rating A: next scheduled review a year later
    day = date(2026, 12, 10)
    assert services.due_reviews(ledger, as_of=day) == []
    scan = services.scan_risk(ledger, as_of=day)  # the direct debit of 2026-12-01 bounced
    assert scan["flagged"] == ["C-1001"]
    [alert] = notices(ledger, "risk_alert")
    assert alert.recipients == ["credit-team@example.com"] and "PAY-1001-BOUNCE" in alert.text
    assert services.scan_risk(ledger, as_of=day)["new"] == 0  # the same signal is not raised twice
    [due] = services.due_reviews(ledger, as_of=day)
    assert due["customer"] == "C-1001" and due["reason"].startswith("risk signal: bounced_payment")
    [started] = services.review_customers(
        ledger, due=[due], as_of=day, requested_by="carla.manager"
    )
    # a review a risk signal asked for gets a fresh qualitative rating, not October's
    assert started["status"] == "awaiting_qualitative"
    assert services.due_reviews(ledger, as_of=day) == []  # in progress: not started twice
    assert services.scan_risk(ledger, as_of=day)["new"] == 0  # the same signal is not raised again
    services.record_qualitative(
        ledger,
        customer_code="C-1001",
        username="carla.manager",
        scores=RATINGS,
        comment="bounce explained: bank error",
    )
    signals = services.list_signals(ledger, customer_code="C-1001")
    assert signals and all(s["reviewed_in"] == started["assessment_id"] for s in signals)
    assert (
        services.customer_overview(ledger, code="C-1001", as_of=day)["customer"][
            "review_flagged_on"
        ]
        is None
    )


def test_identity_check_failure_is_a_high_signal(ledger, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(
        "code,name,email,country,currency,sales_owner_email,tax_id\n"
        "C-2001,Shady Ltd,ap@shady.example,DE,EUR,s@x.example,DE12\n"
    )
    with ledger.uow() as uow:
        import_file(uow.session, kind="customers", path=f, actor="t", dry_run=False)
        uow.commit()
    scored = start(ledger, "C-2001")
    [identity] = [s for s in scored["signals"] if s["kind"] == "identity"]
    assert identity["severity"] == "high" and "does not match the DE format" in identity["detail"]


def test_bad_financial_data_is_refused_by_the_import_with_a_located_error(app, tmp_path):
    with app.uow() as uow:
        import_file(
            uow.session, kind="customers", path=SAMPLE / "customers.csv", actor="t", dry_run=False
        )
        uow.commit()
    f = tmp_path / "fin.csv"
    header = (
        "customer_code,period_end,revenue,net_income,total_assets,total_liabilities,current_assets,"
        "current_liabilities,operating_cash_flow\n"
    )
    f.write_text(
        header + "C-1001,2025-12-31,100,5,80,-40,30,20,6\nC-1002,2027-06-30,100,5,80,40,30,20,6\n"
    )
    with app.uow() as uow, pytest.raises(ImportFailed) as exc:
        import_file(
            uow.session,
            kind="financials",
            path=f,
            actor="t",
            dry_run=False,
            today=date(2026, 11, 28),
        )
    text = str(exc.value)
    assert f"{f}:2: column total_liabilities: value '-40': must not be negative" in text
    assert (
        f"{f}:3: column period_end: value '2027-06-30': the period ends in the future (today is 2026-11-28)"
        in text
    )


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "EUR,2026-01-01,1",
            "column currency: value 'EUR': EUR is the base currency; it needs no rate",
        ),
        ("USD,2026-01-01,-0.9", "column rate_to_base: value '-0.9': must be a positive number"),
        (
            'USD,2026-01-01,"0,9"',
            "column rate_to_base: value '0,9': use '.' as the decimal separator",
        ),
        ("USD,2030-01-01,0.9", "column rate_date: value '2030-01-01': in the future"),
    ],
)
def test_bad_fx_rates_are_refused(app, tmp_path, row, expected):
    f = tmp_path / "fx.csv"
    f.write_text("currency,rate_date,rate_to_base\n" + row + "\n")
    with (
        app.uow() as uow,
        pytest.raises(ImportFailed, match=expected.replace("(", r"\(").replace(")", r"\)")),
    ):
        import_file(
            uow.session,
            kind="fx-rates",
            path=f,
            actor="t",
            dry_run=False,
            today=date(2026, 11, 28),
            base_currency="EUR",
        )


def test_rates_keep_every_decimal(app, tmp_path):
    f = Path(tmp_path / "fx.csv")
    f.write_text("currency,rate_date,rate_to_base\nJPY,2026-01-01,0.0061234567\n")
    with app.uow() as uow:
        import_file(
            uow.session, kind="fx-rates", path=f, actor="t", dry_run=False, base_currency="EUR"
        )
        uow.commit()
    with app.uow() as uow:
        from credit.db.models import FxRate

        assert uow.session.exec(select(FxRate)).one().rate_to_base == Decimal("0.0061234567")


def test_research_interrupted_half_way_is_finished_by_the_hourly_sweep(ledger):
    collected = services.collect_customer_data(
        ledger, customer_code="C-1002", as_of=DAY, requested_by="ben.manager", review_key="crashed"
    )
    assert services.resume_research(ledger, as_of=DAY) == {
        "scored": [],
        "drafted": [],
    }  # may still run
    now = timedelta(0)
    assert services.resume_research(ledger, as_of=DAY, older_than=now)["scored"] == [
        collected["assessment_id"]
    ]
    assert services.waiting_assessments(ledger)[0]["assessment_id"] == collected["assessment_id"]
    # the analyst answers, but the run that should draft the request dies: the sweep drafts it
    services.record_qualitative(
        ledger,
        customer_code="C-1002",
        username="ben.manager",
        scores=RATINGS,
        comment="steady",
    )
    resumed = services.resume_research(ledger, as_of=DAY, older_than=now)
    assert resumed["drafted"] == [collected["assessment_id"]]
    assert services.pending_approvals(ledger)[0]["customer"] == "C-1002"
    assert services.resume_research(ledger, as_of=DAY, older_than=now) == {
        "scored": [],
        "drafted": [],
    }


def test_a_usd_customers_limit_is_the_policy_cap_converted_at_the_research_dates_rate(ledger):
    import_rates(ledger)
    start(ledger, "C-1009")
    done = services.record_qualitative(
        ledger, customer_code="C-1009", username="junior.analyst", scores=RATINGS, comment="ok"
    )
    rate = Decimal("0.9213")  # USD -> EUR on 2026-10-01 (fx_rates.csv)
    with ledger.uow() as uow:
        a = uow.session.get(CreditAssessment, done["assessment_id"])
        policy_cap = ledger.policy_body_for(uow.session, 1).rating(a.rating).limit.cap
    assert (
        a.recommended_limit == (policy_cap / rate // 100) * 100
    )  # USD 108,500 for the EUR 100,000 cap
    assert f"at {rate} EUR/USD" in a.limit_basis
    rid = services.draft_request(ledger, assessment_id=a.id)
    request = services.customer_overview(ledger, code="C-1009", as_of=DAY)["requests"][0]
    assert request["id"] == rid and request["currency"] == "USD"


def test_the_analyst_may_override_the_limit_with_a_reason(ledger):
    start(ledger, "C-1002")
    with pytest.raises(services.ServiceError, match="needs a reason"):
        services.record_qualitative(
            ledger,
            customer_code="C-1002",
            username="junior.analyst",
            scores=RATINGS,
            comment="ok",
            override_limit=Decimal("5000"),
        )
    done = services.record_qualitative(
        ledger,
        customer_code="C-1002",
        username="junior.analyst",
        scores=RATINGS,
        comment="ok",
        override_limit=Decimal("5000"),
        override_reason="new in town",
    )
    rid = services.draft_request(ledger, assessment_id=done["assessment_id"])
    [req] = services.customer_overview(ledger, code="C-1002", as_of=DAY)["requests"]
    assert (req["id"], req["proposed_limit"]) == (rid, "5000.0000")


def test_a_waiting_rating_can_be_reassigned_or_cancelled(ledger):
    start(ledger, "C-1002")
    services.reassign_analyst(
        ledger,
        customer_code="C-1002",
        to="carla.manager",
        by="ben.manager",
        reason="Jun is on leave",
    )
    assert services.waiting_assessments(ledger)[0]["analyst"] == "carla.manager"
    services.cancel_research(
        ledger, customer_code="C-1002", by="ben.manager", reason="customer withdrew"
    )
    assert services.waiting_assessments(ledger) == []
    services.check_review_can_start(ledger, customer_code="C-1002", requested_by="ben.manager")


def test_reminders_carry_on_when_one_analyst_left_the_directory(ledger):
    start(ledger, "C-1002")
    start(ledger, "C-1006")
    with ledger.uow() as uow:
        a = uow.session.exec(select(CreditAssessment).where(CreditAssessment.id == 1)).one()
        a.analyst = "gone.person"
        uow.session.add(a)
        uow.commit()
    sent = services.send_research_reminders(ledger, now=utcnow() + timedelta(hours=49))
    assert sent["reminders"] == 2
    recipients = sorted(
        n.recipients[0] for n in notices(ledger, "qualitative_needed") if "Reminder" in n.subject
    )
    assert recipients == ["credit-team@example.com", "jun.park@example.com"]


def test_a_payment_that_bounces_later_can_be_reimported_with_its_new_status(ledger, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(
        "customer_code,reference,paid_on,amount,currency,method,invoice_number,status\n"
        "C-1002,PAY-1002-001,2025-11-06,1106.00,EUR,bank_transfer,INV-1002-001,bounced\n"
    )
    with ledger.uow() as uow:
        plan = import_file(uow.session, kind="payments", path=f, actor="t", dry_run=False)
        uow.commit()
    assert plan.updated == ["PAY-1002-001"]
    f.write_text(
        "customer_code,reference,paid_on,amount,currency,method,invoice_number\n"
        "C-1002,PAY-1002-001,2025-11-06,1106.00,EUR,bank_transfer,INV-1002-001\n"
    )
    with ledger.uow() as uow:
        plan = import_file(uow.session, kind="payments", path=f, actor="t", dry_run=False)
    assert plan.unchanged == ["PAY-1002-001"]  # no status column: the bounce stays recorded


def test_zero_current_liabilities_are_the_best_liquidity_not_missing_data(policy):
    from credit.domain import scoring

    st = scoring.StatementFacts(
        date(2025, 12, 31),
        Decimal(100),
        Decimal(5),
        Decimal(80),
        Decimal(0),
        Decimal(30),
        Decimal(0),
        Decimal(6),
    )
    metrics = scoring.compute_metrics(scoring.CustomerFacts(date(2000, 1, 1), [st]), DAY)
    assert (
        metrics["current_ratio"] == scoring.UNBOUNDED
        and metrics["operating_cash_flow_ratio"] == scoring.UNBOUNDED
    )


def test_bands_with_a_gap_are_refused(tmp_path):
    from credit.config import ConfigError, load_policy_file
    from credit.resources import resource_dir

    bad = tmp_path / "p.yaml"
    bad.write_text(
        (resource_dir("config") / "policy.yaml")
        .read_text()
        .replace(
            '- {min: "0.85", max: "0.95", points: "75"}',
            '- {min: "0.86", max: "0.95", points: "75"}',
        )
    )
    with pytest.raises(ConfigError, match="no band covers values from 0.85 to 0.86"):
        load_policy_file(bad)


def test_a_short_payment_within_the_tolerance_settles_the_invoice_for_the_payment_record(ledger):
    from credit.services.ledger import load_raw

    with ledger.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1011")).one()
        inv = Invoice(
            customer_id=c.id,
            number="SHORT-1",
            issue_date=date(2026, 8, 1),
            due_date=date(2026, 8, 31),
            amount=Decimal("1000"),
            currency="EUR",
        )
        uow.session.add(inv)
        uow.session.flush()
        uow.session.add(
            Payment(
                customer_id=c.id,
                reference="SHORT-P",
                paid_on=date(2026, 8, 30),
                amount=Decimal("995.50"),
                currency="EUR",
                method="bank_transfer",
                invoice_id=inv.id,
            )
        )
        uow.commit()
        _, strict, _ = load_raw(uow.session, c, DAY)
        _, tolerant, _ = load_raw(uow.session, c, DAY, Decimal("10"))
    assert next(d for d in strict if d.number == "SHORT-1").paid_on is None
    assert next(d for d in tolerant if d.number == "SHORT-1").paid_on == date(2026, 8, 30)


# --------------------------------------------------------------------------- risk effects

BOUNCED = date(2026, 12, 10)  # C-1001's direct debit of 2026-12-01 bounced: a high signal
STRONG = {  # the README's ratings of C-1001: with them it scores an A
    "market_position": Decimal(85),
    "management": Decimal(80),
    "industry_outlook": Decimal(70),
    "reputation": Decimal(85),
}


def _assessment(app, assessment_id: int) -> CreditAssessment:
    with app.uow() as uow:
        return uow.session.get(CreditAssessment, assessment_id)


def test_a_high_bounced_payment_caps_the_rating_cuts_the_limit_and_adds_a_guarantee(ledger):
    scored = start(ledger, "C-1001", as_of=BOUNCED)
    done = services.record_qualitative(
        ledger, customer_code="C-1001", username="junior.analyst", scores=STRONG, comment="ok"
    )
    # Scored A on its own (the score reaches 80); the policy's high effects cap it.
    a = _assessment(ledger, scored["assessment_id"])
    assert a.total_score >= Decimal(80)
    assert (done["rating"], a.recommended_limit, a.terms_days) == ("B", Decimal("125000"), 45)
    assert a.conditions == ["guarantee"]
    effects = a.inputs["risk_effects"]
    assert effects["summary"] == (
        "rating A capped to B by high signal bounced_payment; limit cut 50%; "
        "condition added: guarantee"
    )
    assert [(s["kind"], s["source"]) for s in effects["signals"]] == [
        ("bounced_payment", "research"),
        ("late_trend", "research"),
    ]
    # the scorecard explanation shows it everywhere the assessment is read
    shown = services.customer_overview(ledger, code="C-1001", as_of=BOUNCED)["assessment"]
    assert shown["risk_effects"]["summary"] == effects["summary"]
    [ready] = notices(ledger, "assessment_ready")
    assert "rating A capped to B by high signal bounced_payment" in ready.text
    assert "limit cut 50% by high signal bounced_payment: EUR 250,000.00 → EUR 125,000.00" in (
        ready.text
    )
    with ledger.uow() as uow:
        [event] = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "assessment.complete")
        ).all()
    assert event.after["risk_effects"] == effects["summary"]


def _open_signal(app, code: str, kind: str, severity: str, detected_on: date) -> None:
    with app.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == code)).one()
        uow.session.add(
            RiskSignal(
                fingerprint=f"{code}:{kind}:t", customer_id=c.id, kind=kind, severity=severity,
                detail=f"{kind} recorded earlier", detected_on=detected_on,
            )
        )  # fmt: skip
        uow.commit()


def test_open_signals_count_until_a_completed_review_answers_them(ledger):
    # A broken promise (collections records it) is open; research does not find it itself.
    _open_signal(ledger, "C-1002", "broken_promise", "high", DAY - timedelta(days=30))
    _open_signal(ledger, "C-1002", "late_trend", "medium", DAY - timedelta(days=200))  # too old
    first = start(ledger, "C-1002", key="first")
    # recorded while the analyst is asked: it counts too
    _open_signal(ledger, "C-1002", "limit_utilisation", "medium", DAY)
    services.record_qualitative(
        ledger, customer_code="C-1002", username="junior.analyst", scores=RATINGS, comment="ok"
    )
    a = _assessment(ledger, first["assessment_id"])
    in_force = [(s["kind"], s["source"]) for s in a.inputs["risk_effects"]["signals"]]
    assert ("broken_promise", "open") in in_force and ("limit_utilisation", "open") in in_force
    assert "late_trend" not in dict(in_force)  # detected 200 days before: beyond the lookback
    assert "guarantee" in a.conditions and "high signal broken_promise" in (
        a.inputs["risk_effects"]["summary"] + " ".join(a.inputs["risk_effects"]["lines"])
    )
    # the completed review answered every open signal it took in: the next one starts clean
    answered = {
        s["kind"]: s["reviewed_in"] for s in services.list_signals(ledger, customer_code="C-1002")
    }
    assert answered["broken_promise"] == answered["limit_utilisation"] == a.id
    assert answered["late_trend"] == a.id
    second = start(ledger, "C-1002", key="second", as_of=DAY + timedelta(days=1))
    services.record_qualitative(
        ledger, customer_code="C-1002", username="junior.analyst", scores=RATINGS, comment="ok"
    )
    again = _assessment(ledger, second["assessment_id"])
    assert "broken_promise" not in {s["kind"] for s in again.inputs["risk_effects"]["signals"]}


def test_a_database_made_before_risk_effects_keeps_working(ledger):
    """Policy versions stored without ``risk.effects`` load with no effects; assessments made
    before have no stored effects and still show and re-score."""
    old = start(ledger, "C-1003")
    services.record_qualitative(
        ledger, customer_code="C-1003", username="junior.analyst", scores=RATINGS, comment="ok"
    )
    with ledger.uow() as uow:
        s = uow.session
        policy_row = s.exec(select(CreditPolicy)).one()
        body = {**policy_row.body, "risk": dict(policy_row.body["risk"])}
        body["risk"].pop("effects"), body["risk"].pop("effects_lookback_days")
        policy_row.body = body
        a = s.get(CreditAssessment, old["assessment_id"])
        a.inputs = {k: v for k, v in a.inputs.items() if k not in ("risk_effects", "open_signals")}
        s.add_all([policy_row, a])
        uow.commit()
    fresh = App(ledger.settings)  # no cached policy bodies
    assert (
        services.customer_overview(fresh, code="C-1003", as_of=DAY)["assessment"]["risk_effects"]
        is None
    )
    scored = start(fresh, "C-1001", as_of=BOUNCED)
    assert {s["kind"] for s in scored["signals"]} >= {"bounced_payment"}
    done = services.record_qualitative(
        fresh, customer_code="C-1001", username="junior.analyst", scores=STRONG, comment="ok"
    )
    assert (done["rating"], done["recommended_limit"]) == ("A", "500000.00")
    assert _assessment(fresh, scored["assessment_id"]).inputs["risk_effects"]["lines"] == []
    fresh.engine.dispose()


def test_a_signal_recorded_while_the_analyst_is_asked_counts_in_the_rating_they_complete(ledger):
    """A bounced payment a risk scan records a week after the research date, before the analyst
    answers, caps the rating the analyst completes (it was left out: only signals detected by the
    research date counted)."""
    first = start(ledger, "C-1002", key="waits")
    _open_signal(ledger, "C-1002", "bounced_payment", "high", DAY + timedelta(days=7))
    services.record_qualitative(
        ledger, customer_code="C-1002", username="junior.analyst", scores=RATINGS, comment="ok",
        as_of=DAY + timedelta(days=8),
    )  # fmt: skip
    a = _assessment(ledger, first["assessment_id"])
    in_force = {s["kind"]: s["source"] for s in a.inputs["risk_effects"]["signals"]}
    assert in_force.get("bounced_payment") == "open"
    assert "guarantee" in a.conditions
