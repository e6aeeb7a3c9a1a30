"""Bank statements read from camt.053 and MT940 files: every entry of the sample statements as
cash application will see it, hostile and broken files refused with every problem located, and
the two formats giving the same entries for the same day. No database."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from credit.domain import rf
from credit.domain.statements import Entry, EntryKind, Remittance, Statement
from credit.importers.statements import (
    CAMT053,
    MAX_STATEMENT_BYTES,
    MT940,
    StatementRejected,
    parse_statements,
    read_statement,
    read_statements,
    statement_format,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_data" / "statements"
DATA = REPO / "tests" / "data" / "statements"
CREDIT, RETURN, DEBIT = EntryKind.CREDIT, EntryKind.RETURN, EntryKind.DEBIT
D = Decimal


def _path(name: str) -> Path:
    return SAMPLES / name if (SAMPLES / name).exists() else DATA / name


def _entries(name: str) -> dict[str, Entry]:
    return {e.ref: e for s in read_statements(_path(name)) for e in s.entries}


def _rejected(path: Path | str) -> list[str]:
    with pytest.raises(StatementRejected) as exc:
        read_statements(Path(path))
    assert str(exc.value) == "\n".join(p.message(str(path)) for p in exc.value.problems)
    assert exc.value.file == str(path)
    return str(exc.value).splitlines()


# -- statements ------------------------------------------------------------------------------

STATEMENTS = [
    # file, format, statement id, account, currency, opening, closing, entries
    (
        "camt053_day1.xml",
        CAMT053,
        "STMT-20261202-EUR-0236",
        "DE89370400440532013000",
        "EUR",
        "250000.00",
        "326490.00",
        6,
    ),
    (
        "camt053_day2.xml",
        CAMT053,
        "STMT-20261204-EUR-0238",
        "DE89370400440532013000",
        "EUR",
        "336287.50",  # mt940_day1.sta's closing balance
        "346487.50",
        2,
    ),
    (
        "mt940_day1.sta",
        MT940,
        "STARTUMS/00237/001",
        "DE89370400440532013000",  # :25: 37040044/0532013000 (bank code / account number)
        "EUR",
        "326490.00",  # camt053_day1.xml's closing balance
        "336287.50",
        4,
    ),
    ("equivalent.xml", CAMT053, "EQ/00001/001", "DE89370400440532013000", "EUR", "1000.00", "17250.00", 6),
    ("equivalent.sta", MT940, "EQ/00001/001", "DE89370400440532013000", "EUR", "1000.00", "17250.00", 6),
    ("camt053_fx_and_pending.xml", CAMT053, "FX-20261202", "DE89370400440532013000", "EUR", "-100.00", "4837.46", 3),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "fmt", "statement_id", "iban", "currency", "opening", "closing", "count"),
    STATEMENTS,
    ids=[row[0] for row in STATEMENTS],
)
def test_a_statement_names_its_account_currency_and_balances(
    name, fmt, statement_id, iban, currency, opening, closing, count
):
    statement = read_statement(_path(name))
    assert (statement.format, statement.statement_id) == (fmt, statement_id)
    assert (statement.account_iban, statement.currency) == (iban, currency)
    assert (statement.opening_balance, statement.closing_balance) == (D(opening), D(closing))
    assert len(statement.entries) == count
    assert all(e.currency == currency and e.amount > 0 for e in statement.entries)


# -- every entry of the samples --------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One remittance of one entry as the parser must read it (``part``: its position in a
    batch booking; a remittance amount only in a batch)."""

    file: str
    ref: str
    kind: EntryKind
    amount: str
    line: int
    part: int = 0
    paid: str | None = None
    structured: str | None = None
    text: str = ""
    end_to_end: str | None = None
    payer: str | None = None
    iban: str | None = None
    fx: tuple[str, str, str | None] | None = None  # instructed amount, currency, rate
    original: str | None = None
    reason: str | None = None
    bank_code: str = ""


