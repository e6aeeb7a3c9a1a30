"""Letters a customer can pay from: every dunning level's letter, the terms letter and the statement
of account as PDFs, read back (pypdf): the amount, the items, the IBAN of the currency's account
and the RF reference are on them; the EPC QR code of a euro letter carries the EPC069-12 payload;
a currency without an account is refused when the notice is to be sent, never sent with another
account; `credit customers statement` writes a PDF."""

from __future__ import annotations

import email
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from email import policy as email_policy
from pathlib import Path

import numpy as np
import pytest
import segno
import yaml
from pypdf import PdfReader
from sqlmodel import select

from credit import services
from credit.app import App
from credit.config import ConfigError, load_bank_accounts
from credit.db.models import Customer, Invoice, Notice
from credit.domain import rf
from credit.domain.policy import DunningLevel
from credit.notices.document import Letter
from credit.notices.formats import money_text
from credit.notices.pdf import qr_png
from credit.notices.pdf_letter import epc_payload
from credit.notices.pdf_maker import LetterMaker
from credit.notices.pdf_statement import statement_pdf
from credit.resources import resource_dir
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, import_sample
from tests.integration.test_lifecycle_services import DAY, decide, review
from tests.unit.test_qr import drawn_modules

DUNNING_KINDS = (
    "dunning_reminder",
    "dunning_second_notice",
    "dunning_final_demand",
    "dunning_credit_hold",
    "dunning_handover",
)
SHIPPED = load_bank_accounts(resource_dir("config") / "bank_accounts.yaml")


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace (and the no-break spaces money is written with) collapsed."""
    reader = PdfReader(io.BytesIO(data))
    return squash("\n".join(page.extract_text() for page in reader.pages))


def squash(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def app_for(tmp: Path, **extra: str) -> App:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = f"sqlite:///{tmp / 'credit.db'}"
    env["CREDIT_OUTBOX_DIR"] = str(tmp / "outbox")
    env.update(TEST_COMPANY)
    env.update(extra)
    return App(Settings.load(env_file=None, environ=env))


def maker(a: App) -> LetterMaker:
    return LetterMaker(company=a.settings.company, load_accounts=lambda: a.bank_accounts)


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    """The sample story: C-1003's terms letter, then collections until every level was sent."""
    tmp = tmp_path_factory.mktemp("letters")
    a = app_for(tmp)
    services.init_database(a, actor="test")
    import_sample(a, payments_until=DAY)
    rid = review(a, "C-1003", "30000")
    decide(a, rid, "carla.manager")
    services.publish_request(a, request_id=rid, as_of=DAY)
    for day in (DAY, date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16), date(2026, 11, 30)):
        import_sample(a, ("payments",), payments_until=day)
        for cid in services.collection_candidates(a, as_of=day):
            services.dun_customer(a, customer_id=cid, as_of=day, dry_run=False)
    yield a
    a.engine.dispose()


def stored(a: App, kind: str, currency: str = "EUR") -> list[Notice]:
    with a.uow(read_only=True) as uow:
        rows = uow.session.exec(select(Notice).where(Notice.kind == kind)).all()
    return [n for n in rows if n.document and Letter.of(n).remittance["currency"] == currency]


@pytest.mark.parametrize("kind", DUNNING_KINDS)
def test_each_dunning_levels_letter_carries_amount_items_iban_and_rf(lifecycle, kind):
    notice = stored(lifecycle, kind)[0]
    letter = Letter.of(notice)
    ctx, remit = letter.context, letter.remittance
    [pdf, *_] = maker(lifecycle).files(notice)
    assert pdf.content_type == "application/pdf" and pdf.data.startswith(b"%PDF-")
    text = pdf_text(pdf.data)
    assert squash(money_text(ctx["overdue_total"], "EUR", notice.locale)) in text
    assert all(i["number"] in text for i in ctx["invoices"])
    assert SHIPPED.for_currency("EUR").iban_grouped in text
    assert rf.is_valid(remit["rf"]) and remit["rf_grouped"] in text
    assert "Page 1 of" in text or "Seite 1 von" in text
    # the e-mail names the same account and reference, and says to quote it
    assert remit["rf_grouped"] in notice.text and "DE89 3704 0044 0532 0130 00" in notice.text


