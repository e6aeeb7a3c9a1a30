"""The fonts of the PDF letters beyond the built-in Helvetica and Courier: DejaVu Sans (and Sans
Mono) for text beyond Windows-1252, a CJK font of the system for the characters DejaVu lacks,
each file parsed once in a process.

fpdf2's ``add_font`` parses the whole font file (fontTools: glyph table, metrics, character map)
for every document: 25 to 60 ms for each DejaVu style, about 0.4 s for a CJK font, for every
letter. :func:`add_font` gives a document a copy of a font parsed once (its metrics, character
map and glyph ids, which fpdf2 only reads) with the document's own use of it (the subset of
glyphs it shows, the glyphs it lacked) and its own fontTools object to subset when the PDF is
written (read lazily from the file's bytes, which fpdf2 changes in place). When the PDF is
written, :func:`before_output` gives DejaVu a subset shared by many letters where it can (the
same glyph at every character code as fpdf2's own subset, more glyphs in the file)."""

from __future__ import annotations

import copy
import importlib.util
import io
import logging
import threading
from collections import Counter, OrderedDict
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf import output as fpdf_output
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
    # fontNumber: the first font of a collection (.ttc), as add_font reads it; ignored otherwise
    font.ttfont = ttLib.TTFont(
        io.BytesIO(_data(path)), recalcTimestamp=False, lazy=True, fontNumber=0
    )
    pdf.fonts[font.fontkey] = font
    if path in font_files().values():  # DejaVu (TrueType): a system's CJK font is left to fpdf2
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
    """Before a document's PDF is written, for a font from :func:`add_font`, from the process's
    third such document on (a process making a letter or two would pay more than it saves):

    - most letters draw from a few Unicode blocks (Basic Latin, Latin-1 and, say, Latin
      Extended-A for a Polish name, or Cyrillic): such a letter embeds the subset of those whole
      blocks, made once in a process per set of blocks (:func:`_block_subset`), where fpdf2 would
      subset the font again for every letter (20 to 40 ms a style). The letter shows the same
      glyphs at the same places; its font files hold more glyphs than it uses (its PDF is 7 to
      16 KB larger: no hinting, which PDF viewers do without);
    - else, a document whose glyphs are all common ones is subset from a copy of the file cut
      down to those (:func:`_common`), half the cost of reading the whole file again."""
    if not isinstance(font, TTFFont) or Path(font.ttffile) not in _ADDED:
        return
    path = Path(font.ttffile)
    _ADDED[path] += 1
    if _ADDED[path] <= COPY_AFTER:
        return
    used = font.subset.get_all_glyph_names()
    blocks = set(_BASE_BLOCKS)
    for glyph, _ in font.subset.items():
        codes = () if glyph is None else glyph.unicode
        blocks.update(code >> 7 for code in (codes if isinstance(codes, tuple) else (codes,)))
    if len(blocks) <= MAX_BLOCKS:
        shared = _block_subset(path, frozenset(blocks))
        if shared.ids.keys() >= set(used):
            font.ttfont = shared
            _remember(shared)
            return
    names, data = _common(path)
    if names.issuperset(used):
        font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)


_BASE_BLOCKS = frozenset({0})  # U+0000-U+007F: Basic Latin (blocks of 128 code points)
MAX_BLOCKS = 6  # beyond, a letter's font is subset for it alone (its file would grow too much)


class SharedSubset:
    """A font subset made once for many documents, in the place of the fontTools font fpdf2
    subsets and saves for each (:class:`_Subsetter` leaves it as it is): the bytes to embed and
    each glyph's id in them."""

    def __init__(self, data: bytes, ids: dict[str, int]) -> None:
        self.data, self.ids = data, ids

    def getGlyphID(self, name: str) -> int:  # noqa: N802  # fontTools' name, as fpdf2 calls it
        return self.ids[name]

    def save(self, file: io.BytesIO) -> None:
        file.write(self.data)

    def __contains__(self, tag: str) -> bool:  # fpdf2 asks for "CFF " (a TrueType font has none)
        return False

    def close(self) -> None:  # fpdf2 closes a document's fonts; this one is shared
        pass


@lru_cache(maxsize=64)
def _block_subset(path: Path, blocks: frozenset[int]) -> SharedSubset:
    """The subset fpdf2 would make of the font for every glyph of these blocks."""
    font = ttLib.TTFont(io.BytesIO(_data(path)), recalcTimestamp=False, lazy=True)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, hinting=False)
    options.drop_tables += _DROPPED
    cut = ftsubset.Subsetter(options)
    cut.populate(unicodes=[code for block in blocks for code in range(block << 7, block + 1 << 7)])
    cut.subset(font)
    out = io.BytesIO()
    font.save(out)
    return SharedSubset(out.getvalue(), {name: i for i, name in enumerate(font.getGlyphOrder())})


class _Subsetter(ftsubset.Subsetter):
    """fontTools' subsetter, which leaves a :class:`SharedSubset` as it is: it is the subset."""

    def subset(self, font: Any) -> None:
        if not isinstance(font, SharedSubset):
            super().subset(font)


class _SubsetModule:
    """``fontTools.subset`` as fpdf2's output sees it: the same, but for :class:`_Subsetter`."""

    Subsetter = _Subsetter

    def __getattr__(self, name: str) -> Any:
        return getattr(ftsubset, name)


fpdf_output.ftsubset = _SubsetModule()


class _FontStream(fpdf_output.PDFFontStream):
    """fpdf2's embedded font file, deflated once per process for a :class:`SharedSubset`
    (every letter in its blocks embeds the same bytes; deflating them took 1 to 2 ms a style
    and letter). The same stream, byte for byte."""

    def __init__(self, contents: bytes) -> None:
        with _LOCK:
            shared = contents in _PACKED
            packed = _PACKED.get(contents)
        if packed is None:
            super().__init__(contents)
            if shared:
                with _LOCK:
                    if contents in _PACKED:
                        _PACKED[contents] = self._contents
            return
        fpdf_output.PDFObject.__init__(self)
        self._contents = packed
        self.filter = fpdf_output.Name("FlateDecode")
        self.length = len(packed)
        self.length1 = len(contents)


fpdf_output.PDFFontStream = _FontStream  # type: ignore[misc]
_LOCK = threading.Lock()  # a served process makes letters in several threads
_KEPT = 64  # as many subsets as _block_subset keeps
# The shared subsets last used (their bytes), each with its deflated bytes once made.
_PACKED: OrderedDict[bytes, bytes | None] = OrderedDict()


def _remember(shared: SharedSubset) -> None:
    """``shared`` is embedded in a letter being written: its deflated bytes are kept."""
    with _LOCK:
        _PACKED.setdefault(shared.data)
        _PACKED.move_to_end(shared.data)
        while len(_PACKED) > _KEPT:
            _PACKED.popitem(last=False)


_ADDED: Counter[Path] = Counter()  # the DejaVu documents written, by font
COPY_AFTER = 2


@cache
def _common(path: Path) -> tuple[frozenset[str], bytes]:
    font = ttLib.TTFont(io.BytesIO(_data(path)), recalcTimestamp=False, lazy=True)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True)
    options.drop_tables += _DROPPED
    cut = ftsubset.Subsetter(options)
    cut.populate(unicodes=_COMMON)
    cut.subset(font)
    out = io.BytesIO()
    font.save(out)
    return frozenset(font.getGlyphOrder()), out.getvalue()


# The tables fpdf2 drops when it subsets a font (fpdf.output.OutputProducer._add_fonts).
_DROPPED = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC"]
_DROPPED += ["EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR"]