DAY1 = "camt053_day1.xml"
DAY2 = "camt053_day2.xml"
MT = "mt940_day1.sta"
ENTRIES = [
    # camt053_day1.xml: the EUR account on 2 December 2026
    Row(DAY1, "2026120200001", CREDIT, "9600.00", 68, text="rechnung 1001-open2 lieferung november unser zeichen RF28 NW20 2611 4711", end_to_end="NW-2026-11-4711", payer="Nordwind Logistik GmbH", iban="DE75512108001245126199", bank_code="PMNT/RCDT/ESCT"),
    Row(DAY1, "2026120200002", CREDIT, "56000.00", 125, text="RF42 C101 2000 0000 3", end_to_end="GRANITE-2026-4471", payer="Granite Construction SE", iban="AT322011182345678901", bank_code="PMNT/RCDT/ESCT"),
    Row(DAY1, "2026120200003", CREDIT, "5660.00", 175, part=0, paid="5400.00", structured="RF61C100500000001", end_to_end="HS-PAY-2026-1187", payer="Helios Solar SpA", iban="IT60X0542811101000000123456", bank_code="PMNT/RCDT/ESCT"),
    Row(DAY1, "2026120200003", CREDIT, "5660.00", 175, part=1, paid="10.00", text="Rg. inv1010 open1", payer="Orchard Foods Kft.", iban="HU42117730161111101800000000", bank_code="PMNT/RCDT/ESCT"),
    Row(DAY1, "2026120200003", CREDIT, "5660.00", 175, part=2, paid="250.00", text="Zahlung", payer="Max Schneider", iban="DE37500105175407324960", bank_code="PMNT/RCDT/ESCT"),
    Row(DAY1, "2026120200004", CREDIT, "11437.50", 294, text="PAYMENT INVOICE 1009-OPEN1", end_to_end="PT-20261128-0042", payer="Pioneer Tools Taiwan Ltd", fx=("12500.00", "USD", "0.9150"), bank_code="PMNT/RCDT/XBCT"),
    Row(DAY1, "2026120200005", RETURN, "6200.00", 368, text="INV-1003-OPEN2 Lastschrift vom 20.11.2026", end_to_end="PAY-1003-LATE2", payer="Brightline Retail SARL", iban="FR1420041010050500013M02606", original="PAY-1003-LATE2", reason="AM04", bank_code="PMNT/IDDT/UPDD"),
    Row(DAY1, "2026120200006", DEBIT, "7.50", 430, text="Entgelt Kontofuehrung 11/2026", bank_code="ACMT/MDOP/CHRG"),
    # camt053_day2.xml: the EUR account on 4 December 2026
    Row(DAY2, "2026120400001", CREDIT, "4000.00", 68, text="Saldo", end_to_end="HS-PAY-2026-1204", payer="Helios Solar SpA", iban="IT60X0542811101000000123456", bank_code="PMNT/RCDT/ESCT"),
    Row(DAY2, "2026120400002", CREDIT, "6200.00", 119, text="INV-1003-OPEN2 nach Ruecklastschrift", end_to_end="BL-2026-12-04-01", payer="Brightline Retail SARL", iban="FR1420041010050500013M02606", bank_code="PMNT/RCDT/ESCT"),
    # mt940_day1.sta: the EUR account on 3 December 2026, as MT940
    Row(MT, "2612030000111", CREDIT, "9800.00", 6, text="INV-1007-OPEN1 INV-1007-OPEN2 LESS CREDIT NOTE CN-1007-001", end_to_end="CB-REMIT-88412", payer="CRUMBLING BRICKS LTD", iban="GB33BUKB20201555555555", bank_code="NTRF+166"),
    Row(MT, "2612030000112", CREDIT, "12070.00", 11, text="INVOICE INV-1006-009", end_to_end="FJORD-PAY-2026-0611", payer="FJORD MARINE AS", iban="NO9386011117947", bank_code="NTRF+166"),
    Row(MT, "2612030000113", RETURN, "12070.00", 16, text="RECALL DUPLICATE PAYMENT INV-1006-009", end_to_end="FJORD-PAY-2026-0611", payer="FJORD MARINE AS", iban="NO9386011117947", original="FJORD-PAY-2026-0611", bank_code="NRTI+159"),
    Row(MT, "2612030000114", DEBIT, "2.50", 21, text="Entgelte vom 01.11.2026 bis 30.11.2026", bank_code="NCHG+805"),
    # mt940_marks.sta: the debit/credit marks and return codes, two statements, SWIFT envelopes
    Row("mt940_marks.sta", "M-C", CREDIT, "100.00", 6, text="Payment for INV-1002-010, thanks", bank_code="NTRF"),
    Row("mt940_marks.sta", "M-D", DEBIT, "20.00", 9, text="Supplier invoice 4711", bank_code="NTRF"),
    Row("mt940_marks.sta", "M-RC", RETURN, "30.00", 11, bank_code="NMSC"),
    Row("mt940_marks.sta", "M-RD", CREDIT, "40.00", 12, bank_code="NMSC"),
    Row("mt940_marks.sta", "M-109", RETURN, "50.00", 13, text="INV-1003-OPEN2", end_to_end="PAY-1003-LATE2", original="PAY-1003-LATE2", bank_code="NDDT+109"),
    Row("mt940_marks.sta", "M-RTI", RETURN, "60.00", 15, text="RETURNED ITEM", bank_code="NRTI"),
    Row("mt940_marks.sta", "MARKS/1/1#7", CREDIT, "5.00", 17, bank_code="NTRF"),
    Row("mt940_marks.sta", "MARKS/1/1#8", CREDIT, "6.00", 18, bank_code="NTRF"),
    Row("mt940_marks.sta", "M-NEWYEAR", CREDIT, "1.00", 26, structured="RF61C100500000001", bank_code="NTRF+166"),
    # camt053_fx_and_pending.xml: rates as EUR per unit, USD per EUR, guessed from the amounts
    Row("camt053_fx_and_pending.xml", "FX-UNIT-EUR", CREDIT, "1143.75", 17, fx=("1250.00", "USD", "0.9149967975")),
    Row("camt053_fx_and_pending.xml", "FX-20261202#2", CREDIT, "1170.00", 28, fx=("1000.00", "GBP", "1.17000117")),
    Row("camt053_fx_and_pending.xml", "FX-NO-RATE", CREDIT, "2623.71", 38, text="AUSLANDSZAHLUNG CHF", fx=("2500.00", "CHF", None)),
]  # fmt: skip


