"""The page a letter is set on: fpdf2's FPDF with shortcuts for what a letter does most, one
line of plain text at a time.

For plain text in a built-in font (Helvetica, Courier: no fallback font, text shaping, letter
spacing, stretching, underline or page-count alias), :meth:`Page.text`, :meth:`Page.width_of`,
a ``set_font`` that changes nothing and a one-line ``cell`` (:meth:`Page.put`, a paragraph's
lines, the running head and foot) skip fpdf2's general checks, conversions and text fragments:
the same operators, in a fraction of the time. Anything else goes to fpdf2. The unit tests
(``tests/unit/test_pdf_text.py``) compare the pages byte for byte with fpdf2's own calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fpdf import FPDF
from fpdf.enums import TextMode, XPos, YPos
from fpdf.fonts import CoreFont
from fpdf.util import FloatTolerance, escape_parens

FONT, MONO = "DejaVu", "DejaVuMono"


class Page(FPDF):
    """FPDF with the shortcuts; ``_builtin``: Helvetica and Courier stand for DejaVu and DejaVu
    Mono; ``_fallback``: a fallback font is set (no shortcut then)."""

    _builtin = False
    _fallback = False

    def cell(self, *args: Any, **kwargs: Any) -> Any:
        done = super().cell(*args, **kwargs)
        if self._fallback:
            # A fallback font's characters can leave it selected in the page while fpdf2 thinks
            # ours is: the next text would be drawn with the wrong glyphs. Select ours again.
            self.current_font_is_set_on_page = False
        return done

    def plain(self, text: str) -> bool:
        """Whether ``text`` is set in the current font alone, as it reads: no fallback font, no
        text shaping, letter spacing, stretching, underline, strikethrough, outline, symbol font
        or page-count alias (read from the graphics state each time: ``local_context`` and
        fpdf2's setters change them)."""
        alias = self.str_alias_nb_pages
        return not (
            self._fallback
            or self._fallback_font_ids
            or self.text_shaping
            or self.char_spacing
            or self.font_stretching != 100
            or self.underline
            or self.strikethrough
            or self.text_mode != TextMode.FILL
            or getattr(self.current_font, "is_symbol", False)
            or (alias and alias in text)
        )

    def width_of(self, text: str) -> float:
        """``get_string_width(text)``, summed the same way without fpdf2's text fragments (a
        third of what a letter's table costs) when the text is plain."""
        if not self.plain(text):
            return self.get_string_width(text)
        return self._plain_width(text)

    def _plain_width(self, text: str) -> float:
        """:meth:`width_of` of text :meth:`plain` has passed."""
        font = self.current_font
        if isinstance(font, CoreFont):  # CoreFont.get_text_width's sum, without its generator
            units = sum(map(font.cw.__getitem__, self._encoded(text))) * self.font_size_pt * 0.001
        else:
            units = font.get_text_width(text, self.font_size_pt, None)[1]  # type: ignore[union-attr]
        return units / self.k

    def _encoded(self, text: str) -> str:
        """``normalize_text`` for the built-in fonts: the text in their encoding, as Latin-1."""
        encoding = self.core_fonts_encoding
        if not encoding:
            return text
        try:
            return text.encode(encoding).decode("latin-1")
        except UnicodeEncodeError:
            return self.normalize_text(text)  # raises fpdf2's exception (see build())

    def text(self, x: float, y: float, text: str = "") -> None:
        """fpdf2's ``text`` (the same operators), without its checks and conversions each time
        for plain text in a built-in font."""
        font = self.current_font
        simple = self.page and not self._record_text_quad_points
        if not (isinstance(font, CoreFont) and simple and self.plain(text)):
            super().text(x, y, text)
            return
        self._plain_text(font, x, y, text)

    def _plain_text(self, font: CoreFont, x: float, y: float, text: str) -> None:
        """:meth:`text` of text :meth:`plain` has passed, in ``font`` (the current one, built
        in), on a page that records no text positions."""
        text = self._encoded(text)
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        k = self.k
        line = f"BT {x * k:.2f} {(self.h - y) * k:.2f} Td ({escape_parens(text)}) Tj ET"
        colour = self.text_color
        if colour != self.fill_color:
            line = f"q {colour.serialize().lower()} {line} Q"  # type: ignore[union-attr]
        self._out(line)

    def put(self, w: float, h: float, text: str, *, align: str = "L", rule: bool = False) -> None:
        """``cell(w, h, text, border="B" if rule else 0, align=align)``, the cursor moved right
        by ``w``: the same text at the same place (fpdf2's ``text`` and ``line``), a tenth of
        the cost. A cell that would break the page, or text that is not plain, goes to
        ``cell``."""
        if self.will_page_break(h) or not self.plain(text):
            self.cell(w, h, text, border="B" if rule else 0, align=align)
            return
        x, y = self.x, self.y
        if rule:
            self.line(x, y + h, x + w, y + h)
        if text:
            # plain already: the offset and the text are not checked again
            dx = self._offset(w, text, align)
            top = y + 0.5 * h + 0.3 * self.font_size
            font, quads = self.current_font, self._record_text_quad_points
            if self.page and isinstance(font, CoreFont) and not quads:
                self._plain_text(font, x + dx, top, text)
            else:
                self.text(x + dx, top, text)
        self.x = x + w

    def row(self, h: float, cells: Sequence[tuple[float, str, str]], *, rule: bool = False) -> bool:
        """One row of a table, each ``(w, text, align)`` of ``cells`` as ``put(w, h, fit(self,
        text, w), align=align, rule=rule)`` would set it, written at once: the same operators in
        the same order, without a cell's checks, calls and writes each (a letter's items table
        was half of its cost). False, and nothing done, unless the row is plain text in a
        built-in font on this page that does not break it, in cells at least 1.5 mm wide. Text
        the font cannot encode raises fpdf2's exception before anything is written."""
        font = self.current_font
        texts = [" ".join(str(text).split()) for _, text, _ in cells]
        if (
            not self.page
            or not isinstance(font, CoreFont)
            or self._record_text_quad_points
            or self.will_page_break(h)
            or any(w < 1.5 for w, _, _ in cells)  # fit() puts an ellipsis in an empty cell
            or not self.plain("\n".join(texts))
        ):
            return False
        k, size, page_h, margin = self.k, self.font_size_pt, self.h, self.c_margin
        widths = font.cw
        shown: list[tuple[str, float]] = []  # each cell's text as the font encodes it, its width
        for (w, _, _), text in zip(cells, texts, strict=True):
            encoded = self._encoded(text)
            width = sum(map(widths.__getitem__, encoded)) * size * 0.001 / k
            if width > w - 1.5:  # fit()'s ellipsis
                encoded = self._encoded(fit(self, text, w))
                width = sum(map(widths.__getitem__, encoded)) * size * 0.001 / k
            shown.append((encoded, width))
        x, y = self.x, self.y
        edge = f"{(page_h - (y + h)) * k:.2f}"
        top = f"{(page_h - (y + 0.5 * h + 0.3 * self.font_size)) * k:.2f}"
        colour = self.text_color
        tint = colour.serialize().lower() if colour != self.fill_color else None  # type: ignore[union-attr]
        ops: list[str] = []
        for (w, _, align), (text, width) in zip(cells, shown, strict=True):
            if rule:
                ops.append(f"{x * k:.2f} {edge} m {(x + w) * k:.2f} {edge} l S")
            if text:
                if align == "L":
                    dx = float(margin)
                else:
                    dx = w - margin - width if align == "R" else (w - width) / 2
                if not self.current_font_is_set_on_page:
                    ops.append(self._set_font_for_page(font, size))
                op = f"BT {(x + dx) * k:.2f} {top} Td ({escape_parens(text)}) Tj ET"
                ops.append(op if tint is None else f"q {tint} {op} Q")
            x = x + w
        if ops:
            self._out("\n".join(ops))
        self.x = x
        return True

    def _offset(self, w: float, text: str, align: str) -> float:
        """Where ``cell`` starts ``text`` (which :meth:`plain` has passed) in a cell ``w`` wide:
        the cell margin in from the left (L) or right (R), or centred (C)."""
        if align == "L":
            return float(self.c_margin)
        width = self._plain_width(text)
        return w - self.c_margin - width if align == "R" else (w - width) / 2

    def _line(  # noqa: PLR0913  # cell's arguments, as it takes them
        self,
        w: float,
        h: float,
        text: str,
        *,
        align: str = "L",
        new_x: XPos = XPos.RIGHT,
        new_y: YPos = YPos.TOP,
    ) -> bool:
        """``cell(w, h, text, align=align, new_x=new_x, new_y=new_y)`` for plain text on this
        page (a line of :meth:`wrapped`, the running head and foot): the same operators, the
        cursor moved as ``cell`` moves it; False (nothing done) for any other."""
        if (
            align not in ("L", "R", "C")
            or new_x not in (XPos.LEFT, XPos.RIGHT, XPos.LMARGIN)
            or new_y not in (YPos.NEXT, YPos.TOP)
            or not (w > 0 and h > 0)  # cell's own widths and heights: fpdf2's
            or self._record_text_quad_points
            or self.will_page_break(h)
            or not self.plain(text)
        ):
            return False
        font, colour = self.current_font, self.text_color
        builtin = isinstance(font, CoreFont)
        if not builtin and colour != self.fill_color:
            return False
        x, y = self.x, self.y
        if text:
            dx = self._offset(w, text, align)
            if not builtin:  # the same operators as text() sets (DejaVu)
                self.text(x + dx, y + 0.5 * h + 0.3 * self.font_size, text)
            else:  # cell's: "q BT x y Td colour (text) Tj ET Q", without q, colour and Q in black
                if not self.current_font_is_set_on_page:
                    self._out(self._set_font_for_page(font, self.font_size_pt))  # type: ignore
                k, shown = self.k, f"({escape_parens(self._encoded(text))}) Tj"
                top = (self.h - y - 0.5 * h - 0.3 * self.font_size) * k
                place = f"BT {(x + dx) * k:.2f} {top:.2f} Td"
                if colour != self.fill_color:
                    tint = colour.serialize().lower()  # type: ignore[union-attr]
                    self._out(f"q {place} {tint} {shown} ET Q")
                else:
                    self._out(f"{place} {shown} ET")
        self._lasth = h
        if new_x == XPos.RIGHT:
            self.x = x + w
        elif new_x == XPos.LMARGIN:
            self.x = self.l_margin
        if new_y == YPos.NEXT:
            self.y = y + h
        return True

    def _cell(self, w: float, h: float, text: str, align: str = "L") -> None:
        if not self._line(w, h, text, align=align):
            self.cell(w, h, text, align=align)

    def set_font(self, family: str | None = None, style: Any = "", size: float = 0) -> None:
        if self._builtin and family in (FONT, MONO):
            family = "helvetica" if family == FONT else "courier"
        if family and size and style in ("", "B") and self._same_font(family.lower(), style, size):
            return  # fpdf2's set_font would change nothing (it finds that out slowly)
        super().set_font(family, style, size)

    def _same_font(self, family: str, style: str, size: float) -> bool:
        font = self.current_font
        return (
            font is not None  # fpdf2's test in set_font, and no underline to turn off
            and family == self.font_family
            and style == self.font_style
            and FloatTolerance.equal(self.font_size_pt, size)
            and font.fontkey == family + style
            and not (self.underline or self.strikethrough)
        )


def fit(pdf: Page, text: str, width: float) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` mm in the current font."""
    text = " ".join(str(text).split())
    if pdf.width_of(text) <= width - 1.5:
        return text
    while text and pdf.width_of(text + "…") > width - 1.5:
        text = text[:-1]
    return text + "…"