def test_the_rf_on_a_dunning_letter_resolves_to_its_customer_and_items(lifecycle):
    notice = stored(lifecycle, "dunning_final_demand")[0]
    letter = Letter.of(notice)
    with lifecycle.uow(read_only=True) as uow:
        from credit.services.cash.references import resolve

        ref = resolve(uow.session, letter.remittance["rf"])
        numbers = set(
            uow.session.exec(select(Invoice.number).where(Invoice.id.in_(ref.invoice_ids))).all()
        )
    assert ref.notice_key == notice.idempotency_key and ref.purpose == "dunning"
    assert ref.amount == letter.context["overdue_total"]
    assert numbers == {i["number"] for i in letter.context["invoices"]}


def test_a_usd_letter_names_the_usd_account(lifecycle):
    notice = stored(lifecycle, "dunning_reminder", "USD")[0]
    [pdf, *others] = maker(lifecycle).files(notice)
    text = pdf_text(pdf.data)
    assert SHIPPED.for_currency("USD").iban_grouped in text
    assert SHIPPED.for_currency("EUR").iban_grouped not in text
    assert Letter.of(notice).remittance["rf_grouped"] in text
    assert others == []  # no EPC QR code outside the euro


def test_the_terms_letter_carries_the_limit_the_iban_and_its_rf(lifecycle):
    [notice] = stored(lifecycle, "terms_letter")
    letter = Letter.of(notice)
    line, remit = letter.context["line"], letter.remittance
    [pdf] = maker(lifecycle).files(notice)
    text = pdf_text(pdf.data)
    assert squash(money_text(line["limit"], line["currency"], notice.locale)) in text
    assert SHIPPED.for_currency("EUR").iban_grouped in text
    assert remit["rf_grouped"] in text and remit["rf_grouped"] in notice.text
    assert remit["amount"] is None and not remit["qr"]  # it asks for no amount


def test_a_euro_letters_qr_code_is_the_epc069_12_transfer_of_the_amount_due(lifecycle):
    notice = stored(lifecycle, "dunning_final_demand")[0]
    remit = Letter.of(notice).remittance
    account = SHIPPED.for_currency("EUR")
    payload = epc_payload(remit)
    assert payload == "\n".join(
        [
            "BCD",
            "002",
            "1",
            "SCT",
            account.bic,
            account.holder,
            account.iban,
            f"EUR{remit['amount']:.2f}",
            "",
            remit["rf"],
        ]
    )
    # The PDF draws the QR code of exactly that payload (segno, level M, byte mode), module for
    # module, and the e-mail's PNG shows the same code.
    [pdf, *others] = maker(lifecycle).files(notice)
    expected = segno.make(payload, error="m", mode="byte", micro=False, boost_error=False)
    drawn, side, (left, _top) = drawn_modules(pdf.data)
    assert abs(left / (72 / 25.4) - (190 - 36 + 4 * 36 / (drawn.shape[0] + 8))) < 0.01  # right
    assert (drawn == np.array(expected.matrix, dtype=np.uint8)).all() and abs(side - 36) < 0.2
    assert all(f.data == qr_png(payload) for f in others if f.content_type == "image/png")


def test_a_letter_channel_notice_is_written_as_a_pdf_beside_its_html_and_emails_attach_it(
    lifecycle, tmp_path
):
    a = lifecycle
    report = services.deliver(a)
    assert report["failed"] == 0 and report["sent"] > 0
    letters = Path(a.settings.letters_path)
    pdfs = sorted(letters.glob("*-dunning_final_demand.pdf"))
    assert pdfs and all(p.with_suffix(".html").is_file() for p in pdfs)
    assert pdfs[0].read_bytes().startswith(b"%PDF-")
    eml = sorted(Path(a.settings.outbox_dir).glob("*-dunning_reminder.eml"))[0]
    message = email.message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    parts = {p.get_content_type(): p for p in message.walk()}
    assert parts["application/pdf"].get_filename().startswith("dunning-reminder-")
    assert parts["application/pdf"].get_content().startswith(b"%PDF-")
    assert parts["image/png"]["Content-ID"] == "<epc-qr@credit>"  # shown inline in the HTML
    assert "cid:epc-qr@credit" in parts["text/html"].get_content()


def test_the_statement_of_account_lists_open_items_credits_and_the_balance(lifecycle):
    statement = services.customer_statement(
        lifecycle, customer_code="C-1003", as_of=date(2026, 11, 30)
    )
    [eur] = statement["currencies"]
    assert eur["balance"] == eur["open_total"] + eur["credit_total"]
    text = pdf_text(statement_pdf(statement, company=lifecycle.settings.company, locale="en"))
    assert "Statement of account" in text
    assert all(i["number"] in text for i in eur["items"] + eur["credits"])
    assert squash(money_text(eur["balance"], "EUR", "en")) in text
    assert SHIPPED.for_currency("EUR").iban_grouped in text


