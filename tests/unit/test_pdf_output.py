"""A letter in the built-in fonts is written without fpdf2's output (credit.notices.pdf_output):
the file is byte for byte fpdf2's, for one page and many, with and without the QR code, with a
title beyond ASCII; anything the direct writer does not write goes to fpdf2."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fpdf.output import OutputProducer
from pypdf import PdfReader

from credit.notices import pdf as pdf_module
from credit.notices import pdf_output, qr
from credit.notices.pdf import WIDTH, Column, Document

COMPANY = {
    "name": "Testfirma Nord GmbH (fictitious)",
    "address": ["Hafenstraße 1", "20457 Hamburg"],
    "contact": ["credit@testfirma.invalid"],
}
PAYLOAD = (
    "BCD\n002\n1\nSCT\nINGDDEFFXXX\nTestfirma\nDE02120300000000202051\nEUR1234.56\n\n\nRF18 5390"
)


def letter(
    *, rows: int, title: str, qr_code: bool, builtin: bool = True, created: datetime | None = None
) -> Document:
    doc = Document(
        company=COMPANY,
        locale="de",
        title=title,
        created=created or datetime(2026, 12, 1, 7, 30, tzinfo=UTC),
        builtin=builtin,
    )
    doc.add_page()
    doc.letterhead(["Kunde (Köln) GmbH", "Weg 1", "50667 Köln"], [("Datum", "1. Dezember 2026")])
    doc.subject_line(title)
    doc.paragraphs("Sehr geehrte Damen und Herren,\n\nbitte zahlen Sie (bis 8.12.) \\ danke.")
    columns = [Column("Nummer", 46), Column("Fällig", 28), Column("Betrag", WIDTH - 74, "R")]
    doc.items_table(columns, [[f"INV-{n:04}", "1.10.2026", f"{n},00 €"] for n in range(rows)])
    doc.totals([("Summe", "1.234,56 €", True)])
    modules = qr.epc_matrix(PAYLOAD) if qr_code else None
    doc.payment_block([("IBAN", "DE02 1203 0000 0000 2020 51")], "Bitte RF angeben.", modules)
    return doc


def both(make: Callable[[], Document], monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    """The document written directly and by fpdf2."""
    direct = make().render()
    monkeypatch.setattr(pdf_module, "lean_output", lambda _pdf: None)
    by_fpdf2 = make().render()
    monkeypatch.undo()
    return direct, by_fpdf2


@pytest.mark.parametrize(
    ("rows", "title", "qr_code"),
    [
        (3, "Zahlungserinnerung", True),
        (3, "Mahnung (2. Stufe) \\ Kunde", False),
        (140, "Zahlungserinnerung: 1.234,56 € überfällig", True),
        (300, "Letzte Mahnung", False),
    ],
)
def test_a_built_in_font_letter_is_fpdf2s_file_byte_for_byte(rows, title, qr_code, monkeypatch):
    calls: list[bool] = []
    real = pdf_output.lean_output

    def counted(pdf: object) -> bytes | None:
        made = real(pdf)  # type: ignore[arg-type]
        calls.append(made is not None)
        return made

    monkeypatch.setattr(pdf_module, "lean_output", counted)
    direct = letter(rows=rows, title=title, qr_code=qr_code).render()
    monkeypatch.undo()
    assert calls == [True]  # written directly
    _, by_fpdf2 = both(lambda: letter(rows=rows, title=title, qr_code=qr_code), monkeypatch)
    assert direct == by_fpdf2
    reader = PdfReader(io.BytesIO(direct))
    assert len(reader.pages) > (1 if rows > 100 else 0)
    assert reader.metadata is not None and reader.metadata.title == title


@pytest.mark.parametrize(
    "what",
    [
        "dejavu",
        "colour image",
        "link",
        "subject",
        "local time",
        "page size",
        "outline",
        "uncompressed",
        "one resources object",
        "one-bit png",
    ],
)
def test_anything_else_is_written_by_fpdf2(what, monkeypatch):
    """An embedded font, a colour image, a link, a subject, a creation time not in UTC, a page of
    another size, an outline, no compression, one resources object: fpdf2 writes the file. A one-bit PNG (fpdf2 makes it a CCITT
    image) is written directly. Either way, the same bytes."""

    def make() -> Document:
        created = datetime(2026, 12, 1, 7, 30, tzinfo=timezone(timedelta(hours=1)))
        doc = letter(
            rows=2,
            title="Zahlungserinnerung",
            qr_code=False,
            builtin=what != "dejavu",
            created=created if what == "local time" else None,
        )
        if what == "colour image":  # (a QR code's one-bit PNG becomes a CCITT image)
            from PIL import Image

            png = io.BytesIO()
            Image.new("RGB", (8, 8), (200, 30, 30)).save(png, format="PNG")
            doc.image(io.BytesIO(png.getvalue()), x=20, y=200, w=30, h=30)
        elif what == "one-bit png":  # written directly, the same bytes
            doc.image(io.BytesIO(qr.qr_png(PAYLOAD)), x=20, y=200, w=30, h=30)
        elif what == "link":
            doc.link(20, 200, 30, 10, "https://example.invalid")
        elif what == "subject":
            doc.set_subject("Mahnung")
        elif what == "page size":
            doc.add_page(format=(100, 200))
        elif what == "outline":
            doc.start_section("Posten")
        elif what == "uncompressed":
            doc.set_compression(False)
        elif what == "one resources object":
            doc.single_resources_object = True
        return doc

    written = pdf_output.lean_output(_finished(make()))
    assert (written is not None) == (what == "one-bit png")
    direct, by_fpdf2 = both(make, monkeypatch)
    assert direct == by_fpdf2


def _finished(doc: Document) -> Document:
    """The document as fpdf2's output finds it (the last footer drawn, the page count set)."""

    class Stop(Exception):
        pass

    class Catch(OutputProducer):
        def __init__(self, fpdf: Document) -> None:  # type: ignore[override]
            raise Stop

    try:
        doc.output(output_producer_class=Catch)
    except Stop:
        pass
    return doc
