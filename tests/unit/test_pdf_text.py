"""A letter's paragraphs are broken where fpdf2's multi_cell breaks them (credit.notices.pdf_text
measures them without multi_cell's cost), in the built-in Helvetica and in DejaVu, and the page
is the same, byte for byte."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from fpdf.enums import XPos, YPos

from credit.notices.pdf import FONT, WIDTH, Document

WORDS = [
    "Rechnung", "overdue", "RF18 5390 0754 7034", "€1.234,56", "1\u00a0234,50\u00a0€", "Müller",
    "a", "Zahlungserinnerung", "—", "(fictitious)", "INV-2026-000123", "x" * 70, "",
]  # fmt: skip
UNICODE = ["Łódź", "Ελλάδα", "Москва", "ul. Piotrkowska", "Øresund"]


def texts(count: int, words: list[str], seed: int) -> list[str]:
    """Paragraphs of random words, single and double spaces, newlines, a trailing space."""
    rnd = random.Random(seed)
    found = []
    for _ in range(count):
        parts = []
        for _ in range(rnd.randint(1, 60)):
            parts.append(rnd.choice(words))
            parts.append(rnd.choice([" ", " ", " ", "  ", "\n", " \n"]))
        found.append("".join(parts).rstrip("\n"))
    return found


def document(builtin: bool) -> Document:
    company = {"name": "Testfirma Nord GmbH", "address": ["Hafenstraße 1", "20457 Hamburg"]}
    pdf = Document(
        company=company,
        locale="de",
        title="Test",
        created=datetime(2026, 12, 1, tzinfo=UTC),
        builtin=builtin,
    )
    pdf.add_page()
    return pdf


def check(builtin: bool, words: list[str], seed: int, count: int, align: str = "L") -> None:
    rnd = random.Random(seed)
    for text in texts(count, words, seed):
        size, width = rnd.choice([7.5, 8.5, 10, 11]), rnd.choice([WIDTH, WIDTH - 48, 40, 12])
        fast, slow = document(builtin), document(builtin)
        for pdf in (fast, slow):
            pdf.set_font(FONT, size=size)
        expected = slow.multi_cell(
            width, 4.6, text, align="L", dry_run=True, output="LINES"
        )  # what multi_cell sets
        lines = fast._break(width, text)
        assert lines is None or [fast.normalize_text(line) for line in lines] == expected, text
        fast.wrapped(width, 4.6, text, align=align)
        slow.multi_cell(width, 4.6, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        assert (fast.get_x(), fast.get_y(), fast.page_no()) == (
            slow.get_x(),
            slow.get_y(),
            slow.page_no(),
        )
        assert fast.render() == slow.render(), text


def test_lines_in_the_built_in_fonts_break_where_multi_cell_breaks_them():
    check(True, WORDS, seed=1, count=40)


def test_centred_and_justified_lines_are_multi_cells():
    """The QR code's caption is centred, the signature justified (multi_cell's default): a
    justified text whose lines all end at a newline is set flush left, as multi_cell sets it;
    one with a line to justify goes to multi_cell."""
    check(True, WORDS, seed=3, count=20, align="C")
    check(True, WORDS, seed=4, count=20, align="J")
    check(False, WORDS + UNICODE, seed=5, count=6, align="J")
    # short lines, each ending at a newline (set flush left), and a trailing space that the
    # last line fits only without (multi_cell justifies it)
    short = ["Testfirma Nord GmbH\nBuchhaltung", "A\n\nB", "\n", "Max Mustermann ", "x\ny "]
    for text in short:
        for width in (WIDTH, 40, 29.26, 12):
            fast, slow = document(True), document(True)
            fast.wrapped(width, 4.6, text, align="J")
            slow.multi_cell(width, 4.6, text, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            assert fast.render() == slow.render(), (text, width)


def test_lines_in_dejavu_break_where_multi_cell_breaks_them():
    check(False, WORDS + UNICODE, seed=2, count=12)


def test_text_multi_cell_treats_apart_goes_to_multi_cell():
    pdf = document(True)
    pdf.set_font(FONT, size=10)
    for text in ("soft\u00adhyphen", "tab\there", "ends with a newline\n", ""):
        assert pdf._break(WIDTH, text) is None