# ------------------------------------------------------------- a long list, a missing account


@pytest.fixture
def desk(tmp_path):
    """A fresh database whose policy attaches the statement of account to the first level, and
    whose company has accounts in euro only."""
    body = yaml.safe_load((resource_dir("config") / "policy.yaml").read_text())
    body["dunning"]["levels"][0]["attach_statement"] = True
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(body))
    accounts = tmp_path / "bank_accounts.yaml"
    accounts.write_text(
        "- {currency: EUR, iban: DE89370400440532013000, bic: COBADEFFXXX, bank: Commerzbank,"
        " holder: Testfirma Nord GmbH}\n"
    )
    a = app_for(
        tmp_path,
        CREDIT_POLICY_FILE=str(tmp_path / "policy.yaml"),
        CREDIT_BANK_ACCOUNTS_FILE=str(accounts),
    )
    services.init_database(a, actor="test")
    yield a
    a.engine.dispose()


def customer_with(a: App, code: str, currency: str, count: int) -> int:
    with a.uow() as uow:
        c = Customer(
            code=code,
            name="Łódź Müller & Søn Sp. z o.o.",
            email=f"ap@{code.lower()}.example",
            country="PL",
            currency=currency,
            sales_owner_email="sales@example.com",
            postal_address="ul. Piotrkowska 1\n90-001 Łódź\nPoland",
        )
        uow.session.add(c)
        uow.session.flush()
        for n in range(count):
            due = date(2026, 6, 1) + timedelta(days=n % 90)
            uow.session.add(
                Invoice(
                    customer_id=c.id,
                    number=f"{code}-{n:04d}",
                    issue_date=due - timedelta(days=30),
                    due_date=due,
                    amount=Decimal("100.00") + n,
                    currency=currency,
                )
            )
        uow.commit()
        return c.id


def test_thousands_of_items_a_summarising_email_and_a_pdf_listing_all_across_pages(desk):
    cid = customer_with(desk, "C-BIG", "EUR", 300)
    services.dun_customer(desk, customer_id=cid, as_of=date(2026, 10, 1), dry_run=False)
    [notice] = [n for n in stored(desk, "dunning_reminder")]
    assert "300 items are overdue" in notice.text
    listed = [f"C-BIG-{n:04d}" for n in range(300) if f"C-BIG-{n:04d}" in notice.text]
    assert len(listed) == 10 + 1  # the ten oldest, and the largest named
    letter_pdf, statement = maker(desk).files(notice)[:2]
    reader = PdfReader(io.BytesIO(letter_pdf.data))
    pages = [squash(p.extract_text()) for p in reader.pages]
    assert len(pages) >= 5
    assert all(f"Page {n} of {len(pages)}" in t for n, t in enumerate(pages, start=1))
    text = " ".join(pages)
    assert all(f"C-BIG-{n:04d}" in text for n in range(300))
    # the table's heading is repeated on every page it runs across
    assert all("Open amount" in t for t in pages if "C-BIG-" in t)
    assert "Łódź Müller & Søn" in pages[0]  # Unicode in the address (DejaVu, not Latin-1)
    # the level attaches the statement of account (policy: attach_statement)
    assert statement.filename == "statement-of-account-C-BIG-2026-10-01.pdf"
    assert "C-BIG-0299" in pdf_text(statement.data)


