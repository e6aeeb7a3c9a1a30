"""Property test over generated ledgers: what a dunning notice lists and totals is right.

For every generated ledger (invoices, partial and full payments, payments on account, credit notes
applied to an invoice or on account, disputes) and a few collections runs, each notice:
- lists exactly the invoices that are past due, still open and not disputed on its date,
  plus any late charges, and never a paid or disputed invoice;
- has a total equal, in Decimal, to the sum of the listed open balances (computed here from the
  generated ledger, independently of the product) less the credits on account;
- shows that total in its text.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from babel.numbers import format_currency
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from credit import services
from credit.db.models import Customer, Dispute, DunningAction, Invoice, Notice, Payment
from credit.domain.calendar import next_business_day

BASE = date(2027, 6, 1)  # a Tuesday
_codes = itertools.count(1)

cents = st.integers(min_value=1, max_value=5_000_000).map(lambda c: Decimal(c) / 100)


@st.composite
def ledgers(draw):
    invoices = []
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        amount = draw(cents)
        paid = draw(st.sampled_from(["none", "partial", "full"]))
        pay = {
            "none": Decimal(0),
            "partial": (amount * draw(st.integers(1, 99)) / 100).quantize(Decimal("0.01")),
            "full": amount,
        }[paid]
        invoices.append(
            {
                "n": n,
                "amount": amount,
                "due": BASE + timedelta(days=draw(st.integers(-80, 10))),
                "paid": pay,
                "paid_on": BASE + timedelta(days=draw(st.integers(-20, 40))),
                "disputed": draw(st.booleans()) if paid != "full" else False,
                "credit_note": None,
            }
        )
    # A credit note applied to an invoice never exceeds what is left on it.
    for inv in invoices:
        left = inv["amount"] - inv["paid"]
        if left > Decimal("0.01") and draw(st.booleans()):
            inv["credit_note"] = (left * draw(st.integers(1, 100)) / 100).quantize(Decimal("0.01"))
    small = st.integers(min_value=1, max_value=500_000).map(lambda c: Decimal(c) / 100)
    on_account = draw(st.lists(small, max_size=2))
    loose_credit_notes = draw(st.lists(small, max_size=2))
    runs = sorted(
        {next_business_day(BASE + timedelta(days=d), "DE") for d in draw(
            st.lists(st.integers(0, 60), min_size=1, max_size=3)
        )}
    )  # fmt: skip
    return invoices, on_account, loose_credit_notes, runs


def _build(app, ledger) -> str:
    invoices, on_account, loose, _ = ledger
    code = f"P{next(_codes):05d}"
    with app.uow() as uow:
        s = uow.session
        c = Customer(
            code=code, name=code, email=f"{code.lower()}@example.com", country="DE",
            currency="EUR", sales_owner_email="sales@example.com",
        )  # fmt: skip
        s.add(c)
        s.flush()
        for inv in invoices:
            row = Invoice(
                customer_id=c.id, number=f"{code}-{inv['n']}", issue_date=BASE - timedelta(days=90),
                due_date=inv["due"], amount=inv["amount"], currency="EUR",
            )  # fmt: skip
            s.add(row)
            s.flush()
            inv["id"] = row.id
            if inv["paid"]:
                s.add(
                    Payment(
                        customer_id=c.id, reference=f"{code}-PAY-{inv['n']}",
                        paid_on=inv["paid_on"], amount=inv["paid"], currency="EUR",
                        method="bank_transfer", invoice_id=row.id,
                    )
                )  # fmt: skip
            if inv["credit_note"]:
                s.add(
                    Invoice(
                        customer_id=c.id, number=f"{code}-CN-{inv['n']}",
                        issue_date=BASE - timedelta(days=60), due_date=BASE - timedelta(days=60),
                        amount=-inv["credit_note"], currency="EUR", applies_to_id=row.id,
                    )
                )  # fmt: skip
            if inv["disputed"]:
                s.add(
                    Dispute(
                        invoice_id=row.id, customer_id=c.id, reason="r", opened_by="t",
                        opened_on=BASE - timedelta(days=30),
                    )
                )  # fmt: skip
        for i, amount in enumerate(on_account):
            s.add(
                Payment(
                    customer_id=c.id, reference=f"{code}-ACC-{i}", paid_on=BASE - timedelta(days=3),
                    amount=amount, currency="EUR", method="bank_transfer",
                )
            )  # fmt: skip
        for i, amount in enumerate(loose):
            s.add(
                Invoice(
                    customer_id=c.id, number=f"{code}-LCN-{i}", issue_date=BASE - timedelta(days=50),
                    due_date=BASE - timedelta(days=50), amount=-amount, currency="EUR",
                )
            )  # fmt: skip
        uow.commit()
        return code


def _expected_open(inv, day: date) -> Decimal:
    paid = inv["paid"] if inv["paid_on"] <= day else Decimal(0)
    return inv["amount"] - paid - (inv["credit_note"] or Decimal(0))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ledger=ledgers())
def test_every_notice_total_is_the_sum_of_its_listed_open_balances(ledger, app):
    invoices, on_account, loose, runs = ledger
    code = _build(app, ledger)
    with app.uow() as uow:
        cid = uow.session.exec(select(Customer.id).where(Customer.code == code)).one()
    for day in runs:
        # The batched path (state read set-based, audit events and notices written in bulk).
        services.dun_customers(app, customer_ids=[cid], as_of=day, dry_run=False)
    by_number = {f"{code}-{inv['n']}": inv for inv in invoices}
    with app.uow() as uow:
        s = uow.session
        actions = s.exec(
            select(DunningAction)
            .where(DunningAction.customer_id == cid, DunningAction.level > 0)
            .order_by(DunningAction.id)
        ).all()
        charges = {
            i.number: i.amount
            for i in s.exec(select(Invoice).where(Invoice.customer_id == cid, Invoice.kind != "invoice"))
        }  # fmt: skip
        event(f"levels sent: {len(actions)}")
        event(f"charges: {bool(charges)}")
        times: dict[tuple[int, int], int] = {}  # a level sent again in an episode: -2, -3 ...
        for a in actions:
            day = a.as_of
            n_sent = times[a.episode, a.level] = times.get((a.episode, a.level), 0) + 1
            suffix = "" if n_sent == 1 else f"-{n_sent}"
            listed = a.invoice_numbers
            trade = [n for n in listed if n in by_number]
            assert set(listed) - set(trade) <= set(charges), listed
            should_list = {
                n
                for n, inv in by_number.items()
                if inv["due"] < day and not inv["disputed"] and _expected_open(inv, day) > 0
            }
            assert set(trade) == should_list  # every overdue invoice, never a paid or disputed one
            credits = sum(on_account, Decimal(0)) + sum(loose, Decimal(0))
            total = (
                sum((_expected_open(by_number[n], day) for n in trade), Decimal(0))
                + sum((charges[n] for n in listed if n in charges), Decimal(0))
                - credits
            )
            assert a.overdue_total == total
            notice = s.exec(
                select(Notice).where(
                    Notice.idempotency_key == f"dunning:{code}:EUR:e{a.episode}:l{a.level}{suffix}"
                )
            ).one()
            assert format_currency(total, "EUR", locale="en") in notice.text
            for n in trade:
                assert n in notice.text
