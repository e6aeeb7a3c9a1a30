"""The fonts of the PDF letters beyond the built-in Helvetica and Courier: DejaVu Sans (and Sans
Mono) for text beyond Windows-1252, a CJK font of the system for the characters DejaVu lacks,
each file parsed once in a process.

fpdf2's ``add_font`` parses the whole font file (fontTools: glyph table, metrics, character map)
for every document: 25 to 60 ms for each DejaVu style, about 0.4 s for a CJK font, for every
letter. :func:`add_font` gives a document a copy of a font parsed once (its metrics, character
map and glyph ids, which fpdf2 only reads) with the document's own use of it (the subset of
glyphs it shows, the glyphs it lacked) and its own fontTools object to subset when the PDF is
written (read lazily from the file's bytes, which fpdf2 changes in place); the PDF is the same,
byte for byte."""

from __future__ import annotations

import copy
import importlib.util
import io
import logging
from collections import Counter
from functools import cache
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

LOG = logging.getLogger("credit.notices.pdf")

# Fonts for the characters DejaVu lacks (CJK), where a system has one; the first found is used.
_FALLBACK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msjh.ttc",
)


class PdfError(RuntimeError):
    """A PDF cannot be made (its fonts are missing)."""


@cache
def font_files() -> dict[str, Path]:
    """DejaVu Sans (regular, bold) and DejaVu Sans Mono: matplotlib's copy, else the system's."""
    places = []
    spec = importlib.util.find_spec("matplotlib")
    for root in (spec.submodule_search_locations or []) if spec else []:
        places.append(Path(root) / "mpl-data" / "fonts" / "ttf")
    places.append(Path("/usr/share/fonts/truetype/dejavu"))
    names = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
    for place in places:
        if all((place / n).is_file() for n in names.values()):
            return {style: place / name for style, name in names.items()}
    raise PdfError(
        "letters are printed in DejaVu Sans, which was found neither in matplotlib's fonts nor in "
        "/usr/share/fonts/truetype/dejavu: reinstall matplotlib (pip install matplotlib)"
    )


@cache
def fallback_font() -> Path | None:
    """The system's CJK font, if it has one (said once in the log when it has none)."""
    found = next((Path(p) for p in _FALLBACK_FONTS if Path(p).is_file()), None)
    if found is None:
        LOG.info(
            "no CJK font found (%s): Chinese and Japanese text in PDF letters shows as empty "
            "boxes; install one, e.g. apt-get install fonts-noto-cjk",
            ", ".join(_FALLBACK_FONTS),
        )
    return found


def needs_fallback(*texts: object) -> bool:
    """Whether the texts hold characters DejaVu Sans lacks (CJK and beyond, from U+2E80)."""
    return any(ord(ch) >= 0x2E80 for text in texts for ch in str(text))


def add_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """``pdf.add_font(family, style, path)``, the file parsed once in the process."""
    parsed = _parsed(path, family, style)
    if parsed.color_font is not None:  # bound to the document it was made for
        pdf.add_font(family, style, str(path))
        return
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.ttfont = ttLib.TTFont(io.BytesIO(_data(path)), recalcTimestamp=False, lazy=True)
    pdf.fonts[font.fontkey] = font
    _ADDED.setdefault(path, 0)
    if font.is_cff and font.is_cid_keyed:  # as add_font does
        pdf.pdf_version = max(pdf.pdf_version, "1.6")


@cache
def _parsed(path: Path, family: str, style: str) -> TTFFont:
    scratch = FPDF()
    scratch.add_font(family, style, str(path))
    [font] = scratch.fonts.values()
    assert isinstance(font, TTFFont)
    return font


@cache
def _data(path: Path) -> bytes:
    return path.read_bytes()


# What most letters set in DejaVu use (Latin, IPA, Greek, Cyrillic, their extensions, punctuation,
# currency and letter-like signs, arrows, mathematical operators, geometric shapes): 2,500 of
# DejaVu Sans's 6,000 glyphs.
_COMMON = set(range(0x20, 0x530)) | set(range(0x1E00, 0x2300)) | set(range(0x25A0, 0x2600))


def before_output(font: object) -> None:
    """Before a document's PDF is written: a font from :func:`add_font` whose glyphs the
    document took all from the common ones is subset from a copy of the file cut down to those
    (made once in a process, from its third such document on, as fpdf2 would subset it, glyph
    names kept), half the cost of reading the whole file again."""
    if not isinstance(font, TTFFont) or Path(font.ttffile) not in _ADDED:
        return
    path = Path(font.ttffile)
    _ADDED[path] += 1
    if _ADDED[path] <= COPY_AFTER:  # a process making a letter or two: the copy costs more
        return
    names, data = _common(path)
    if names.issuperset(font.subset.get_all_glyph_names()):
        font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)


_ADDED: Counter[Path] = Counter()  # the DejaVu documents written, by font
COPY_AFTER = 2


@cache
def _common(path: Path) -> tuple[frozenset[str], bytes]:
    from fontTools import subset

    font = ttLib.TTFont(io.BytesIO(_data(path)), recalcTimestamp=False, lazy=True)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True)
    options.drop_tables += _DROPPED
    cut = subset.Subsetter(options)
    cut.populate(unicodes=_COMMON)
    cut.subset(font)
    out = io.BytesIO()
    font.save(out)
    return frozenset(font.getGlyphOrder()), out.getvalue()


# The tables fpdf2 drops when it subsets a font (fpdf.output.OutputProducer._add_fonts).
_DROPPED = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC"]
_DROPPED += ["EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR"]
