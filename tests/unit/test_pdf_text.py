"""A letter's paragraphs are broken where fpdf2's multi_cell breaks them (credit.notices.pdf_text
measures them without multi_cell's cost), in the built-in Helvetica and in DejaVu, and the page
is the same, byte for byte."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from fpdf import FPDF
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


def test_one_line_cells_text_and_fonts_are_fpdf2s_bytes():
    """``put`` (the letterhead, tables, totals), ``text`` and ``set_font`` take shortcuts for
    plain text in a built-in font; the page is the one fpdf2's own ``set_font``, ``cell`` (black
    text without a rule), ``get_string_width``, ``line`` and ``text`` make, at each alignment, with a rule, with
    parentheses and backslashes, in Courier too, and with the same font set twice."""
    rnd = random.Random(6)
    values = ["Müller & Söhne (fictitious)", "€1.234,56", "a\\b", "", "x" * 90, "RF18 5390 0754"]
    values.append("Seite 1 von {nb}")  # the page count: not plain, so fpdf2's cell
    fonts = {FONT: "helvetica", "DejaVuMono": "courier"}
    fast, slow = document(True), document(True)
    for n in range(160):
        value = rnd.choice(values)
        family, style, size = rnd.choice(
            [(FONT, "", 8.5), (FONT, "B", 10), ("DejaVuMono", "", 7.5)]
        )
        colour = rnd.choice([(0, 0, 0), (82, 96, 109)])
        align, rule, width = rnd.choice("LRC"), rnd.random() < 0.5, rnd.choice([22.0, 43.0, WIDTH])
        for pdf in (fast, slow):
            pdf.set_text_color(*colour)
            pdf.set_xy(25, 30 + (n % 40) * 5)
        fast.set_font(family, style, size)
        fast.set_font(family, style, size)
        FPDF.set_font(slow, fonts[family], style, size)
        fast.put(width, 5, value, align=align, rule=rule)
        if "{nb}" in value or (colour == (0, 0, 0) and not rule):  # what put stands for
            slow.cell(width, 5, value, border="B" if rule else 0, align=align)
        else:  # put's own steps, with fpdf2's text and measure
            x, y = slow.get_x(), slow.get_y()
            if rule:
                slow.line(x, y + 5, x + width, y + 5)
            if value:
                text_width = slow.get_string_width(value)
                dx = {"L": slow.c_margin, "R": width - slow.c_margin - text_width}.get(
                    align, (width - text_width) / 2
                )
                FPDF.text(slow, x + dx, y + 2.5 + 0.3 * slow.font_size, value)
            slow.set_x(x + width)
        assert fast.get_x() == slow.get_x()
        fast._cell(width, 4, value, align=align)  # the running head and foot
        slow.cell(width, 4, value, align=align)
        assert (fast.get_x(), fast.get_y()) == (slow.get_x(), slow.get_y())
        fast.text(30, 250, value)
        FPDF.text(slow, 30, 250, value)
    assert fast.render() == slow.render()


def test_a_document_never_styles_its_text_behind_plains_back():
    """``plain`` keeps what ``set_font`` found (fpdf2's text styles are looked up once per font,
    not per text); over a whole letter it answers what the full look-up answers."""
    from credit.notices import pdf_letter

    seen: list[tuple[bool, bool]] = []
    real = Document.plain

    def checked(self: Document, text: str) -> bool:
        answer = real(self, text)
        alias = self.str_alias_nb_pages
        seen.append((answer, not self._styled() and not (alias and alias in text)))
        return answer

    Document.plain = checked  # type: ignore[method-assign]
    try:
        for builtin in (True, False):
            pdf_letter._letter_pdf(
                _letter(), company={"name": "Testfirma Nord GmbH"}, builtin=builtin
            )
    finally:
        Document.plain = real  # type: ignore[method-assign]
    assert len(seen) > 50
    assert all(a == b for a, b in seen)


def _letter():  # type: ignore[no-untyped-def]
    from credit.notices.document import Letter

    customer = {"code": "C-1", "name": "Kunde GmbH", "postal_address": ["Weg 1", "50667 Köln"]}
    body = "Guten Tag,\n\n" + "\n\n".join(texts(6, WORDS, seed=7)) + "\n\n  INV-1  1.234,56 €\n"
    return Letter(
        notice_id=1,
        kind="dunning_reminder",
        locale="de",
        subject="Zahlungserinnerung (Kunde GmbH)",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        context={"customer": customer},
        body=body,
    )
