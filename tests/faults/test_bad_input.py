"""Scenario 7: bad input everywhere. A corpus of bad CSV files and bad command-line arguments
through the real `credit` command: a located error (file, row, column, value, reason), exit code
2, no traceback, nothing written. And a bounded hypothesis fuzz of the CSV importer."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from credit.app import App
from credit.db.models import AuditEvent, Invoice
from credit.importers import COLUMNS, ImportFailed, import_file
from tests.conftest import import_sample
from tests.e2e.conftest import CREDIT
from tests.faults.sizes import BIG_FILE_MB

HEADER = "customer_code,number,issue_date,due_date,amount,currency,applies_to\n"
GOOD = "C-1001,NEW-{i},2026-01-05,2026-02-04,100.00,EUR,\n"

# (file name, bytes, what the error must say); every file has something wrong
CORPUS = [
    ("bom_semicolon.csv", b"\xef\xbb\xbf" + HEADER.replace(",", ";").encode(),
     ["bom_semicolon.csv:1", "separator must be ',' not ';'"]),
    ("bom_bad_date.csv", b"\xef\xbb\xbf" + (HEADER + "C-1001,B-1,2026-1-5,2026-02-04,1.00,EUR,\n").encode(),
     ["bom_bad_date.csv:2", "column issue_date", "'2026-1-5'", "not an ISO date"]),
    ("decimal_comma.csv", (HEADER + 'C-1001,D-1,2026-01-05,2026-02-04,"1.234,56",EUR,\n').encode(),
     ["decimal_comma.csv:2", "column amount", "'1.234,56'", "'.' as the decimal separator"]),
    ("ambiguous_date.csv", (HEADER + "C-1001,A-1,01/02/2026,2026-02-04,10.00,EUR,\n").encode(),
     ["ambiguous_date.csv:2", "column issue_date", "'01/02/2026'", "YYYY-MM-DD"]),
    ("duplicate_key.csv", (HEADER + GOOD.format(i=1) + GOOD.format(i=1)).encode(),
     ["duplicate_key.csv:3", "column number", "duplicate"]),
    ("missing_column.csv", b"customer_code,number,issue_date,amount,currency\n",
     ["missing_column.csv:1", "column due_date", "required column is missing"]),
    ("extra_column.csv", HEADER.replace("\n", ",colour\n").encode(),
     ["extra_column.csv:1", "column colour", "unknown column"]),
    ("huge_value.csv", (HEADER + "C-1001,H-1,2026-01-05,2026-02-04,123456789012345678901234.00,EUR,\n").encode(),
     ["huge_value.csv:2", "column amount", "larger than the maximum amount 999,999,999,999.99"]),
    ("latin1.csv", HEADER.encode() + "C-1001,Caf\xe9-1,2026-01-05,2026-02-04,1.00,EUR,\n".encode("latin-1"),
     ["latin1.csv:2", "not UTF-8"]),
    ("unknown_customer.csv", (HEADER + "NOPE,U-1,2026-01-05,2026-02-04,1.00,EUR,\n").encode(),
     ["unknown_customer.csv:2", "column customer_code", "'NOPE'", "no such customer"]),
    ("empty.csv", b"", ["empty.csv:1", "empty file"]),
]  # fmt: skip

DRY_RUN_TOO = {"bom_semicolon.csv", "duplicate_key.csv", "latin1.csv"}

# bad arguments: (argv, what the message must say)
BAD_ARGS = [
    (["collections", "run", "--as-of", "2026-13-45"], "2026-13-45"),
    (["customers", "show", "NOPE"], "NOPE"),
    (["notices", "list", "--status", "bogus"], "bogus"),
    (["notices", "retry", "999999", "--as", "carla.manager", "--reason", "fixed"], "999999"),
    (["import", "invoices", "/no/such/file.csv"], "/no/such/file.csv"),
    (["approve", "not-a-number", "--as", "carla.manager"], "Invalid value for 'request_id'"),
]


@pytest.fixture
def desk(app: App, tmp_path) -> App:
    import_sample(app, ("customers",))
    return app


def snapshot(app: App) -> tuple[int, int]:
    with app.uow() as uow:
        s = uow.session
        return (
            s.exec(select(func.count()).select_from(Invoice)).one(),
            s.exec(select(func.count()).select_from(AuditEvent)).one(),
        )


def credit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CREDIT, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(("name", "content", "says"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_bad_file_is_refused_with_a_located_error_and_nothing_written(
    desk, tmp_path, name, content, says
):
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot(desk)
    # a dry run refuses the same way (checked on a few files: each run is a process start)
    runs = [("import", "invoices", str(path))]
    if name in DRY_RUN_TOO:
        runs.append(("import", "invoices", str(path), "--dry-run"))
    for args in runs:
        done = credit(*args, cwd=tmp_path)
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert "Traceback" not in out
        for fragment in says:
            assert fragment in out, (fragment, out)
    assert snapshot(desk) == before
    print(f"{name}: exit 2, {out.strip().splitlines()[0]}")


@pytest.mark.parametrize(("argv", "says"), BAD_ARGS, ids=[" ".join(a[:2]) for a, _ in BAD_ARGS])
def test_bad_arguments_exit_2_with_a_message_and_no_traceback(desk, tmp_path, argv, says):
    before = snapshot(desk)
    done = credit(*argv, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out and says in out, out
    assert snapshot(desk) == before


@pytest.mark.parametrize(
    "argv",
    [["customers", "list"], ["approvals", "sweep"], ["collections", "run", "--dry-run"]],
    ids=["read command", "flow command", "collections run"],
)
def test_a_settings_line_dotenv_cannot_parse_stops_the_command_with_one_line(desk, tmp_path, argv):
    """Without the check, python-dotenv skipped the line (the setting silently unset) and Prefect
    warned of it, in its own words, hundreds of times in one flow command."""
    (tmp_path / ".env").write_text(
        "# mine\nCREDIT_TIMEZONE=Europe/Berlin\nCREDIT_SMTP_HOST mail.example\n"
    )
    before = snapshot(desk)
    done = credit(*argv, cwd=tmp_path)
    out = (done.stdout + done.stderr).strip()
    assert done.returncode == 2, out
    assert out == (
        "error: .env, line 3: 'CREDIT_SMTP_HOST mail.example': not NAME=value; fix or remove the line"
    ), out
    assert snapshot(desk) == before


# Implausible values (issue 15): one file per kind, one problem per row, each refused located.
TODAY_LATER = "2099-01-05"
IMPLAUSIBLE = [
    ("customers",
     "code,name,email,country,currency,locale,sales_owner_email,registered_on\n"
     "N-1,A,a@a.example,ZZ,EUR,en,s@a.example,2001-01-01\n"
     "N-2,B,b@a.example,DE,EUR,xx-YY,s@a.example,2001-01-01\n"
     f"N-3,C,c@a.example,DE,EUR,en,s@a.example,{TODAY_LATER}\n"
     "N-4,D,d@a.example,DE,XYZ,en,s@a.example,2001-01-01\n",
     [":2: column country: value 'ZZ': no country has this ISO 3166-1 code",
      ":3: column locale: value 'xx-YY': not a locale Babel knows",
      f":4: column registered_on: value '{TODAY_LATER}': registered in the future (today is",
      ":5: column currency: value 'XYZ': not an ISO 4217 currency code"]),
    ("invoices",
     HEADER
     + "C-1009,X-1,2026-01-05,2026-02-04,99999999999999,USD,\n"
     + "C-1001,X-2,2026-01-05,2026-02-04,1e5,EUR,\n"
     + "C-1001,X-3,2026-01-05,2026-02-04,100.005,EUR,\n"
     + f"C-1001,X-4,{TODAY_LATER},2099-02-04,100.00,EUR,\n"
     + "C-1001,X-5,2026-01-05,2026-02-04,100.00,XXX,\n",
     [":2: column amount: value '99999999999999': larger than the maximum amount 999,999,999,999.99",
      ":3: column amount: value '1e5': exponent notation is not accepted; write 100000",
      ":4: column amount: value '100.005': more decimals than EUR has (2)",
      f":5: column issue_date: value '{TODAY_LATER}': issued in the future (today is",
      ":6: column currency: value 'XXX': not a currency in use"]),
    ("payments",
     "customer_code,reference,paid_on,amount,currency,method\n"
     f"C-1001,X-1,{TODAY_LATER},100.00,EUR,bank_transfer\n"
     "C-1001,X-2,2026-01-05,100.5,JPY,bank_transfer\n",
     [f":2: column paid_on: value '{TODAY_LATER}': paid in the future (today is",
      ":3: column amount: value '100.5': JPY has no decimals: write a whole amount"]),
    ("orders",
     "customer_code,number,order_date,amount,currency\n"
     f"C-1001,X-1,{TODAY_LATER},100.00,EUR\n"
     "C-1001,X-2,2026-01-05,+100,EUR\n",
     [f":2: column order_date: value '{TODAY_LATER}': ordered in the future (today is",
      ":3: column amount: value '+100': a leading '+' is not accepted; write 100"]),
    ("financials",
     "customer_code,period_end,currency,revenue,net_income,total_assets,total_liabilities,"
     "current_assets,current_liabilities,operating_cash_flow\n"
     "C-1001,2025-12-31,XTS,100,5,80,40,30,20,6\n"
     "C-1002,2025-12-31,,100.005,5,80,40,30,20,6\n",
     [":2: column currency: value 'XTS': not a currency in use",
      ":3: column revenue: value '100.005': more decimals than EUR has (2)"]),
    ("fx-rates",
     "currency,rate_date,rate_to_base\nXAU,2026-01-01,2500\n",
     [":2: column currency: value 'XAU': not a currency in use (XAU is 'Gold')"]),
]  # fmt: skip


def counts(app: App) -> dict[str, int]:
    from credit.db.models import Customer, FinancialStatement, FxRate, Payment, SalesOrder

    with app.uow() as uow:
        return {
            m.__name__: uow.session.exec(select(func.count()).select_from(m)).one()
            for m in (
                Customer,
                Invoice,
                Payment,
                SalesOrder,
                FinancialStatement,
                FxRate,
                AuditEvent,
            )
        }


@pytest.mark.parametrize(("kind", "content", "says"), IMPLAUSIBLE, ids=[c[0] for c in IMPLAUSIBLE])
def test_implausible_values_are_refused_each_with_a_located_line_and_nothing_written(
    desk, tmp_path, kind, content, says
):
    path = tmp_path / f"{kind}.csv"
    path.write_text(content)
    before = counts(desk)
    done = credit("import", kind, str(path), cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out
    for fragment in says:
        assert f"{path}{fragment}" in out, (fragment, out)
    assert counts(desk) == before


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["orders", "check", "C-1001", "--amount", "99999999999999"],
         "--amount: value '99999999999999': larger than the maximum amount 999,999,999,999.99"),
        (["orders", "check", "C-1001", "--amount", "1e5"],
         "--amount: value '1e5': exponent notation is not accepted; write 100000"),
    ],
    ids=["too large", "exponent"],
)  # fmt: skip
def test_money_options_take_the_limits_of_one_document(desk, tmp_path, argv, says):
    before = counts(desk)
    done = credit(*argv, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out and says in out, out
    assert counts(desk) == before


@pytest.mark.slow
def test_a_big_file_with_one_bad_row_at_the_end_writes_nothing(desk, tmp_path):
    path = tmp_path / "big.csv"
    row = "C-1001,BIG-{:08d},2026-01-05,2026-02-04,100.00,EUR,\n"
    with path.open("w") as f:
        f.write(HEADER)
        i = 0
        while f.tell() < BIG_FILE_MB * 1024 * 1024:
            f.writelines(row.format(i + k) for k in range(10_000))
            i += 10_000
        f.write("C-1001,BIG-LAST,2026-01-05,2026-02-04,12x,EUR,\n")
    before = snapshot(desk)
    started = time.monotonic()
    done = credit("import", "invoices", str(path), cwd=tmp_path)
    seconds = time.monotonic() - started
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in out, out[-3000:]
    assert f"big.csv:{i + 2}: column amount: value '12x'" in out, out[-3000:]
    assert snapshot(desk) == before
    print(
        f"{BIG_FILE_MB} MB file ({i + 1:,} rows): refused in {seconds:.1f} s, row {i + 2} named, nothing written"
    )


CELL = st.one_of(
    st.sampled_from(["C-1001", "C-9999", "", " ", "EUR", "eur", "XXX", "2026-01-05", "2026-02-30",
                     "05.01.2026", "1.234,56", "1,234.56", "-0", "1e3", "NaN", "100.00", "0.00001",
                     "99999999999999.9999", "=cmd()", "\x00", "\u202e", "INV-1"]),
    st.text(max_size=12),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    header=st.permutations(list(COLUMNS["invoices"])).flatmap(
        lambda cols: st.integers(min_value=0, max_value=len(cols)).map(lambda n: cols[n:])
    ),
    rows=st.lists(st.lists(CELL, min_size=0, max_size=9), max_size=6),
)
# found by the fuzzer: lone carriage returns inside quoted cells end lines for the reader
@example(header=list(COLUMNS["invoices"]), rows=[["0\r", "\r\r"]])
def test_fuzzed_invoice_files_either_import_or_fail_located_and_write_nothing(
    desk, tmp_path, header, rows
):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "fuzz.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
    with desk.uow() as uow:
        s = uow.session
        before = s.exec(select(func.count()).select_from(Invoice)).one()
        try:
            plan = import_file(s, kind="invoices", path=path, actor="fuzz", dry_run=False)
        except ImportFailed as exc:
            assert exc.errors
            for e in exc.errors:
                # rows are named by line (a cell may span lines, and a lone \r ends a line too,
                # as the csv reader counts them)
                lines = len(buffer.getvalue().splitlines())
                assert e.file == str(path) and 0 <= e.row <= lines + 2 and e.reason
                assert e.column
            # nothing was added to the session before the whole file was checked
            assert s.exec(select(func.count()).select_from(Invoice)).one() == before
        else:
            assert plan.rows == len(rows)
        s.rollback()
