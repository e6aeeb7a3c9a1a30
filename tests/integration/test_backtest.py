"""Back-testing a stricter draft policy on the sample ledger: exactly the customers whose rating and
limit would change, with nothing sent and nothing changed in the live tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import yaml
from sqlalchemy import func, inspect
from sqlmodel import SQLModel, select

from credit import services
from credit.db.models import CreditAssessment, Customer
from credit.resources import resource_dir
from tests.integration.test_lifecycle_services import review

STRICTER = ("90", "78", "60", "45", "0")  # A, B, C, D, E minimum scores (live: 80, 65, 50, 35, 0)


def table_counts(app) -> dict[str, int]:
    with app.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {
            t: conn.execute(
                select(func.count()).select_from(SQLModel.metadata.tables[t])
            ).scalar_one()
            for t in names
            if t in SQLModel.metadata.tables
        }


def test_a_stricter_scorecard_changes_exactly_these_customers_and_nothing_else(ledger, tmp_path):
    for code, limit in (
        ("C-1001", "120000"),
        ("C-1002", None),
        ("C-1003", "30000"),
        ("C-1004", None),
    ):
        review(ledger, code, limit)
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    for rating, minimum in zip(body["ratings"], STRICTER, strict=True):
        rating["min_score"] = minimum
    path = tmp_path / "stricter.yaml"
    path.write_text(yaml.safe_dump(body))
    version = services.propose_policy(ledger, path=path, by="carla.manager", reason="stricter")

    before = table_counts(ledger)
    result = services.backtest(
        ledger, version=version, dates=[date(2026, 10, 1), date(2026, 12, 1)]
    )
    assert table_counts(ledger) == before  # nothing written, no notice, no audit event

    # Independently: the scorecard is unchanged, so each stored score keeps its value and the
    # draft's grade is the first whose minimum the score reaches.
    with ledger.uow() as uow:
        stored = {
            uow.session.get(Customer, a.customer_id).code: (a.total_score, a.rating)
            for a in uow.session.exec(select(CreditAssessment))
        }
    expected = {}
    for code, (score, grade) in stored.items():
        new = next(r["grade"] for r in body["ratings"] if score >= Decimal(r["min_score"]))
        if new != grade:
            expected[code] = (grade, new)
    assert expected == {"C-1001": ("B", "C"), "C-1002": ("B", "C"), "C-1003": ("C", "D")}

    on_last = {d["customer"]: d for d in result["decisions"] if d["date"] == "2026-12-01"}
    assert {c: (d["live"]["rating"], d["draft"]["rating"]) for c, d in on_last.items()} == expected
    for d in on_last.values():
        assert "limit" in d["changed"]
        assert Decimal(d["draft"]["limit"]) < Decimal(d["live"]["limit"])
    assert on_last["C-1003"]["draft"]["conditions"] == ["guarantee"]  # rating D is secured only

    summary = services.backtest_summary(result)
    assert [d["customer"] for d in summary["decisions"]] == ["C-1001", "C-1002", "C-1003"]
    assert summary["last"]["date"] == "2026-12-01"


def test_a_draft_identical_to_the_live_policy_changes_no_decision(ledger, tmp_path):
    """Old assessments made under another version, limits in another currency: the back-test
    scores the same snapshot under both policies, so only a policy difference shows."""
    for code, limit in (("C-1001", "120000"), ("C-1003", "30000")):
        review(ledger, code, limit)
    stricter = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    for rating, minimum in zip(stricter["ratings"], STRICTER, strict=True):
        rating["min_score"] = minimum
    path = tmp_path / "v2.yaml"
    path.write_text(yaml.safe_dump(stricter))
    v2 = services.propose_policy(ledger, path=path, by="carla.manager", reason="stricter")
    for user in ("fiona.director", "victor.cfo"):
        services.decide(ledger, subject=services.SUBJECT_POLICY, subject_id=v2, username=user,
                        approve=True, comment=None, as_of=date(2026, 10, 1))  # fmt: skip
    assert services.advance_policy(ledger, version=v2).status == "published"
    v3 = services.propose_policy(ledger, path=path, by="carla.manager", reason="same again")
    assert services.policy_diff(ledger, to_version=v3)["changes"] == []
    result = services.backtest(ledger, version=v3, dates=[date(2026, 12, 1)])
    assert result["decisions"] == [] and result["dunning"] == []


def test_the_back_test_applies_each_policy_s_risk_effects(ledger, tmp_path):
    """C-1001's bounced payment caps it under the live policy; a draft without effects would
    have left it at A. The live side reproduces the stored decision exactly."""
    day = date(2026, 12, 10)
    collected = services.collect_customer_data(
        ledger, customer_code="C-1001", as_of=day, requested_by="ben.manager", review_key="k"
    )
    services.score_assessment(ledger, assessment_id=collected["assessment_id"])
    strong = {"market_position": 85, "management": 80, "industry_outlook": 70, "reputation": 85}
    services.record_qualitative(
        ledger,
        customer_code="C-1001",
        username="ben.manager",
        scores={k: Decimal(v) for k, v in strong.items()},
        comment="market leader",
    )
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    body["risk"]["effects"] = {"high": {"conditions": ["deposit"]}}
    path = tmp_path / "lenient.yaml"
    path.write_text(yaml.safe_dump(body))
    version = services.propose_policy(ledger, path=path, by="carla.manager", reason="lenient")
    assert [c["text"] for c in services.policy_diff(ledger, to_version=version)["changes"]] == [
        "high signals: rating cap B → none",
        "high signals: limit cut 50% → 0%",
        "high signals: conditions guarantee → deposit",
        "medium signals: rating capped at B → no effect",
    ]

    result = services.backtest(ledger, version=version, dates=[day])
    [decision] = result["decisions"]
    with ledger.uow() as uow:
        a = uow.session.get(CreditAssessment, collected["assessment_id"])
    assert decision["live"] == {
        "score": f"{a.total_score:.2f}",
        "rating": a.rating,
        "limit": f"{a.recommended_limit:.2f}",
        "terms_days": a.terms_days,
        "conditions": a.conditions,
        "risk_effects": a.inputs["risk_effects"]["summary"],
    }
    assert (decision["live"]["rating"], decision["live"]["limit"]) == ("B", "125000.00")
    assert decision["draft"] == {
        "score": f"{a.total_score:.2f}",
        "rating": "A",
        "limit": "500000.00",
        "terms_days": 60,
        "conditions": ["deposit"],
        "risk_effects": "condition added: deposit",
    }
    assert decision["changed"] == ["rating", "limit", "terms_days", "conditions"]