def test_a_currency_without_an_account_is_refused_at_send_time_then_sent_once_added(desk, tmp_path):
    cid = customer_with(desk, "C-USD", "USD", 2)
    services.dun_customer(desk, customer_id=cid, as_of=date(2026, 10, 1), dry_run=False)
    report = services.deliver(desk)
    [failed] = services.list_notices(desk, customer_code="C-USD", kind=None, status="failed")
    assert report["failed_ids"] == [failed["id"]] and report["operator_notice"] is not None
    assert "no company bank account for USD" in failed["last_error"]
    assert "credit notices retry" in failed["last_error"]
    assert not list(Path(desk.settings.outbox_dir).glob(f"{failed['id']:07d}-*"))  # not sent
    # the account is added; the retry writes the notice again with it, and it goes out
    accounts = Path(desk.settings.bank_accounts_path)
    accounts.write_text(
        accounts.read_text()
        + "- {currency: USD, iban: DE12500105170648489890, bic: INGDDEFFXXX, bank: ING-DiBa,"
        " holder: Testfirma Nord GmbH}\n"
    )
    fixed = App(desk.settings)
    services.retry_notices(fixed, notice_ids=[failed["id"]], by="carla.manager", reason="USD")
    assert services.deliver(fixed)["sent"] >= 1
    [eml] = Path(desk.settings.outbox_dir).glob(f"{failed['id']:07d}-*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    assert "DE12 5001 0517 0648 4898 90" in message.get_body(("plain",)).get_content()
    fixed.engine.dispose()


def test_a_notice_naming_an_account_that_changed_since_is_not_sent(desk):
    cid = customer_with(desk, "C-EUR", "EUR", 2)
    services.dun_customer(desk, customer_id=cid, as_of=date(2026, 10, 1), dry_run=False)
    accounts = Path(desk.settings.bank_accounts_path)
    accounts.write_text(
        "- {currency: EUR, iban: DE02120300000000202051, bic: BYLADEM1001, bank: DKB,"
        " holder: Testfirma Nord GmbH}\n"
    )
    changed = App(desk.settings)
    services.deliver(changed)
    [failed] = services.list_notices(changed, customer_code="C-EUR", kind=None, status="failed")
    assert "not sent with an old account" in failed["last_error"]
    assert "DE89 3704 0044 0532 0130 00" in failed["last_error"]
    changed.engine.dispose()


# ------------------------------------------------------------------------ bank accounts file


def test_a_bad_bank_accounts_file_is_refused_with_one_located_line_per_problem(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "- {currency: EUR, iban: DE89370400440532013001, bic: COBADEFFXXX, bank: B, holder: H}\n"
        "- {currency: USD, iban: DE89370400440532013000, bic: INGDDEFFXXX, bank: B, holder: H}\n"
        "- {currency: GBP, iban: GB29NWBK60161331926819, bic: NWBK, bank: B, holder: H}\n"
        "- {currency: EUR, iban: DE02120300000000202051, bic: BYLADEM1001, bank: B, holder: H}\n"
        "- {currency: EUR, iban: DE12500105170648489890, bic: INGDDEFFXXX, bank: B, holder: H}\n"
        "- {currency: CHF, iban: CH9300762011623852957, bank: B, holder: H}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_bank_accounts(path)
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}: entry 1 (EUR), field iban: value 'DE89370400440532013001': not a valid IBAN: "
        "invalid checksum digits",
        f"{path}: entry 2 (USD), field bic: value 'INGDDEFFXXX': does not belong to the IBAN's "
        "bank: IBAN DE89 3704 0044 0532 0130 00 is held at Commerzbank (COBADEFFXXX)",
        lines[2],
        f"{path}: entry 5 (EUR), field currency: value 'EUR': EUR already has an account "
        "(entry 4); one account per currency",
        f"{path}: entry 6 (CHF), field bic: value None: missing or empty (text expected)",
    ]
    assert lines[2].startswith(f"{path}: entry 3 (GBP), field bic: value 'NWBK': not a valid BIC")


def test_the_shipped_accounts_cover_every_currency_of_the_sample_ledger():
    import csv

    with (resource_dir("sample_data") / "invoices.csv").open() as f:
        currencies = {row["currency"] for row in csv.DictReader(f)}
    assert currencies <= set(SHIPPED.currencies)


def test_attach_statement_is_off_by_default_and_refused_on_a_call():
    level = {"level": 1, "name": "x", "label": "X", "days": 1, "template": "t"}
    assert DunningLevel.model_validate(level).attach_statement is False
    with pytest.raises(ValueError, match="attach_statement needs a letter or an e-mail"):
        DunningLevel.model_validate({**level, "channel": "call", "attach_statement": True})


# ----------------------------------------------------------------------------------- the CLI


def test_credit_customers_statement_writes_a_pdf(tmp_path):
    """The real `credit` process (no Prefect needed): init, import, statement."""
    credit = str(Path(sys.executable).with_name("credit"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'credit.db'}",
        CREDIT_OUTBOX_DIR=str(tmp_path / "outbox"),
        COLUMNS="200",
        **TEST_COMPANY,
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [credit, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"credit {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
        return proc

    run("init")
    sample = resource_dir("sample_data")
    for kind in ("customers", "invoices"):
        run("import", kind, str(sample / f"{kind}.csv"))
    out = tmp_path / "c-1003.pdf"
    done = run("customers", "statement", "C-1003", "--as-of", "2026-10-01", "--out", str(out))
    assert f"Written to {out}" in squash(done.stdout)
    text = pdf_text(out.read_bytes())
    assert "Statement of account as of October 1, 2026" in text
    assert "INV-1003-OPEN1" in text and "DE89 3704 0044 0532 0130 00" in text
