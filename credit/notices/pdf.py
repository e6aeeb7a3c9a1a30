"""PDF letters with fpdf2: A4 pages laid out for a window envelope (DIN 5008 form B: the address
field 20 mm from the left and 45 mm from the top, the information block at 125 mm, the subject at
98.5 mm, fold marks), the company's sender block, a table that runs across pages with its heading
repeated, the payment block with its EPC QR code, and "Page X of Y" on every page.

fpdf2 is pure Python (it needs fontTools, Pillow and defusedxml, all wheels): it installs with
``pip install`` on a fresh machine, no system libraries (Cairo, Pango) and no browser. Its core
fonts are Latin-1 only, so the letters use DejaVu Sans (Unicode: names and addresses in any Latin,
Greek or Cyrillic script), which matplotlib, a dependency already, ships; a CJK font found on the
system is used for characters DejaVu lacks (Traditional Chinese letters).

Most letters need none of that: every character in Windows-1252 (Western European languages,
the euro sign). Those are set in the PDF's built-in Helvetica and Courier, which need no font
file parsed and none embedded. A letter with any other character is made again with DejaVu
(:func:`build`), parsed once in a process (:mod:`credit.notices.pdf_fonts`).

A daily run delivers thousands of letters, so what fpdf2 does slowly is done here by its cheaper
calls, to the same effect: paragraphs are broken where ``multi_cell`` breaks them, without its
measuring (:meth:`Document.wrapped`, :mod:`credit.notices.pdf_text`: the same bytes), and the
one-line cells of the letterhead, the tables and the payment block are set with ``text`` and
``line`` (:meth:`Document.put`); plain text in a built-in font skips fpdf2's general checks
and conversions (:mod:`credit.notices.pdf_page`: the same operators), and such a letter's file
is written directly (:mod:`credit.notices.pdf_output`: the same bytes). The EPC QR code is
segno's symbol, made once for the PDF and the e-mail (:mod:`credit.notices.qr`).
``python -m bench.letters`` times it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import CoreFont, TTFFont
from fpdf.output import OutputProducer

from credit.notices.pdf_fonts import (
    add_font,
    before_output,
    fallback_font,
    font_files,
    needs_fallback,
)
from credit.notices.pdf_labels import labels
from credit.notices.pdf_output import lean_output
from credit.notices.pdf_page import FONT, MONO, Page, fit
from credit.notices.pdf_text import NBSP, UNUSUAL, Measure

# fpdf2 reports every glyph no font has (Chinese text on a machine without a CJK font), letter
# by letter, through its logger, which Prefect's console handler would print in the middle of a
# run. Its messages stay out of the terminal; ``fallback_font`` logs it once, plainly
# (docs/letters.md says which font to install).
logging.getLogger("fpdf").addHandler(logging.NullHandler())
logging.getLogger("fpdf").propagate = False
LOG = logging.getLogger(__name__)

LEFT, RIGHT = 25.0, 20.0  # margins (mm)
WIDTH = 210.0 - LEFT - RIGHT  # the text's width
LINE = 4.6  # body line height (mm)
ROW = 5.2  # table row height (mm)
GREY = (82, 96, 109)


@dataclass(frozen=True)
class Column:
    """A table column: heading, width (mm), alignment (L or R)."""

    heading: str
    width: float
    align: str = "L"


class Document(Page):
    """An A4 document of the company: fonts, margins, the running head of later pages, the footer
    with the company's details and the page numbers."""

    def __init__(  # noqa: PLR0913  # the document's context, each named
        self,
        *,
        company: Mapping[str, Any],
        locale: str,
        title: str,
        created: datetime,
        text: str = "",
        builtin: bool = False,
    ) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.company, self.locale, self.doc_title = company, locale, title
        self.words = labels(locale)
        self._builtin = builtin
        files = font_files()
        self._mono = files["mono"]  # added on first use
        if builtin:  # Helvetica and Courier: a character beyond Windows-1252 raises
            self.core_fonts_encoding = "windows-1252"
        else:
            add_font(self, FONT, "", files[""])
            add_font(self, FONT, "B", files["B"])
        # The CJK font (parsing it costs about 0.4 s) only for a document that needs it.
        extra = fallback_font() if not builtin and needs_fallback(text, title, company) else None
        self._fallback = extra is not None
        if extra is not None:
            add_font(self, "Fallback", "", extra)
            self.set_fallback_fonts(["Fallback"], exact_match=False)
        self.set_margins(LEFT, 20, RIGHT)
        self.set_auto_page_break(True, margin=24)
        self.set_title(title)
        self.set_author(str(company.get("name", "")))
        self.set_creator("credit")
        self.set_creation_date(created)  # the notice's: the same letter gives the same bytes
        self.set_font(FONT, size=10)

    def wrapped(
        self,
        w: float,
        h: float,
        text: str,
        *,
        new_x: XPos = XPos.LMARGIN,
        new_y: YPos = YPos.NEXT,
        align: str = "L",
    ) -> None:
        """``multi_cell(w, h, text, align=align, new_x=new_x, new_y=new_y)`` (left, centred, or
        justified when every line ends at a newline or the end of the text): the same lines on
        the same pages, the same bytes, in a fraction of the time. fpdf2 measures a line again
        for each character it adds (a paragraph's cost grows with the square of its lines'
        length: a third of a letter's time); plain text in one font is broken here by the same
        rules (:func:`break_lines`) and each line set with ``cell``. Anything else (a fallback
        font, text shaping, letter spacing, a soft hyphen or special space, a trailing newline)
        goes to ``multi_cell``."""
        lines = self._break(w, text) if align in ("L", "C", "J") else None
        if align == "J" and lines is not None:
            # multi_cell's default: a line that ends the text or at a newline is set flush left,
            # a line broken for the width is justified (multi_cell sets those; also a last line
            # that fits once its trailing space is dropped, which it counts as broken)
            hard = len(lines) == text.count("\n") + 1 and not text.endswith((" ", "\u00a0"))
            lines, align = (lines, "L") if hard else (None, align)
        if lines is None:
            self.multi_cell(w, h, text, align=align, new_x=new_x, new_y=new_y)
            return
        for n, line in enumerate(lines, start=1):
            last = n == len(lines)
            x, y = (new_x, new_y) if last else (XPos.LEFT, YPos.NEXT)
            if not self._line(w, h, line, align=align, new_x=x, new_y=y):
                self.cell(w, h, line, align=align, new_x=x, new_y=y)

    def _break(self, w: float, text: str) -> list[str] | None:
        font = self.current_font
        if (
            not text
            or text.endswith("\n")
            or self._fallback
            or self.text_shaping
            or self.char_spacing
            or self.font_stretching != 100
            or getattr(font, "is_symbol", False)
            or UNUSUAL.search(text)
        ):
            return None
        plain = self.normalize_text(text)  # raises as multi_cell does: see build()
        widths: Mapping[str, float]
        if isinstance(font, TTFFont):
            widths = {c: font.cw[ord(c)] for c in {*plain, " "}}
        elif isinstance(font, CoreFont):
            widths = font.cw
        else:
            return None
        # multi_cell's limit: the cell's width less the cell margin on either side
        limit = w - float(self.c_margin) - float(self.c_margin)
        ends = Measure(widths, self.font_size_pt, self.k, limit).lines(plain)
        if ends is None:
            return None
        return [text[a:b].replace(NBSP, " ") for a, b in ends]

    # -- every page ----------------------------------------------------------------------------

    def header(self) -> None:
        if self.page_no() == 1:
            self._fold_marks()
            return
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.set_xy(LEFT, 10)
        self._cell(WIDTH * 0.4, 4, fit(self, str(self.company.get("name", "")), WIDTH * 0.4))
        self._cell(WIDTH * 0.6, 4, fit(self, self.doc_title, WIDTH * 0.6), align="R")
        self.set_text_color(0, 0, 0)
        self.set_xy(LEFT, 20)

    def footer(self) -> None:
        self.set_y(-18)
        self.set_draw_color(154, 165, 177)
        self.set_line_width(0.2)
        self.line(LEFT, self.get_y(), LEFT + WIDTH, self.get_y())
        self.set_font(FONT, size=7)
        self.set_text_color(*GREY)
        company = self.company
        details = [str(company.get("name", "")), *sender_lines(company)]
        self.set_xy(LEFT, self.get_y() + 1.2)
        self._cell(WIDTH - 30, 3.2, fit(self, " · ".join(details), WIDTH - 30))
        page = self.words["page"].format(page=self.page_no(), pages="{nb}")
        self.cell(30, 3.2, page, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        contact = " · ".join(company.get("contact", []))
        if contact:
            self._cell(WIDTH, 3.2, fit(self, contact, WIDTH))
        self.set_text_color(0, 0, 0)

    def _fold_marks(self) -> None:
        """Fold marks (105 and 210 mm, form B) and the punch mark (148.5 mm) at the left edge."""
        self.set_draw_color(120, 120, 120)
        self.set_line_width(0.2)
        for y, length in ((105.0, 5.0), (148.5, 7.0), (210.0, 5.0)):
            self.line(3, y, 3 + length, y)

    # -- the first page ------------------------------------------------------------------------

    def letterhead(self, recipient: Sequence[str], info: Sequence[tuple[str, str]]) -> None:
        """The sender block, the window address (return line and recipient), the information
        block (date, customer number, reference); the cursor then stands at the subject."""
        company = self.company
        self.set_xy(LEFT, 12)
        self.set_font(FONT, "B", 14)
        self.put(WIDTH, 6, str(company.get("name", "")), align="R")
        self.set_xy(LEFT, 18.5)
        self.set_font(FONT, size=8.5)
        self.set_text_color(*GREY)
        self.put(WIDTH, 4, self.words["department"], align="R")
        for n, line in enumerate(sender_lines(company)[:4]):
            self.set_xy(LEFT, 23 + n * 3.6)
            self.put(WIDTH, 3.6, fit(self, line, WIDTH), align="R")
        # The address field: 85 x 45 mm at (20, 45); the return line just above the address.
        self.set_font(FONT, size=6.5)
        self.set_xy(20, 57.5)
        back = " · ".join([str(company.get("name", "")), *sender_lines(company)])
        self.put(85, 3, fit(self, back, 85))
        self.set_text_color(0, 0, 0)
        self.set_draw_color(154, 165, 177)
        self.line(20, 60.8, 105, 60.8)
        self.set_font(FONT, size=10)
        for n, line in enumerate(list(recipient)[:6]):
            self.set_xy(20, 63 + n * 4.5)
            self.put(85, 4.5, fit(self, line, 85))
        # The information block at 125 mm.
        for n, (label, value) in enumerate(info):
            self.set_xy(125, 50 + n * 4.6)
            self.set_font(FONT, size=7.5)
            self.set_text_color(*GREY)
            self.put(22, 4.6, label)
            self.set_text_color(0, 0, 0)
            self.set_font(FONT, size=shrunk(self, value, 43, 9))
            self.put(43, 4.6, value)
        self.set_xy(LEFT, 98.5)

    def subject_line(self, text: str) -> None:
        self.set_font(FONT, "B", 11)
        self.wrapped(WIDTH, 5.5, text)
        self.ln(4)
        self.set_font(FONT, size=10)

    # -- the body ------------------------------------------------------------------------------

    def paragraphs(self, text: str) -> None:
        """Plain text as a letter's body: paragraphs at blank lines; a line underlined with dashes
        is a heading; indented lines keep their columns (a fixed-width font)."""
        for block in text.strip("\n").split("\n\n"):
            lines = block.split("\n")
            if not any(line.strip() for line in lines):
                continue
            if len(lines) >= 2 and set(lines[1].strip()) == {"-"}:
                self.heading(lines[0].strip())
                lines = lines[2:]
            plain: list[str] = []
            for line in lines:
                if line.startswith("  ") and line.strip():
                    self._flush(plain)
                    self._indented(line)
                else:
                    plain.append(line)
            self._flush(plain)
            self.ln(2.2)

    def _flush(self, lines: list[str]) -> None:
        if lines:
            self.set_font(FONT, size=10)
            text = "\n".join(lines)
            self.wrapped(WIDTH, LINE, text)
            lines.clear()

    def _indented(self, line: str) -> None:
        if not self._builtin and MONO.lower() not in self.fonts:
            add_font(self, MONO, "", self._mono)
        self.set_font(MONO, size=7.5)
        self.wrapped(WIDTH, 3.6, line.rstrip())
        self.set_font(FONT, size=10)

    def heading(self, text: str) -> None:
        if self.will_page_break(14):
            self.add_page()
        self.ln(1.5)
        self.set_font(FONT, "B", 10.5)
        self.wrapped(WIDTH, 5.5, text)
        self.set_font(FONT, size=10)
        self.ln(0.8)

    # -- tables --------------------------------------------------------------------------------

    def items_table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """A table across as many pages as it takes, its heading repeated on each."""

        def head() -> None:
            self.set_font(FONT, "B", 8)
            self.set_draw_color(0, 0, 0)
            self.cells(ROW + 0.6, [(c.width, c.heading, c.align) for c in columns])
            self.ln(ROW + 0.6)
            self.set_font(FONT, size=8.5)

        if self.will_page_break(3 * ROW):
            self.add_page()
        head()
        self.set_draw_color(210, 216, 222)
        for row in rows:
            if self.will_page_break(ROW):
                self.add_page()
                head()
                self.set_draw_color(210, 216, 222)
            self.cells(ROW, [(c.width, v, c.align) for c, v in zip(columns, row, strict=True)])
            self.ln(ROW)
        self.ln(1.5)

    def cells(self, h: float, cells: Sequence[tuple[float, str, str]]) -> None:
        """A ruled row of a table: each ``(width, text, align)`` fitted to its width."""
        if not self.row(h, cells, rule=True):
            for w, text, align in cells:
                self.put(w, h, fit(self, text, w), align=align, rule=True)

    def totals(self, lines: Sequence[tuple[str, str, bool]]) -> None:
        """Right-aligned label and amount lines; a bold line is a total (ruled above)."""
        if self.will_page_break(len(lines) * ROW + 2):
            self.add_page()
        for label, value, bold in lines:
            self.set_font(FONT, "B" if bold else "", 9)
            if bold:
                self.set_draw_color(0, 0, 0)
                self.line(LEFT + WIDTH - 80, self.get_y(), LEFT + WIDTH, self.get_y())
            self.set_x(LEFT + WIDTH - 125)
            self.put(85, ROW, fit(self, label, 85), align="R")
            self.put(40, ROW, value, align="R")
            self.set_xy(LEFT, self.get_y() + ROW)
        self.set_font(FONT, size=10)
        self.ln(3)

    def payment_block(self, rows: Sequence[tuple[str, str]], note: str, qr_code: Any) -> None:
        """The payment details (beneficiary, IBAN, BIC, amount, reference) in a box, with the
        EPC QR code (its modules, :func:`credit.notices.qr.epc_matrix`) at its right when there
        is one."""
        height = max(len(rows) * 5.0 + 14, 42 if qr_code is not None else 0)
        if self.will_page_break(height + 8):
            self.add_page()
        self.heading(self.words["payment_details"])
        top = self.get_y()
        self.set_draw_color(0, 0, 0)
        self.set_line_width(0.6)
        self.line(LEFT, top, LEFT, top + height - 4)
        self.set_line_width(0.2)
        for n, (label, value) in enumerate(rows):
            self.set_xy(LEFT + 4, top + n * 5.0)
            self.set_font(FONT, size=8.5)
            self.set_text_color(*GREY)
            self.put(28, 5, label)
            self.set_text_color(0, 0, 0)
            self.set_font(FONT, "B", 10)
            self.set_font(FONT, "B", shrunk(self, value, 92, 10))
            self.put(92, 5, value)
        self.set_xy(LEFT + 4, top + len(rows) * 5.0 + 1.5)
        self.set_font(FONT, size=8.5)
        self.wrapped(WIDTH - 48, 4, note)
        if qr_code is not None:
            self.qr_code(qr_code, x=LEFT + WIDTH - 36, y=top - 1, size=36)
            self.set_xy(LEFT + WIDTH - 40, top + 35.5)
            self.set_font(FONT, size=6)
            self.wrapped(40, 2.6, self.words["qr"], align="C", new_x=XPos.RIGHT)
        self.set_xy(LEFT, top + height)
        self.set_font(FONT, size=10)

    def qr_code(self, modules: Any, *, x: float, y: float, size: float) -> None:
        """A QR code drawn as vectors: its dark modules (``modules``: 1 where dark) as black
        rectangles, a run of a row's modules each, filled as one path; ``size`` mm square with
        the quiet zone of four modules. Sharp at any print resolution or zoom, and cheaper to
        make than an image (pixels, a Group 4 TIFF, fpdf2 reading it back). The module's side is
        a whole hundredth of a point, so that neighbouring modules meet exactly (the square is
        within about a tenth of a millimetre of ``size``: 0.13 mm for the largest EPC code)."""
        n = int(modules.shape[0])
        k, side = self.k, size / (n + 8)
        unit = round(side * k, 2)
        left, top = round((x + 4 * side) * k, 2), round((self.h - y - 4 * side) * k, 2)
        xs = [f"{left + c * unit:.2f}" for c in range(n + 1)]
        ys = [f"{top - (r + 1) * unit:.2f}" for r in range(n)]
        widths = [f"{length * unit:.2f}" for length in range(n + 1)]
        height = f"{unit:.2f} re"
        edges = np.diff(np.pad(modules.astype(np.int8), ((0, 0), (1, 1))), axis=1)
        rows, starts = np.nonzero(edges == 1)
        ends = np.nonzero(edges == -1)[1]
        path = [
            f"{xs[a]} {ys[r]} {widths[b - a]} {height}"
            for r, a, b in zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True)
        ]
        self._out("q 0 g\n" + "\n".join(path) + "\nf Q")

    def render(self) -> bytes:
        """The finished document."""
        return bytes(self.output(output_producer_class=_Producer))