@pytest.mark.parametrize("row", ENTRIES, ids=[f"{r.file}:{r.ref}:{r.part}" for r in ENTRIES])
def test_each_entry_is_read_with_its_kind_amount_references_payer_and_rate(row: Row):
    entry = _entries(row.file)[row.ref]
    assert (entry.kind, entry.amount, entry.line) == (row.kind, D(row.amount), row.line)
    assert (entry.bank_code, entry.original_ref, entry.return_reason) == (
        row.bank_code,
        row.original,
        row.reason,
    )
    fx = row.fx or (None, None, None)
    assert entry.remittances[row.part] == Remittance(
        amount=D(row.paid) if row.paid else None,
        currency=entry.currency if row.paid else None,
        structured=row.structured,
        text=row.text,
        end_to_end=row.end_to_end,
        payer_name=row.payer,
        payer_iban=row.iban,
        instructed_amount=D(fx[0]) if fx[0] else None,
        instructed_currency=fx[1],
        rate=D(fx[2]) if fx[2] else None,
    )


@pytest.mark.parametrize(
    "name", [DAY1, DAY2, MT, "mt940_marks.sta", "camt053_fx_and_pending.xml"], ids=str
)
def test_the_table_covers_every_entry_and_remittance_of_the_file(name):
    read = {(e.ref, n) for e in _entries(name).values() for n in range(len(e.remittances))}
    assert read == {(r.ref, r.part) for r in ENTRIES if r.file == name}


def test_a_pending_entry_is_not_read_it_is_not_booked_yet():
    assert "PENDING-1" not in _entries("camt053_fx_and_pending.xml")


def test_booking_and_value_dates_are_read_across_a_new_year():
    assert _entries(DAY1)["2026120200004"].value_on.isoformat() == "2026-12-03"
    new_year = _entries("mt940_marks.sta")["M-NEWYEAR"]
    assert (new_year.value_on.isoformat(), new_year.booked_on.isoformat()) == (
        "2026-12-31",
        "2027-01-02",
    )


def test_the_references_in_the_samples_are_what_the_rules_expect():
    """Ours (quoted by the RF rule), valid but not ours, and one with its check digits swapped."""
    day1 = _entries(DAY1)
    assert rf.is_valid(day1["2026120200003"].remittances[0].structured or "")
    assert rf.find_all(day1["2026120200001"].remittances[0].text) == ["RF28NW2026114711"]
    assert rf.is_valid("RF28NW2026114711")
    assert rf.find_all(day1["2026120200002"].remittances[0].text) == ["RF42C101200000003"]
    assert not rf.is_valid("RF42C101200000003")
    assert rf.make("C101200000003") == "RF24C101200000003"


