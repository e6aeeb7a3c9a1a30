"""A letter's paragraphs are broken where fpdf2's multi_cell breaks them (credit.notices.pdf_text
measures them without multi_cell's cost), in the built-in Helvetica and in DejaVu, and the page
is the same, byte for byte."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from fpdf import FPDF
from fpdf.enums import TextMode, XPos, YPos

from credit.notices.pdf import FONT, WIDTH, Document, fit

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


@pytest.mark.parametrize("builtin", [True, False], ids=["built-in", "dejavu"])
def test_one_line_cells_text_and_fonts_are_fpdf2s_bytes(builtin):
    """``put`` (the letterhead, tables, totals), ``text``, ``set_font`` and the one-line cells
    of the running head and foot take shortcuts for plain text; the page is the one fpdf2's own
    ``set_font``, ``cell``, ``get_string_width``, ``line`` and ``text`` make, in black and grey,
    at each alignment, with a rule, with parentheses and backslashes, in Courier too, with the
    same font set twice, from any x; and the cursor and line height are cell's."""
    rnd = random.Random(6)
    values = ["Müller & Söhne (fictitious)", "€1.234,56", "a\\b", "", "x" * 90, "RF18 5390 0754"]
    values.append("Seite 1 von {nb}")  # the page count: not plain, so fpdf2's cell
    fonts = {FONT: "helvetica", "DejaVuMono": "courier"} if builtin else {FONT: FONT}
    styles = [(FONT, "", 8.5), (FONT, "B", 10)] + ([("DejaVuMono", "", 7.5)] if builtin else [])
    fast, slow = document(builtin), document(builtin)
    for n in range(160):
        value = rnd.choice(values)
        family, style, size = rnd.choice(styles)
        colour = rnd.choice([(0, 0, 0), (82, 96, 109)])
        align, rule, width = rnd.choice("LRC"), rnd.random() < 0.5, rnd.choice([22.0, 43.0, WIDTH])
        start = rnd.choice([20, 25, 29, 125])
        for pdf in (fast, slow):
            pdf.set_text_color(*colour)
            pdf.set_xy(start, 30 + (n % 40) * 5)
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
        new_x = rnd.choice([XPos.RIGHT, XPos.LMARGIN, XPos.LEFT])
        new_y = rnd.choice([YPos.TOP, YPos.NEXT])
        height = rnd.choice([3.2, 4.0, 4.6])
        if not fast._line(width, height, value, align=align, new_x=new_x, new_y=new_y):
            fast.cell(width, height, value, align=align, new_x=new_x, new_y=new_y)
        slow.cell(width, height, value, align=align, new_x=new_x, new_y=new_y)
        assert (fast.get_x(), fast.get_y(), fast._lasth) == (
            slow.get_x(),
            slow.get_y(),
            slow._lasth,
        )
        fast.text(30, 250, value)
        FPDF.text(slow, 30, 250, value)
    assert fast.render() == slow.render()


@pytest.mark.parametrize("builtin", [True, False], ids=["built-in", "dejavu"])
def test_a_table_row_at_once_is_the_page_of_its_cells_put_one_by_one(builtin):
    """``cells`` (a letter's items table) writes a row at once where it can; the page, the
    cursor and every page break are those of ``put(w, h, fit(...))`` for each cell, in black
    and grey, at each alignment, with text cut short by an ellipsis (and an empty cell too
    narrow for one), with the page count (not plain), and over enough rows to break pages."""
    rnd = random.Random(21)
    values = ["Müller & Söhne (fictitious)", "€1.234,56", "a\\b", "", "x" * 90, "R(F)18"]
    values += ["Seite 1 von {nb}", "Rechnung  mit\nUmbruch", "–", "1\u00a0234,50\u00a0€"]
    fast, slow = document(builtin), document(builtin)
    for n in range(120):
        colour = rnd.choice([(0, 0, 0), (82, 96, 109)])
        size, style = rnd.choice([(8.5, ""), (8, "B"), (10, "")])
        cells = [
            (rnd.choice([1.0, 14.0, 25.0, 46.0, 60.0]), rnd.choice(values), rnd.choice("LRC"))
            for _ in range(rnd.randint(1, 6))
        ]
        start = rnd.choice([20, 25.5])
        for pdf in (fast, slow):
            pdf.set_text_color(*colour)
            pdf.set_font(FONT, style, size)
            pdf.set_x(start)
        if n % 7 == 0:  # a grey rule or a black one
            for pdf in (fast, slow):
                pdf.set_draw_color(210, 216, 222)
        fast.cells(5.2, cells)
        for w, text, align in cells:
            slow.put(w, 5.2, fit(slow, text, w), align=align, rule=True)
        assert (fast.get_x(), fast.get_y(), fast.page) == (slow.get_x(), slow.get_y(), slow.page)
        for pdf in (fast, slow):
            pdf.ln(5.2)
    assert fast.page > 1  # the rows broke pages
    assert fast.render() == slow.render()
    fresh = document(builtin)
    fresh.set_font(FONT, size=8.5)
    assert fresh.row(5.2, [(20.0, "plain", "L")]) is builtin  # DejaVu: put, cell by cell


def test_styled_text_goes_to_fpdf2():
    """Underline, letter spacing, stretching, an outline, a local context with spacing, a cell
    without a width or height: no shortcut; the page is fpdf2's."""
    fast, slow = document(True), document(True)

    def styles(pdf: Document):  # type: ignore[no-untyped-def]
        yield pdf.set_font(FONT, "U", 10)
        yield pdf.set_font(FONT, "", 10)
        yield pdf.set_char_spacing(1)
        yield pdf.set_char_spacing(0)
        yield pdf.set_stretching(90)
        yield pdf.set_stretching(100)
        pdf.text_mode = TextMode.STROKE
        yield None
        pdf.text_mode = TextMode.FILL
        with pdf.local_context(char_spacing=2):
            yield None

    for _ in zip(styles(fast), styles(slow), strict=True):
        for n, (w, h) in enumerate([(60.0, 5.0), (0.0, 5.0), (60.0, 0.0)]):
            for pdf in (fast, slow):
                pdf.set_xy(30, 40 + n * 6)
            if not fast._line(w, h, "Hello (world)", align="R"):
                fast.cell(w, h, "Hello (world)", align="R")
            slow.cell(w, h, "Hello (world)", align="R")
            assert (fast.get_x(), fast._lasth) == (slow.get_x(), slow._lasth)
            fast.put(60, 5, "Hello", align="C")
            slow.cell(60, 5, "Hello", align="C")
            fast.text(30, 200, "Hello")
            FPDF.text(slow, 30, 200, "Hello")
    assert fast.render() == slow.render()
