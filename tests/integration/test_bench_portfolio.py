"""The benchmark portfolio generator writes what it says, skewed and deterministic for a seed."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func, select

from bench.portfolio import generate
from credit.app import App
from credit.db.models import Customer, Invoice
from credit.settings import Settings


def _summary(url: str) -> tuple[int, Counter, str]:
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url}))
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