def test_the_samples_quote_invoices_and_customers_of_the_sample_ledger():
    ledger = REPO / "sample_data"
    with (ledger / "invoices.csv").open(newline="") as f:
        numbers = {row["number"] for row in csv.DictReader(f)}
    with (ledger / "customers.csv").open(newline="") as f:
        names = {row["name"].upper().rstrip(".") for row in csv.DictReader(f)}
    quoted = {"INV-1007-OPEN1", "INV-1007-OPEN2", "CN-1007-001", "INV-1003-OPEN2", "INV-1006-009"}
    assert quoted <= numbers
    payers = {
        (r.payer_name or "").upper().rstrip(".")
        for name in (DAY1, DAY2, MT)
        for e in _entries(name).values()
        for r in e.remittances
        if r.payer_name
    }
    assert payers - names == {"MAX SCHNEIDER"}  # the one payer we do not know


def test_the_samples_are_of_company_accounts_and_follow_on_from_day_to_day():
    """What the importer checks: the account is one of config/bank_accounts.yaml; and the days
    chain (each opening balance is the day before's closing balance)."""
    config = yaml.safe_load((REPO / "config" / "bank_accounts.yaml").read_text())
    ours = {a["iban"].replace(" ", "") for a in config}
    days = [read_statement(SAMPLES / n) for n in (DAY1, MT, DAY2)]
    assert {d.account_iban for d in days} <= ours
    assert [d.opening_balance for d in days[1:]] == [d.closing_balance for d in days[:-1]]


# -- the two formats agree -------------------------------------------------------------------


def test_camt053_and_mt940_give_the_same_entries_for_the_same_day():
    camt = read_statement(DATA / "equivalent.xml")
    mt940 = read_statement(DATA / "equivalent.sta")
    assert (camt.statement_id, camt.account_iban, camt.currency) == (
        mt940.statement_id,
        mt940.account_iban,
        mt940.currency,
    )

    def comparable(statement: Statement) -> list[Entry]:
        return [replace(e, line=0, bank_code="") for e in statement.entries]

    assert comparable(camt) == comparable(mt940)
    assert [e.kind for e in camt.entries] == [CREDIT, CREDIT, CREDIT, RETURN, DEBIT, CREDIT]


def test_a_file_with_several_statements_gives_them_all_in_order():
    statements = read_statements(DATA / "camt053_two_accounts.xml")
    assert [(s.statement_id, s.currency) for s in statements] == [
        ("EUR-20261202", "EUR"),
        ("USD-20261202", "USD"),
    ]
    assert [s.statement_id for s in read_statements(DATA / "mt940_marks.sta")] == [
        "MARKS/1/1",
        "MARKS/2/1",
    ]
    first = statements[0].entries[0]
    assert (first.ref, first.remittances) == ("EUR-20261202#1", (Remittance(None, None),))


def test_reading_one_statement_refuses_a_file_that_holds_two():
    name = str(DATA / "camt053_two_accounts.xml")
    with pytest.raises(StatementRejected) as exc:
        read_statement(Path(name))
    assert str(exc.value) == (
        f"{name}, file: 'EUR-20261202, USD-20261202' holds 2 statements where one was expected "
        "(read it with read_statements)"
    )


# -- refused files ---------------------------------------------------------------------------

