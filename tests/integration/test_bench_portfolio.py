"""The benchmark portfolio generator writes what it says, skewed and deterministic for a seed."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func, select

from bench.portfolio import generate
from credit.app import App
from credit.db.models import Customer, Invoice
from credit.settings import Settings
from tests.conftest import TEST_COMPANY


def _summary(url: str) -> tuple[int, Counter, str]:
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))
    with app.engine.connect() as conn:
        customers = conn.execute(select(func.count()).select_from(Customer)).scalar_one()
        per_customer = Counter(
            conn.execute(select(Invoice.customer_id).where(Invoice.amount > 0)).scalars()
        )
        total = conn.execute(select(func.sum(Invoice.amount))).scalar_one()
    app.engine.dispose()
    return customers, per_customer, str(total)


def test_portfolio_is_skewed_complete_and_deterministic(tmp_path):
    runs = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        written = generate(url, customers=50, invoices=600, seed=3, as_of=date(2027, 3, 1))
        assert written["customer"] == 50 and written["invoice"] >= 600
        runs.append(_summary(url))
    (customers, per_customer, total), again = runs
    assert customers == 50 and sum(per_customer.values()) == 600
    assert min(per_customer.values()) >= 1 and max(per_customer.values()) > 3 * 600 / 50  # skewed
    assert again == runs[0]  # the same seed writes the same ledger


def test_most_customers_have_a_rated_line_from_a_research_the_real_code_can_reuse(tmp_path):
    from sqlmodel import select as query

    from credit import services
    from credit.db.models import (
        CreditAssessment,
        CreditLine,
        CreditRequest,
        FinancialStatement,
    )
    from credit.domain import signals
    from credit.services.common import add_months

    as_of = date(2027, 3, 1)
    url = f"sqlite:///{tmp_path / 'lines.db'}"
    written = generate(
        url, customers=80, invoices=400, seed=3, as_of=as_of, lines_share=0.8, due_share=0.25
    )
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))
    with app.uow() as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        customers = list(s.exec(query(Customer)))
        lines = list(s.exec(query(CreditLine)))
        statements = list(s.exec(query(FinancialStatement)))
        for c in customers:  # well-formed tax ids: no identity signal flags everyone
            profile = signals.Profile(
                c.email, c.country, c.tax_id, c.registered_on, c.sales_owner_email
            )
            assert signals.identity_signals(profile, policy.risk) == []
        for line in lines:
            request = s.get(CreditRequest, line.request_id)
            a = s.get(CreditAssessment, request.assessment_id)
            assert request.status == "published" and a.status == "complete"
            assert a.customer_id == request.customer_id == line.customer_id
            assert (line.rating, line.limit, line.terms_days, line.conditions) == (
                a.rating, a.recommended_limit, a.terms_days, a.conditions
            )  # fmt: skip
            assert line.activated_on == a.as_of and a.policy_version == line.policy_version
            assert a.qualitative["carried_over_from"] is None and a.qualitative_score is not None
            assert {f["name"] for f in a.qualitative["factors"]} == {
                f.name for f in policy.scorecard.qualitative.factors
            }
            assert line.next_review_on >= as_of
            if line.next_review_on == as_of:  # a research recent enough to be reused
                assert a.as_of >= add_months(as_of, -policy.scorecard.qualitative.reuse_months)
        due = services.due_reviews(app, as_of=as_of)
        audit_ok = services.verify_audit(app)["ok"]
    app.engine.dispose()

    assert written["credit_line"] == len(lines) and 0.6 * 80 <= len(lines) <= 0.95 * 80
    assert len({line.rating for line in lines}) >= 4  # spread over the policy's grades
    assert {line.rating for line in lines} <= {r.grade for r in policy.ratings}
    assert 0 < written["due_on_as_of"] == len(due) < len(lines)
    assert {d["reason"] for d in due} == {"scheduled"}
    per_customer = Counter(st.customer_id for st in statements)
    assert sum(1 for n in per_customer.values() if n == 2) >= 0.9 * 80
    assert all(st.period_end < as_of and st.current_assets <= st.total_assets for st in statements)
    assert audit_ok

    # the open-item ledger is the same for a seed whatever the credit side
    plain = f"sqlite:///{tmp_path / 'plain.db'}"
    generate(plain, customers=80, invoices=400, seed=3, as_of=as_of, lines_share=0)
    assert _summary(plain) == _summary(url)
