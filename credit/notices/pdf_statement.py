"""A statement of account as a PDF: per currency every open item (due or not), the credits that
reduce the balance, the totals and the company's account for the currency."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

from credit.notices.formats import date_text, money_text
from credit.notices.pdf import WIDTH, Column, Document, build
from credit.notices.pdf_labels import kind_label, labels
from credit.notices.pdf_letter import recipient_lines


def statement_title(statement: Mapping[str, Any], locale: str) -> str:
    day = date_text(statement["as_of"], locale, "long")
    return labels(locale)["statement_as_of"].format(date=day)


def statement_pdf(
    statement: Mapping[str, Any],
    *,
    company: Mapping[str, Any],
    locale: str,
    created: datetime | None = None,
) -> bytes:
    """The statement's PDF in ``locale``; ``created`` (default: the statement's day) dates the
    file, so the same statement gives the same bytes."""
    return build(
        lambda builtin: _statement_pdf(
            statement, company=company, locale=locale, created=created, builtin=builtin
        )
    )


def _statement_pdf(
    statement: Mapping[str, Any],
    *,
    company: Mapping[str, Any],
    locale: str,
    created: datetime | None,
    builtin: bool,
) -> bytes:
    as_of = statement["as_of"]
    title = statement_title(statement, locale)
    pdf = Document(
        company=company,
        locale=locale,
        title=title,
        created=created or datetime.combine(as_of, time(0), tzinfo=UTC),
        text=str(statement) + labels(locale)["statement_intro"],
        builtin=builtin,
    )
    words, customer = pdf.words, statement["customer"]
    pdf.add_page()
    pdf.letterhead(
        recipient_lines(customer),
        [
            (words["date"], date_text(as_of, locale, "long")),
            (words["customer_no"], str(customer["code"])),
        ],
    )
    pdf.subject_line(title)
    pdf.paragraphs(words["statement_intro"].format(date=date_text(as_of, locale, "long")))
    if not statement["currencies"]:
        pdf.paragraphs(words["nothing_open"])
    for cur in statement["currencies"]:
        _currency(pdf, cur)
    return pdf.render()


def _currency(pdf: Document, cur: Mapping[str, Any]) -> None:
    words, locale, currency = pdf.words, pdf.locale, cur["currency"]

    def money(value: Any) -> str:
        return money_text(value, currency, locale)

    pdf.heading(f"{words['currency']} {currency}")
    columns = [
        Column(words["number"], 44),
        Column(words["type"], 36),
        Column(words["due_date"], 26),
        Column(words["days_overdue"], 24, "R"),
        Column(words["open_amount"], WIDTH - 130, "R"),
    ]
    if cur["items"]:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(WIDTH, 5, words["open_items"], new_x="LMARGIN", new_y="NEXT")
        pdf.items_table(columns, [_row(i, words, locale, money) for i in cur["items"]])
    if cur["credits"]:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(WIDTH, 5, words["credits"], new_x="LMARGIN", new_y="NEXT")
        credit_columns = [*columns[:2], Column(words["date_col"], 28), *columns[3:]]
        pdf.items_table(credit_columns, [_row(c, words, locale, money) for c in cur["credits"]])
    balance = money(cur["balance"]) + (
        f" ({words['balance_credit']})" if cur["balance"] < 0 else ""
    )
    pdf.totals(
        [
            (words["open_total"], money(cur["open_total"]), False),
            (words["credit_total"], money(cur["credit_total"]), False),
            (words["balance"], balance, True),
            (words["overdue"], money(cur["overdue_total"]), False),
        ]
    )
    account = cur.get("account")
    if account:
        pdf.payment_block(
            [
                (words["beneficiary"], account["holder"]),
                (words["iban"], account["iban_grouped"]),
                (words["bic"], f"{account['bic']} ({account['bank']})"),
            ],
            "",
            None,
        )


def _row(item: Mapping[str, Any], words: dict[str, str], locale: str, money: Any) -> list[str]:
    credit = item["open_amount"] < 0
    kind = kind_label(words, item["kind"], credit)
    if item.get("disputed"):
        kind = f"{kind} ({words['disputed']})"
    overdue = item["days_overdue"]
    return [
        item["number"],
        kind,
        date_text(item["due_date"], locale),
        str(overdue) if overdue > 0 else "–",
        money(item["open_amount"]),
    ]