class _Producer(OutputProducer):
    """fpdf2's output, once the last page's footer is drawn (every glyph the document shows is
    known): each font set for it by :func:`before_output` first."""

    def __init__(self, fpdf: FPDF) -> None:
        for font in fpdf.fonts.values():
            before_output(font)
        super().__init__(fpdf)

    def bufferize(self) -> bytearray:
        """A letter in the built-in fonts written directly (:mod:`credit.notices.pdf_output`:
        the same bytes), any other by fpdf2."""
        lean = lean_output(self.fpdf)
        if lean is None:
            return super().bufferize()
        self.buffer = bytearray(lean)
        return self.buffer


def build(make: Callable[[bool], bytes], *, shown: str = "") -> bytes:
    """``make(builtin)``'s document with the built-in fonts, or, when its text has a character
    they lack, with DejaVu (and a CJK font where one is found). ``shown``: text the document
    sets whole; if it has such a character, the attempt with the built-in fonts (which would
    stop at it, some way into the document) is skipped."""
    from fpdf.errors import FPDFUnicodeEncodingException

    if shown and not _builtin_can_set(shown):
        return make(False)
    try:
        return make(True)
    except (FPDFUnicodeEncodingException, UnicodeEncodeError):
        return make(False)


def _builtin_can_set(text: str) -> bool:
    """Whether every character of ``text`` but white space (a blank line, the end of a line: not
    always drawn) is in the built-in fonts' encoding (Windows-1252)."""
    try:
        "".join(text.split()).encode("windows-1252")
    except UnicodeEncodeError:
        return False
    return True


def sender_lines(company: Mapping[str, Any]) -> list[str]:
    """The company's address lines without a first line that repeats its name."""
    lines = [str(line) for line in company.get("address", [])]
    name = str(company.get("name", "")).strip().lower()
    return lines[1:] if lines and lines[0].strip().lower() == name else lines


def shrunk(pdf: Document, text: str, width: float, size: float, *, smallest: float = 6.0) -> float:
    """The font size, from ``size`` down to ``smallest``, at which ``text`` fits ``width`` mm in
    the current font (what must not be cut short: an account holder, an IBAN, a reference)."""
    pdf.set_font_size(size)
    while size > smallest and pdf.width_of(text) > width - 1:
        size -= 0.5
        pdf.set_font_size(size)
    return size


def qr_png(payload: str) -> bytes:
    """The QR code of ``payload`` as a PNG: byte mode in UTF-8, error correction level M (as
    EPC069-12 requires), a quiet zone of four modules (:mod:`credit.notices.qr`: segno's symbol,
    made once for a letter's PDF and its e-mail)."""
    from credit.notices import qr

    return qr.qr_png(payload)