HOSTILE = [
    ("billion_laughs.xml", 2, "<!DOCTYPE Document [", "refused: the file declares entities (possible XML attack)"),
    ("external_entity.xml", 2, "<!DOCTYPE Document [", "refused: the file declares entities (possible XML attack)"),
    ("doctype.xml", 2, '<!DOCTYPE Document SYSTEM "http://attacker.example/camt.dtd">', "refused: the file has a document type declaration (DTD), which bank statements never have (possible XML attack)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "line", "value", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_xml_is_refused_before_any_entity_is_expanded(name, line, value, reason):
    path = DATA / name
    assert _rejected(path) == [f"{path}, line {line}, XML: {value!r} {reason}"]


BROKEN = {
    "camt053_broken.xml": [
        "line 9, Stmt/Id: '' missing: a camt.053 statement requires it",
        "line 11, Stmt/Acct/Id/IBAN: 'DE89370400440532013001' not a valid IBAN: Invalid checksum digits",
        "line 15, Stmt/Ntry/Amt: '12,50' not an amount: use '.' as the decimal separator and no thousands separator",
        "line 21, Stmt/Ntry/Amt: '-5.00' negative: amounts are positive, the credit/debit mark says the direction",
        "line 27, Stmt/Ntry/Amt: '10.001' more decimals than EUR has (2)",
        "line 33, Stmt/Ntry/Amt/@Ccy: 'USD' not the account's currency EUR",
        "line 41, Stmt/Ntry/BookgDt/Dt: '1999-12-31' implausible date: before 2000-01-01",
        "line 47, Stmt/Ntry/BookgDt/Dt: '2028-01-15' implausible date: more than a year after the statement's date 2026-12-02",
        "line 53, Stmt/Ntry/BookgDt/Dt: '2026-13-01' not a date (YYYY-MM-DD, or a date and time such as 2026-12-02T18:30:00)",
        "line 56, Stmt/Ntry/CdtDbtInd: '' missing: a camt.053 statement requires it",
        "line 67, Stmt/Ntry/AcctSvcrRef: 'B-09' duplicate entry reference within the statement (also on line 61)",
        "line 81, Stmt/Ntry/NtryDtls/TxDtls/RltdPties/DbtrAcct/Id/IBAN: 'GB00BUKB20201555555555' not a valid IBAN: Invalid checksum digits",
        "line 86, Stmt/Ntry/NtryDtls/TxDtls/Amt: '90.00' the batch booking's transactions add up to 90.00, the entry's amount is 100.00",
        "line 104, Stmt/Ntry/NtryDtls/TxDtls/AmtDtls/InstdAmt/Amt/@Ccy: 'XYZ' unknown currency: not an ISO 4217 currency code (e.g. EUR)",
    ],
    "mt940_broken.sta": [
        "line 1, :28C: statement number: '' missing: an MT940 statement requires it",
        "line 2, :25: account: 'NOT-AN-ACCOUNT' not an IBAN (nor a German bank code/account number like 37040044/0532013000)",
        "line 3, :60F: currency: 'EUX' unknown currency: not an ISO 4217 currency code (e.g. EUR)",
        "line 4, :61: entry: '2612021202C98.00NTRFNONREF//BR-01' not a valid :61: field (expected YYMMDD[MMDD], C, D, RC or RD, the amount with a decimal comma, the transaction type and the reference: 2612021202C9800,00NTRFNONREF)",
        "line 6, :61: amount: '10,001' more decimals than EUR has (2)",
        "line 7, :61: value date: '261302' not a date (YYMMDD)",
        "line 8, :61: value date: '991231' implausible date: more than a year after the statement's date 2026-12-02",
        "line 10, :86: IBAN: 'DE00123456781234567890' not a valid IBAN: Invalid checksum digits",
        "line 12, :61: reference: 'BR-06' duplicate entry reference within the statement (also on line 11)",
        "line 13, :61: amount: '0,00' zero: a booked entry moves money",
    ],
    "camt053_unbalanced.xml": [
        "line 13, Stmt/Bal/Amt: '3000.00' the closing balance is not the opening balance 1000.00 plus the entries +1500.00 (= 2500.00): entries are missing or altered",
    ],
    "mt940_unbalanced.sta": [
        "line 6, :62F: amount: 'C261202EUR3000,00' the closing balance is not the opening balance 1000.00 plus the entries +1500.00 (= 2500.00): entries are missing or altered",
    ],
    "camt052_report.xml": [
        "line 2, Document: 'urn:iso:std:iso:20022:tech:xsd:camt.052.001.08' not a camt.053 statement (a camt.052 message): expected the namespace urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx",
    ],
    "truncated.xml": [
        "line 13, XML: '</Acct>' not well-formed XML: mismatched tag",
    ],
    "payments.csv": [
        "line 1, file: 'customer_code,reference,paid_on,amount,currency,method,invoice_number,status' not a bank statement: neither camt.053 XML (ISO 20022) nor MT940 (which starts with :20:)",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", list(BROKEN), ids=str)
def test_a_broken_file_is_refused_whole_with_every_problem_located(name):
    path = DATA / name
    assert _rejected(path) == [f"{path}, {problem}" for problem in BROKEN[name]]


CAMT = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">{}</Document>'
HEADER = "<GrpHdr><CreDtTm>2026-12-02T10:00:00</CreDtTm></GrpHdr>"
INLINE = [
    ('<?xml version="1.0" encoding="klingon"?><Document/>', """line 1, XML: '<?xml version="1.0" encoding="klingon"?><Document/>' not readable as XML: unknown encoding: klingon"""),
    ("<html><body/></html>", "line 1, html: 'html' not a camt.053 statement: the root is not an ISO 20022 <Document>"),
    (CAMT.format(f"<BkToCstmrStmt>{HEADER}</BkToCstmrStmt>"), "line 1, BkToCstmrStmt/Stmt: '' missing: the file holds no statement"),
    (CAMT.format(f"<BkToCstmrStmt>{HEADER}<Stmt><Id>S</Id><Acct><Id><Othr><Id>12345</Id></Othr></Id><Ccy>EUR</Ccy></Acct></Stmt></BkToCstmrStmt>"), "line 1, Stmt/Acct/Id/IBAN: '12345' missing: the account must be identified by its IBAN"),
    (CAMT.format(f"<BkToCstmrStmt>{HEADER}<Stmt><Id>S</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct><Ntry><Amt Ccy='EUR'>0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-12-02</Dt></BookgDt></Ntry></Stmt></BkToCstmrStmt>"), "line 1, Stmt/Ntry/Amt: '0.00' zero: a booked entry moves money"),
    (CAMT.format(f"<BkToCstmrStmt>{HEADER}<Stmt><Id>S</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>JPY</Ccy></Acct><Ntry><Amt Ccy='JPY'>100.5</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-12-02</Dt></BookgDt></Ntry></Stmt></BkToCstmrStmt>"), "line 1, Stmt/Ntry/Amt: '100.5' JPY has no decimals: write a whole amount"),
]  # fmt: skip


@pytest.mark.parametrize(("xml", "problem"), INLINE, ids=range(len(INLINE)))
def test_an_xml_file_that_is_not_a_usable_camt053_statement_is_refused_saying_why(xml, problem):
    with pytest.raises(StatementRejected) as exc:
        parse_statements(xml.encode(), file="inline.xml")
    assert str(exc.value) == f"inline.xml, {problem}"


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.xml"
    path.write_bytes(b"  \n")
    assert _rejected(path) == [f"{path}, file: '' empty file: no statement in it"]


def test_a_file_too_large_for_a_statement_is_refused_unread(tmp_path):
    path = tmp_path / "huge.xml"
    with path.open("wb") as f:
        f.truncate(MAX_STATEMENT_BYTES + 1)  # sparse: no disk written, nothing read
    assert _rejected(path) == [
        f"{path}, file: '{MAX_STATEMENT_BYTES + 1} bytes' too large: a statement file may have "
        f"at most {MAX_STATEMENT_BYTES} bytes (ask the bank for one file per day)"
    ]


def test_a_file_that_cannot_be_read_is_refused(tmp_path):
    path = tmp_path / "missing.sta"
    assert _rejected(path) == [
        f"{path}, file: {str(path)!r} cannot read the file: No such file or directory"
    ]


# -- telling the formats apart ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b'<?xml version="1.0"?><Document/>', CAMT053),
        (b"\xef\xbb\xbf\n  <Document/>", CAMT053),
        ('<?xml version="1.0" encoding="UTF-16"?><Document/>'.encode("utf-16"), CAMT053),
        (b":20:STARTUMS\r\n:25:DE89370400440532013000\r\n", MT940),
        (b"\r\n\r\n:20:STARTUMS\n", MT940),
        (b"{1:F01COBADEFFAXXX0000000000}{2:O940}{4:\n:20:X\n", MT940),
        (b"customer_code,reference\n", None),
        (b":25:DE89370400440532013000\n:20:X\n", None),
        (b"\x00\x01\x02", None),
    ],
)
def test_the_format_is_told_by_the_content_not_the_file_name(data, fmt):
    assert statement_format(data) == fmt


def test_text_from_a_german_bank_in_latin_1_is_read():
    data = (
        ":20:STARTUMS\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261201EUR0,00\n"
        ":61:2612021202C5,00NTRFNONREF//L1\n:86:166?00GUTSCHRIFT?20SVWZ+Gebühr zurück"
        "?32MÜLLER GMBH\n:62F:C261202EUR5,00\n"
    ).encode("latin-1")
    (statement,) = parse_statements(data, file="latin1.sta")
    (remittance,) = statement.entries[0].remittances
    assert (remittance.text, remittance.payer_name) == ("Gebühr zurück", "MÜLLER GMBH")
