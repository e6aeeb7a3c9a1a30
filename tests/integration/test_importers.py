"""CSV imports are all-or-nothing, located and idempotent (real SQLite files)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import func, select

from credit.db.models import AuditEvent, Customer, Invoice, Payment
from credit.importers import ImportFailed, import_file
from tests.conftest import SAMPLE, import_sample

HEADER = "code,name,email,country,currency,locale,sales_owner_email,registered_on,tax_id\n"


def run(app, kind: str, path: Path, dry_run: bool = False):
    with app.uow() as uow:
        plan = import_file(uow.session, kind=kind, path=path, actor="t", dry_run=dry_run)
        if not dry_run:
            uow.commit()
    return plan


def count(app, model) -> int:
    with app.uow() as uow:
        return uow.session.exec(select(func.count()).select_from(model)).one()


def test_sample_ledger_imports_and_a_second_import_changes_nothing(app):
    import_sample(app)
    customers, invoices, payments = count(app, Customer), count(app, Invoice), count(app, Payment)
    events = count(app, AuditEvent)
    assert customers == 12 and invoices > 100 and payments > 100
    for kind in ("customers", "financials", "invoices", "payments"):
        plan = run(app, kind, SAMPLE / f"{kind}.csv")
        assert plan.created == [] and plan.updated == []
        assert len(plan.unchanged) == plan.rows
    assert (count(app, Customer), count(app, Invoice), count(app, Payment)) == (
        customers,
        invoices,
        payments,
    )
    assert count(app, AuditEvent) == events


def test_one_bad_row_writes_nothing_and_every_error_is_located(app, tmp_path):
    f = tmp_path / "customers.csv"
    f.write_text(
        HEADER
        + "C1,Good Co,a@good.example,DE,EUR,en,s@x.example,2010-01-01,DE1\n"
        + "C2,Bad Co,not-an-email,Germany,EUR,en,s@x.example,01/02/2010,\n"
        + "C1,Dup Co,d@x.example,DE,EUR,en,s@x.example,,\n"
    )
    with pytest.raises(ImportFailed) as exc:
        run(app, "customers", f)
    lines = [str(e) for e in exc.value.errors]
    assert f"{f}:3: column email: value 'not-an-email': not an email address" in lines
    assert (
        f"{f}:3: column country: value 'Germany': not an ISO 3166 country code (e.g. DE)" in lines
    )
    assert any(
        line.startswith(f"{f}:3: column registered_on: value '01/02/2010': not an ISO date")
        for line in lines
    )
    assert (
        f"{f}:4: column name: value 'Dup Co': customer C1 also on row 2 with name 'Good Co'; rows disagree"
        in lines
    )
    assert count(app, Customer) == 0
    assert count(app, AuditEvent) == 1  # only the policy publication from init


def test_unknown_and_missing_columns_are_refused(app, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("code,name,colour\nC1,X,red\n")
    with pytest.raises(ImportFailed) as exc:
        run(app, "customers", f)
    text = str(exc.value)
    assert "column colour: value 'colour': unknown column" in text
    assert "column email: value '': required column is missing from the header" in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            'customer_code,number,issue_date,due_date,amount,currency\nC-1001,N1,2026-01-01,2026-02-01,"1.234,56",EUR\n',
            "column amount: value '1.234,56': use '.' as the decimal separator",
        ),
        (
            "customer_code;number;issue_date;due_date;amount;currency\n",
            "separator must be ',' not ';'",
        ),
        (
            "customer_code,number,issue_date,due_date,amount,currency\nC-1001,N1,2026-03-01,2026-02-01,10,EUR\n",
            "column due_date: value '2026-02-01': before the issue date 2026-03-01",
        ),
        (
            "customer_code,number,issue_date,due_date,amount,currency\nNOPE,N1,2026-01-01,2026-02-01,10,EUR\n",
            "column customer_code: value 'NOPE': no such customer",
        ),
        (
            "customer_code,number,issue_date,due_date,amount,currency\nC-1001,N1,2026-01-01,2026-02-01,1e400,EUR\n",
            "column amount: value '1e400': exponent notation is not accepted",
        ),
    ],
)
def test_bad_invoice_files_are_refused_with_located_reasons(app, tmp_path, content, expected):
    import_sample(app, ("customers",))
    f = tmp_path / "invoices.csv"
    f.write_text(content)
    with pytest.raises(ImportFailed) as exc:
        run(app, "invoices", f)
    assert expected in str(exc.value)
    assert count(app, Invoice) == 0


def test_non_utf8_bytes_are_located(app, tmp_path):
    f = tmp_path / "customers.csv"
    f.write_bytes(
        HEADER.encode() + "C1,Caf\xe9,a@b.example,DE,EUR,en,s@b.example,,\n".encode("latin-1")
    )
    with pytest.raises(ImportFailed, match=r"customers.csv:2: column -: value 'e9.*not UTF-8"):
        run(app, "customers", f)


def test_posted_invoice_is_not_silently_changed_by_a_reimport(app, tmp_path):
    import_sample(app, ("customers", "financials", "invoices"))
    f = tmp_path / "inv.csv"
    f.write_text(
        "customer_code,number,issue_date,due_date,amount,currency\n"
        "C-1001,INV-1001-001,2025-10-01,2025-10-31,999.00,EUR\n"
    )
    with pytest.raises(ImportFailed, match="already imported with amount 1053"):
        run(app, "invoices", f)


def test_dry_run_shows_the_plan_and_writes_nothing(app):
    plan = run(app, "customers", SAMPLE / "customers.csv", dry_run=True)
    assert len(plan.created) == 12 and not plan.applied
    assert count(app, Customer) == 0


def test_changed_customer_is_updated_with_before_and_after_in_the_audit_trail(app, tmp_path):
    import_sample(app, ("customers",))
    f = tmp_path / "c.csv"
    f.write_text(
        HEADER
        + "C-1001,Nordwind Logistik GmbH,new-ap@nordwind.example,DE,EUR,de,sales.north@example.com,2004-03-15,DE811907980\n"
    )
    plan = run(app, "customers", f)
    assert plan.updated == ["C-1001"]
    with app.uow() as uow:
        event = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == "import.customers.update")
        ).one()
    assert event.before == {"email": "ap@nordwind.example"}
    assert event.after == {"email": "new-ap@nordwind.example"}


# --------------------------------------------------------------------- implausible values (issue 15)

TODAY = date(2026, 12, 6)


def refused(app, kind: str, path: Path, today: date | None = TODAY) -> list[str]:
    with app.uow() as uow, pytest.raises(ImportFailed) as exc:
        import_file(uow.session, kind=kind, path=path, actor="t", dry_run=False, today=today)
    return [str(e) for e in exc.value.errors]


def test_a_locale_is_stored_in_the_form_notices_look_it_up_and_the_reading_is_reported(
    app, tmp_path
):
    f = tmp_path / "c.csv"
    f.write_text(
        HEADER
        + "C1,One,a@one.example,DE,EUR,de_DE,s@x.example,2010-01-01,\n"
        + "C2,Two,a@two.example,TW,USD,zh_TW,s@x.example,2010-01-01,\n"
        + "C3,Three,a@three.example,XK,EUR,sq-XK,s@x.example,2010-01-01,\n"
    )
    plan = run(app, "customers", f)
    assert f"{f}:2: column locale: value 'de_DE' read as 'de-DE'" in plan.fixes
    assert f"{f}:3: column locale: value 'zh_TW' read as 'zh-TW'" in plan.fixes
    with app.uow() as uow:
        stored = dict(uow.session.exec(select(Customer.code, Customer.locale)).all())
    assert stored == {"C1": "de-DE", "C2": "zh-TW", "C3": "sq-XK"}  # Kosovo is accepted
    assert run(app, "customers", f).unchanged == ["C1", "C2", "C3"]


def test_a_customer_with_an_implausible_country_locale_currency_or_date_is_refused(app, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(
        HEADER
        + "C1,One,a@one.example,ZZ,EUR,en,s@x.example,2010-01-01,\n"
        + "C2,Two,a@two.example,DE,XXX,xx-YY,s@x.example,2099-01-01,\n"
        + "C3,Three,a@three.example,DE,EUR,en,s@x.example,1700-01-01,\n"
    )
    lines = refused(app, "customers", f)
    assert lines == [
        f"{f}:2: column country: value 'ZZ': no country has this ISO 3166-1 code (e.g. DE)",
        f"{f}:3: column currency: value 'XXX': not a currency in use (XXX is 'Unknown Currency')",
        f"{f}:3: column locale: value 'xx-YY': not a locale Babel knows (e.g. en, de_DE, zh-Hant)",
        f"{f}:3: column registered_on: value '2099-01-01': registered in the future (today is 2026-12-06)",
        f"{f}:4: column registered_on: value '1700-01-01': implausibly early (before 1800-01-01)",
    ]
    assert count(app, Customer) == 0


def test_documents_dated_in_the_future_are_refused_and_library_callers_without_today_are_not(
    app, tmp_path
):
    import_sample(app, ("customers",))
    invoices = tmp_path / "i.csv"
    invoices.write_text(
        "customer_code,number,issue_date,due_date,amount,currency\n"
        "C-1001,F-1,2027-01-05,2027-02-04,100.00,EUR\n"
    )
    payments = tmp_path / "p.csv"
    payments.write_text(
        "customer_code,reference,paid_on,amount,currency,method\n"
        "C-1001,P-1,2027-01-05,100.00,EUR,bank_transfer\n"
    )
    orders = tmp_path / "o.csv"
    orders.write_text(
        "customer_code,number,order_date,amount,currency\nC-1001,O-1,2027-01-05,100.00,EUR\n"
    )
    assert refused(app, "invoices", invoices) == [
        f"{invoices}:2: column issue_date: value '2027-01-05': issued in the future (today is 2026-12-06)"
    ]
    assert refused(app, "payments", payments) == [
        f"{payments}:2: column paid_on: value '2027-01-05': paid in the future (today is 2026-12-06)"
    ]
    assert refused(app, "orders", orders) == [
        f"{orders}:2: column order_date: value '2027-01-05': ordered in the future (today is 2026-12-06)"
    ]
    for kind, path in (("invoices", invoices), ("payments", payments), ("orders", orders)):
        assert run(app, kind, path).created  # no today given: the caller decides


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        (
            "invoices",
            "customer_code,number,issue_date,due_date,amount,currency\n"
            "C-1001,N1,2026-01-01,2026-02-01,100.005,EUR\n",
            "column amount: value '100.005': more decimals than EUR has (2)",
        ),
        (
            "invoices",
            "customer_code,number,issue_date,due_date,amount,currency\n"
            "C-1009,N1,2026-01-01,2026-02-01,99999999999999,USD\n",
            "column amount: value '99999999999999': larger than the maximum amount 999,999,999,999.99",
        ),
        (
            "invoices",
            "customer_code,number,issue_date,due_date,amount,currency\n"
            "C-1001,N1,2026-01-01,2026-02-01,1e5,EUR\n",
            "column amount: value '1e5': exponent notation is not accepted; write 100000",
        ),
        (
            "invoices",
            "customer_code,number,issue_date,due_date,amount,currency\n"
            "C-1001,N1,2026-01-01,2026-02-01,100,XYZ\n",
            "column currency: value 'XYZ': not an ISO 4217 currency code (e.g. EUR)",
        ),
        (
            "payments",
            "customer_code,reference,paid_on,amount,currency,method\n"
            "C-1001,P1,2026-01-01,100.5,JPY,bank_transfer\n",
            "column amount: value '100.5': JPY has no decimals: write a whole amount",
        ),
        (
            "payments",
            "customer_code,reference,paid_on,amount,currency,method\n"
            "C-1001,P1,2026-01-01,+100,EUR,bank_transfer\n",
            "column amount: value '+100': a leading '+' is not accepted; write 100",
        ),
        (
            "orders",
            "customer_code,number,order_date,amount,currency\nC-1001,O1,2026-01-01,1.0005,KWD\n",
            "column amount: value '1.0005': more decimals than KWD has (3)",
        ),
        (
            "orders",
            "customer_code,number,order_date,amount,currency\nC-1001,O1,2026-01-01,1 000,EUR\n",
            "column amount: value '1 000': spaces are not accepted inside an amount",
        ),
        (
            "fx-rates",
            "currency,rate_date,rate_to_base\nXAU,2026-01-01,2500\n",
            "column currency: value 'XAU': not a currency in use (XAU is 'Gold')",
        ),
        (
            "financials",
            "customer_code,period_end,currency,revenue,net_income,total_assets,total_liabilities,"
            "current_assets,current_liabilities,operating_cash_flow\n"
            "C-1001,2025-12-31,XTS,100,5,80,40,30,20,6\n",
            "column currency: value 'XTS': not a currency in use (XTS is 'Testing Currency Code')",
        ),
        (
            "financials",
            "customer_code,period_end,currency,revenue,net_income,total_assets,total_liabilities,"
            "current_assets,current_liabilities,operating_cash_flow\n"
            "C-1001,2025-12-31,JPY,100.50,5,80,40,30,20,6\n",
            "column revenue: value '100.50': JPY has no decimals: write a whole amount",
        ),
        (
            "financials",  # without the column: in the customer's currency
            "customer_code,period_end,revenue,net_income,total_assets,total_liabilities,"
            "current_assets,current_liabilities,operating_cash_flow\n"
            "C-1001,2025-12-31,100.005,5,80,40,30,20,6\n",
            "column revenue: value '100.005': more decimals than EUR has (2)",
        ),
    ],
)
def test_implausible_amounts_and_currencies_are_refused_with_located_reasons(
    app, tmp_path, kind, content, expected
):
    import_sample(app, ("customers",))
    f = tmp_path / "f.csv"
    f.write_text(content)
    lines = refused(app, kind, f)
    assert f"{f}:2: {expected}" in "\n".join(lines), lines
    assert count(app, Invoice) == count(app, Payment) == 0


FIN_HEADER = (
    "customer_code,period_end,currency,revenue,net_income,total_assets,total_liabilities,"
    "current_assets,current_liabilities,operating_cash_flow\n"
)


def test_a_statement_keeps_its_own_currency_and_defaults_to_the_customers(app, tmp_path):
    from credit.db.models import FinancialStatement

    import_sample(app, ("customers",))
    f = tmp_path / "fin.csv"
    f.write_text(
        FIN_HEADER
        + "C-1001,2025-12-31,USD,1000000,50000,800000,400000,300000,200000,60000\n"
        + "C-1002,2025-12-31,,1000000,50000,800000,400000,300000,200000,60000\n"
    )
    run(app, "financials", f)
    # a file without the column: a stored statement keeps its currency, a new one is the customer's
    g = tmp_path / "fin2.csv"
    g.write_text(
        FIN_HEADER.replace("currency,", "")
        + "C-1001,2025-12-31,1000000,50000,800000,400000,300000,200000,60000\n"
        + "C-1009,2025-12-31,1000000,50000,800000,400000,300000,200000,60000\n"
    )
    plan = run(app, "financials", g)
    assert (len(plan.unchanged), len(plan.created), plan.updated) == (1, 1, [])
    with app.uow() as uow:
        stored = {
            (c, str(p)): cur
            for c, p, cur in uow.session.exec(
                select(
                    Customer.code, FinancialStatement.period_end, FinancialStatement.currency
                ).join(Customer, Customer.id == FinancialStatement.customer_id)
            )
        }
    assert stored == {
        ("C-1001", "2025-12-31"): "USD",  # the statement's own, not the customer's EUR
        ("C-1002", "2025-12-31"): "EUR",
        ("C-1009", "2025-12-31"): "USD",
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """A migrated database with the shipped policy, on SQLite and on PostgreSQL."""
    import contextlib

    from credit import services
    from credit.app import App
    from credit.settings import Settings
    from tests.conftest import TEST_COMPANY, scratch_postgres

    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'credit.db'}"
        else:
            url = stack.enter_context(scratch_postgres())
        a = App(
            Settings.load(
                env_file=None,
                environ={
                    "CREDIT_DATABASE_URL": url,
                    "CREDIT_OUTBOX_DIR": str(tmp_path / "out"),
                    **TEST_COMPANY,
                },
            )
        )
        services.init_database(a, actor="test")
        yield a
        a.engine.dispose()


def _documents(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "".join(f"{r}\n" for r in rows))
    return path


def test_the_largest_amounts_one_customer_may_have_still_add_up_without_overflow(any_db, tmp_path):
    from sqlmodel import col

    from credit import services
    from credit.db.models import DunningAction, SalesOrder
    from credit.domain.money import MAX_CUSTOMER_TOTAL, MAX_DOCUMENT_AMOUNT

    app, biggest = any_db, "999999999999.99"
    import_sample(app, ("customers",))
    inv_header = "customer_code,number,issue_date,due_date,amount,currency\n"
    invoices = [f"C-1009,BIG-{k},2026-0{k % 9 + 1}-01,2026-10-01,{biggest},USD" for k in range(10)]
    run(app, "invoices", _documents(tmp_path / "i.csv", inv_header, invoices))
    orders = [f"C-1009,SO-BIG-{k},2026-11-01,{biggest},USD,open" for k in range(10)]
    order_header = "customer_code,number,order_date,amount,currency,status\n"
    run(app, "orders", _documents(tmp_path / "o.csv", order_header, orders))
    # one cent more than the ten largest invoices would take the customer past the maximum
    over = _documents(
        tmp_path / "over.csv",
        inv_header,
        [
            "C-1001,OK-1,2026-11-01,2026-12-01,5.00,EUR",
            "C-1009,BIG-11,2026-11-01,2026-12-01,0.10,USD",
        ],
    )
    assert refused(app, "invoices", over) == [
        f"{over}:3: column amount: value '0.10': takes customer C-1009's invoices in USD to "
        "10,000,000,000,000.00 (already stored 9,999,999,999,999.90); at most "
        "9,999,999,999,999.99 per customer and currency, counted without sign, can be added up "
        "safely"
    ]
    assert refused(app, "invoices", over, today=None)  # the limit holds for library callers too
    total = Decimal(biggest) * 10
    assert total <= MAX_CUSTOMER_TOTAL
    with app.uow() as uow:
        s = uow.session
        assert s.exec(select(func.sum(Invoice.amount))).one() == total  # exact in SQL
        assert s.exec(select(func.sum(col(SalesOrder.amount)))).one() == total
    shown = services.customer_overview(app, code="C-1009", as_of=date(2026, 12, 6))
    assert Decimal(shown["exposure"]["USD"]) == total
    checked = services.check_order(
        app, customer_code="C-1009", amount=MAX_DOCUMENT_AMOUNT, as_of=date(2026, 12, 6)
    )
    assert checked["decision"] == "hold"  # no credit line; the exposure was computed
    # a collections run stores the customer's overdue total (a money column) exactly
    monday = date(2026, 12, 8)  # a Tuesday, a business day in Taiwan
    ids = services.collection_candidates(app, as_of=monday)
    [outcome] = services.dun_customers(app, customer_ids=ids, as_of=monday, dry_run=False)
    assert (outcome["customer"], outcome["status"]) == ("C-1009", "sent"), outcome
    with app.uow() as uow:
        stored = uow.session.exec(
            select(DunningAction.overdue_total).where(DunningAction.currency == "USD")
        ).all()
    assert stored and max(stored) == total


def test_stored_amounts_that_can_no_longer_be_added_up_refuse_more_for_that_customer(
    any_db, tmp_path
):
    from sqlalchemy import text

    app = any_db
    import_sample(app, ("customers",))
    # what an import let through before the limits: ten invoices at the column's maximum
    with app.engine.begin() as conn:
        cid = conn.execute(text("SELECT id FROM customer WHERE code = 'C-1009'")).scalar_one()
        amount = (
            999999999999999999 if app.engine.dialect.name == "sqlite" else "99999999999999.9999"
        )
        for k in range(10):
            conn.execute(
                text(
                    "INSERT INTO invoice (customer_id, number, issue_date, due_date, amount, "
                    "currency, kind, created_at) VALUES (:c, :n, '2026-01-01', '2026-02-01', :a, "
                    "'USD', 'invoice', '2026-01-01 00:00:00')"
                ),
                {"c": cid, "n": f"OLD-{k}", "a": amount},
            )
    f = _documents(
        tmp_path / "i.csv",
        "customer_code,number,issue_date,due_date,amount,currency\n",
        ["C-1009,NEW-1,2026-11-01,2026-12-01,100.00,USD"],
    )
    [line] = refused(app, "invoices", f)
    assert line.startswith(
        f"{f}:2: column amount: value '100.00': takes customer C-1009's invoices in USD to "
        "1,000,000,000,000,099.9990 (already stored 999,999,999,999,999.9990)"
    )
    assert count(app, Invoice) == 10


@pytest.mark.parametrize(
    ("kind", "header", "row"),
    [
        ("payments", "customer_code,reference,paid_on,amount,currency,method\n",
         "C-1009,P-{k},2026-11-01,{amount},USD,bank_transfer"),
        ("orders", "customer_code,number,order_date,amount,currency\n",
         "C-1009,O-{k},2026-11-01,{amount},USD"),
    ],
)  # fmt: skip
def test_payments_and_orders_of_one_customer_are_limited_like_its_invoices(
    app, tmp_path, kind, header, row
):
    import_sample(app, ("customers",))
    rows = [row.format(k=k, amount="999999999999.99") for k in range(10)]
    f = _documents(tmp_path / "f.csv", header, [*rows, row.format(k=10, amount="0.10")])
    assert refused(app, kind, f) == [
        f"{f}:12: column amount: value '0.10': takes customer C-1009's {kind} in USD to "
        "10,000,000,000,000.00 (already stored 0.00); at most 9,999,999,999,999.99 per customer "
        "and currency, counted without sign, can be added up safely"
    ]
    assert run(app, kind, _documents(tmp_path / "g.csv", header, rows)).created


ROW = "C-1001,L-{n},2026-01-05,2026-02-04,1.00,EUR,"
HEAD = "customer_code,number,issue_date,due_date,amount,currency,applies_to"


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        ((HEAD + "\r\n" + ROW.format(n=1) + "\r\n" + ROW.format(n=2)).encode(), [2, 3]),
        (("\ufeff" + HEAD + "\r\n" + ROW.format(n=1) + "\r\n").encode(), [2]),
        ((HEAD + "\r" + ROW.format(n=1) + "\r" + ROW.format(n=2) + "\r").encode(), [2, 3]),
        ((HEAD + "\n\n" + ROW.format(n=1) + "\n\r\n" + ROW.format(n=2)).encode(), [3, 5]),
        # a quoted cell over two lines: the row after it is on line 4
        ((HEAD + '\n"C-1001",L-1,2026-01-05,2026-02-04,1.00,EUR,"a\r\nb"\n' + ROW.format(n=2)
          ).encode(), [3, 4]),
        # a line break across the reader's 8,192-byte chunks
        ((HEAD + "\n" + "".join(ROW.format(n=f"{i:06d}") + "\r\n" for i in range(200))).encode(),
         list(range(2, 202))),
    ],
    ids=["crlf", "bom-crlf", "lone-cr", "blank-lines", "quoted-line-break", "chunk-boundary"],
)  # fmt: skip
def test_rows_are_numbered_by_the_line_they_end_on_whatever_the_line_breaks(
    tmp_path, content, lines
):
    from credit.importers.rows import read_rows

    path = tmp_path / "lines.csv"
    path.write_bytes(content)
    rows, errors = read_rows(path, "invoices")
    assert errors == []
    assert [r.line for r in rows] == lines
    assert rows[0].values["customer_code"] == "C-1001"
