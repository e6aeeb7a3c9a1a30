"""DejaVu parsed once in a process, and embedded as a subset shared by many letters (the whole
Unicode blocks a letter draws from) or subset from a cut-down copy (credit.notices.pdf_fonts),
shows what fpdf2's own PDF shows: the same text, and at every character code the same glyph
(outline and advance), for Latin with diacritics, Greek, Cyrillic, CJK (absent from DejaVu) and
other scripts; glyphs drawn only by the footer included."""

from __future__ import annotations

import io
from collections import OrderedDict
from datetime import UTC, datetime

import pytest
from fontTools import ttLib
from pypdf import PdfReader

from credit.notices import pdf, pdf_fonts

TEXTS = [
    "Łódź Müller & Søn Sp. z o.o., ul. Piotrkowska 1, 90-001 Łódź",
    "Ελλάδα Москва Øresund – “quotes” € ₽ № ™ → ≤",
    "貴公司 逾期款項 RF18 5390 0754 7034",
    "Georgian ა ბ, Armenian Ա, Hebrew א",
    "Dvořák",
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


def shown(data: bytes) -> tuple[str, dict[tuple[str, int], tuple[object, int]]]:
    """The PDF's text, and per embedded font and character code the glyph drawn: its outline
    (or None for an empty glyph) and its advance."""
    reader = PdfReader(io.BytesIO(data))
    glyphs = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            if font["/Subtype"] != "/Type0":
                continue
            cid = font["/DescendantFonts"][0].get_object()
            to_gid = cid["/CIDToGIDMap"].get_object().get_data()
            file = cid["/FontDescriptor"]["/FontFile2"].get_object().get_data()
            tt = ttLib.TTFont(io.BytesIO(file))
            order, glyf, hmtx = tt.getGlyphOrder(), tt["glyf"], tt["hmtx"]
            for code in range(len(to_gid) // 2):
                gid = to_gid[2 * code] << 8 | to_gid[2 * code + 1]
                if gid:
                    glyph = glyf[order[gid]]
                    outline = (
                        list(glyph.getCoordinates(glyf)[0]) if glyph.numberOfContours else None
                    )
                    glyphs[(font["/BaseFont"], code)] = (outline, hmtx[order[gid]][0])
    return "".join(page.extract_text() for page in reader.pages), glyphs


@pytest.mark.parametrize("text", TEXTS)
def test_shared_fonts_show_what_fpdf2s_own_pdf_shows(text, monkeypatch):
    monkeypatch.setattr(pdf_fonts, "COPY_AFTER", 0)  # shared subsets from the first letter
    shared = letter(text)
    monkeypatch.setattr(
        pdf, "add_font", lambda doc, family, style, path: doc.add_font(family, style, str(path))
    )
    monkeypatch.setattr(pdf, "before_output", lambda font: None)
    own = letter(text)
    text_shared, glyphs_shared = shown(shared)
    text_own, glyphs_own = shown(own)
    if pdf_fonts.fallback_font() or not pdf_fonts.needs_fallback(text):  # else CJK is not shown
        assert text in text_own.replace("\n", " ")
    assert text_shared == text_own
    assert glyphs_shared == glyphs_own
    assert len(glyphs_own) > len(text.replace(" ", "")) // 2  # the check compared real glyphs


def test_letters_of_the_same_blocks_share_one_subset(monkeypatch):
    monkeypatch.setattr(pdf_fonts, "COPY_AFTER", 0)
    pdf_fonts._block_subset.cache_clear()
    # Basic Latin, Latin-1 and Latin Extended-A in regular, bold and mono
    first, second = letter("Dvořák"), letter("Řezníček Ústí")
    info = pdf_fonts._block_subset.cache_info()
    assert (info.misses, info.hits) == (3, 3)  # each style's subset made once
    assert "Řezníček Ústí" in shown(second)[0].replace("\n", " ")
    assert shown(first)[1].keys() != shown(second)[1].keys()


def test_a_cjk_font_in_a_collection_file_is_embedded(tmp_path, monkeypatch):
    """Debian's CJK font (fonts-noto-cjk) is a collection (.ttc): its first font is used, as
    fpdf2's add_font reads it (the copy shared by letters once failed to open it at output)."""
    from fontTools.ttLib import TTCollection, TTFont

    files = pdf_fonts.font_files()
    collection = TTCollection()
    collection.fonts = [TTFont(files["B"]), TTFont(files[""])]  # bold first: which one is used
    path = tmp_path / "cjk.ttc"
    collection.save(path)
    monkeypatch.setattr(pdf, "fallback_font", lambda: path)
    monkeypatch.setattr(pdf_fonts, "COPY_AFTER", 0)
    data = letter("貴公司 Łódź")
    assert "Łódź" in shown(data)[0]
    # Type0 and CIDFont of the letter's bold, then of the fallback: the collection's first font
    assert data.count(b"/BaseFont /MPDFAA+DejaVuSansBold") == 4


def test_a_shared_subset_is_deflated_once_and_the_letter_is_the_same(monkeypatch):
    """The font file of a shared subset is deflated for the first letter and reused: a second
    letter of the same blocks is byte for byte what it is with the file deflated again."""
    monkeypatch.setattr(pdf_fonts, "COPY_AFTER", 0)
    monkeypatch.setattr(pdf_fonts, "_PACKED", OrderedDict())
    pdf_fonts._block_subset.cache_clear()
    letter("Dvořák")
    assert all(pdf_fonts._PACKED.values()), "the subsets' deflated files are kept"
    assert len(pdf_fonts._PACKED) == 3  # regular, bold, mono
    again = letter("Řezníček Ústí")
    monkeypatch.setattr(pdf_fonts, "_PACKED", OrderedDict())  # deflated again for this letter
    assert letter("Řezníček Ústí") == again


def test_text_beyond_the_built_in_fonts_goes_to_dejavu_at_once():
    """A letter whose subject or body has a character beyond Windows-1252 is made with DejaVu
    without trying the built-in fonts first (the attempt would fail at that character); one
    without goes to the built-in fonts, and to DejaVu when they fail elsewhere."""
    from fpdf.errors import FPDFUnicodeEncodingException

    calls: list[bool] = []

    def make(builtin: bool, fails: bool = False) -> bytes:
        calls.append(builtin)
        if builtin and fails:
            raise FPDFUnicodeEncodingException(0, "Ł", "helvetica")
        return b"builtin" if builtin else b"dejavu"

    assert (pdf.build(make, shown="Zahlung an Łódź"), calls) == (b"dejavu", [False])
    calls.clear()
    assert (pdf.build(make, shown="Zahlung an Köln"), calls) == (b"builtin", [True])
    calls.clear()
    failing = pdf.build(lambda builtin: make(builtin, fails=True), shown="Zahlung an Köln")
    assert (failing, calls) == (b"dejavu", [True, False])


def test_a_letter_whose_body_needs_dejavu_is_made_once(monkeypatch):
    """letter_pdf tells build what the letter shows: a body with a Polish name is made with
    DejaVu at once; white space beyond Windows-1252 (a paragraph of one ideographic space, not
    drawn) does not send a letter the built-in fonts can set to DejaVu."""
    from credit.notices import pdf_letter
    from credit.notices.document import Letter

    made: list[bool] = []

    class Counted(pdf.Document):
        def __init__(self, **kwargs: object) -> None:
            made.append(bool(kwargs.get("builtin")))
            super().__init__(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pdf_letter, "Document", Counted)

    def body_letter(body: str) -> Letter:
        customer = {"code": "C-1", "name": "Kunde GmbH", "postal_address": ["Weg 1", "Köln"]}
        return Letter(
            notice_id=1,
            kind="dunning_reminder",
            locale="de",
            subject="Zahlungserinnerung",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
            context={"customer": customer},
            body=body,
        )

    company = {"name": "Testfirma Nord GmbH", "address": ["Hafenstraße 1"]}
    pdf_letter.letter_pdf(body_letter("Guten Tag,\n\nbitte zahlen Sie an Łódź."), company=company)
    assert made == [False]
    made.clear()
    pdf_letter.letter_pdf(body_letter("Guten Tag,\n\n\u3000\n\nbitte zahlen Sie."), company=company)
    assert made == [True]
