"""DejaVu parsed once in a process, and subset from a cut-down copy when a letter's glyphs are all
among the common ones (credit.notices.pdf_fonts), gives the PDF fpdf2 gives on its own, byte
for byte: Latin with diacritics, Greek, Cyrillic, CJK (absent from DejaVu), other scripts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credit.notices import pdf, pdf_fonts

TEXTS = [
    "Łódź Müller & Søn Sp. z o.o., ul. Piotrkowska 1, 90-001 Łódź",
    "Ελλάδα Москва Øresund – “quotes” € ₽ № ™ → ≤",
    "貴公司 逾期款項 RF18 5390 0754 7034",
    "Georgian ა ბ, Armenian Ա, Hebrew א",
]


def letter(text: str) -> bytes:
    doc = pdf.Document(
        company={"name": "Testfirma Nord GmbH", "address": ["Hafenstraße 1"]},
        locale="en",
        title=text,
        created=datetime(2026, 12, 1, tzinfo=UTC),
        text=text,
    )
    doc.add_page()
    doc.set_font(pdf.FONT, size=10)
    doc.wrapped(pdf.WIDTH, pdf.LINE, f"{text}\n{text}")
    doc.set_font(pdf.FONT, "B", 10)
    doc.put(100, 5, text)
    doc._indented(f"  {text}")
    return doc.render()


@pytest.mark.parametrize("text", TEXTS)
def test_shared_fonts_give_fpdf2s_own_pdf(text, monkeypatch):
    monkeypatch.setattr(pdf_fonts, "COPY_AFTER", 0)  # the cut-down copy from the first letter
    shared = letter(text)
    monkeypatch.setattr(
        pdf, "add_font", lambda doc, family, style, path: doc.add_font(family, style, str(path))
    )
    monkeypatch.setattr(pdf, "before_output", lambda font: None)
    assert letter(text) == shared
