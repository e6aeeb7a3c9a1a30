"""CSV imports are all-or-nothing, located and idempotent (real SQLite files)."""

from __future__ import annotations

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
            "column amount: value '1e400': larger than the maximum amount",
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
