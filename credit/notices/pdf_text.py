"""Where fpdf2's ``multi_cell`` ends the lines of a paragraph, found without its cost.

``multi_cell`` (``fpdf.line_break.MultiLineBreak``) measures the line again from its first
character for each character it adds: a paragraph costs the square of its lines' length, a third
of what a letter took. :class:`Measure` applies the same rules to plain text in one font (no
letter spacing, stretching or text shaping: :meth:`credit.notices.pdf.Document.wrapped` sends
anything else to ``multi_cell``), summing the widths as fpdf2 does (the line's width units times
the size, then in document units) and comparing them with the same tolerance, so each line ends
where ``multi_cell`` ends it (``tests/unit/test_pdf_text.py`` compares both)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

NBSP = "\u00a0"
# What multi_cell treats apart: a soft hyphen, a carriage return and the spaces other than U+0020
# at which it breaks a line (tab, U+2000-U+200B, U+205F, U+3000).
UNUSUAL = re.compile("[\u00ad\r\t\u2000-\u200b\u205f\u3000]")
_TOLERANCE = 1e-9  # fpdf.util.FloatTolerance


@dataclass(frozen=True)
class Measure:
    """A font at a size: ``widths`` of the characters in the font's units (a space's among
    them), the size in points, the document's points per unit, the line's limit in units."""

    widths: Mapping[str, float]
    size_pt: float
    k: float
    limit: float

    def lines(self, text: str) -> list[tuple[int, int]] | None:
        """(start, end) of each line ``multi_cell`` makes of ``text``: a line ends at the last
        space before the character that does not fit (a space that does not fit ends it
        itself), in a word longer than the line just before that character, and at each
        newline; a last line of no width is dropped. None when one character alone does not
        fit (multi_cell raises) or a line would end at a space it begins with (multi_cell
        writes an empty text there; it is left to multi_cell)."""
        found: list[tuple[int, int]] = []
        start = 0
        while start < len(text):
            line = self._line(text, start)
            if line is None:
                return None
            end, after = line
            if end >= 0:
                found.append((start, end))
            start = after
        return found

    def _line(self, text: str, start: int) -> tuple[int, int] | None:
        """Where the line from ``start`` ends (-1: no line) and where the next one starts."""
        widths, size_pt, k = self.widths, self.size_pt, self.k
        units: float = 0
        cut = -1  # the line's last space
        for i in range(start, len(text)):
            char = text[i]
            if char == "\n":
                return i, i + 1
            unit = widths[char]
            if units * size_pt * 0.001 / k + unit * size_pt * 0.001 / k - self.limit > _TOLERANCE:
                if char == " ":
                    return i, i + 1
                if cut > start:
                    return cut, cut + 1
                if cut == start:  # multi_cell sets an empty text there: left to it
                    return None
                return (i, i) if i > start else None
            if char == " ":
                cut = i
            # multi_cell sets a no-break space as a space, and measures the line with that
            units += widths[" "] if char == NBSP else unit
        return (len(text) if units else -1), len(text)
