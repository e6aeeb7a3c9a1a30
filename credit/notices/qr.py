"""The EPC QR code of a letter: segno's symbol, the same modules ``segno.make`` gives, made in a
fifth of its time, and drawn as a PNG by Pillow.

segno picks the data mask the standard asks for (ISO/IEC 18004:2015 7.8.3: each of the eight
masks applied, the one of the lowest penalty kept), in pure Python, module by module: 7 of the
10 ms a code took. Here the code is made with mask 0 (segno, 2 ms), its data modules unmasked,
the eight masks scored at once with numpy by segno's own rules (the same scores, the same first
lowest mask: ``tests/unit/test_qr.py`` compares both on thousands of codes), and, if another mask
wins, its data modules masked with it and its format information written by segno's encoder
(where segno made the whole code again). Only the function patterns of a version (finders,
timing, alignment, the reserved format and version areas: what is not data) and the format
information are taken from segno's encoder module; the test compares every module with
``segno.make``'s.
"""

from __future__ import annotations

import io
from functools import cache, lru_cache
from typing import Any

import numpy as np
import segno

_N3 = np.array([1, 0, 1, 1, 1, 0, 1], dtype=np.uint8)  # 1:1:3:1:1, dark:light:dark:light:dark


def _make(payload: str, mask: int | None) -> segno.QRCode:
    """Byte mode in UTF-8, error correction level M (EPC069-12), never a Micro QR code."""
    return segno.make(
        payload,
        error="m",
        mode="byte",
        encoding="utf-8",
        micro=False,
        boost_error=False,
        mask=mask,
    )


@cache
def layout(size: int) -> tuple[Any, Any, Any]:
    """For a symbol of ``size`` modules a side: the function patterns as segno lays them out
    before the data (0 or 1 outside the data, 2 in it), where the data is, and the eight data
    masks (ISO/IEC 18004:2015 Table 10, row i and column j)."""
    from segno import encoder

    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    function = np.array(matrix, dtype=np.uint8)
    data = function > 1
    data[-8, 8] = False  # the dark module
    i, j = np.indices((size, size))
    masks = np.array(
        [
            (i + j) % 2 == 0,
            i % 2 == 0,
            j % 3 == 0,
            (i + j) % 3 == 0,
            (i // 2 + j // 3) % 2 == 0,
            (i * j) % 2 + (i * j) % 3 == 0,
            ((i * j) % 2 + (i * j) % 3) % 2 == 0,
            ((i + j) % 2 + (i * j) % 3) % 2 == 0,
        ]
    )
    return function, data, masks & data


def penalties(candidates: Any) -> list[int]:
    """segno's penalty score (``segno.encoder.evaluate_mask``) of each of the square 0/1
    matrices ``candidates`` (masks, rows, columns): N1 runs of five or more modules of one colour
    in a row or column, N2 2x2 blocks of one colour, N3 the 1:1:3:1:1 finder-like pattern with
    four light modules before or after it (segno's scan: after a counted pattern the search goes
    on behind it, after one not counted three modules on), N4 the dark share's distance from
    half."""
    size = candidates.shape[1]
    lines = np.concatenate([candidates, candidates.transpose(0, 2, 1)], axis=1)
    same = lines[:, :, 1:] == lines[:, :, :-1]
    five = same[:, :, :-3] & same[:, :, 1:-2] & same[:, :, 2:-1] & same[:, :, 3:]
    starts = five.copy()
    starts[:, :, 1:] &= ~five[:, :, :-1]
    n1 = five.sum(axis=(1, 2)) + 2 * starts.sum(axis=(1, 2))
    top = candidates[:, 1:, 1:]
    n2 = 3 * (
        (top == candidates[:, 1:, :-1])
        & (top == candidates[:, :-1, 1:])
        & (top == candidates[:, :-1, :-1])
    ).sum(axis=(1, 2))
    # N3: where the pattern starts (its seven modules read as a binary number), whether segno
    # counts it there (four light modules before or after it, or at a line's end), and segno's
    # scan, which skips a pattern that overlaps a counted one (four or six modules on): only
    # such lines (rare) are scanned one by one.
    code = np.zeros((*lines.shape[:2], size - 6), dtype=np.uint8)
    for k in range(7):
        code = (code << 1) | lines[:, :, k : k + size - 6]
    found = code == 0b1011101
    dark = np.zeros((*lines.shape[:2], size + 1), dtype=np.int16)
    np.cumsum(lines, axis=2, out=dark[:, :, 1:])
    at = np.arange(size - 6)
    before = dark[:, :, at] - dark[:, :, np.maximum(at - 4, 0)]
    after = dark[:, :, np.minimum(at + 11, size)] - dark[:, :, at + 7]
    edge = (at == 0) | (at == size - 7)
    counted = found & (edge | (before == 0) | (after == 0))
    n3 = 40 * counted.sum(axis=(1, 2))
    overlap = (found[:, :, 4:] & counted[:, :, :-4]).any(axis=2)
    overlap |= (found[:, :, 6:] & counted[:, :, :-6]).any(axis=2)
    for m, line in zip(*np.nonzero(overlap), strict=True):
        resume, seen = 0, 0
        for start in np.flatnonzero(found[m, line]).tolist():
            if start >= resume:
                seen += 40 if counted[m, line, start] else 0
                resume = start + (7 if counted[m, line, start] else 4)
        n3[m] += seen - 40 * int(counted[m, line].sum())
    area = size**2
    n4 = [10 * int(abs(float(d) / area * 100 - 50) / 5) for d in candidates.sum(axis=(1, 2))]
    return [int(a) + int(b) + int(c) + d for a, b, c, d in zip(n1, n2, n3, n4, strict=True)]


def epc_matrix(payload: str) -> Any:
    """The modules (rows of 0 and 1, numpy) of ``segno.make(payload, error="m", mode="byte",
    encoding="utf-8", micro=False, boost_error=False)``: the same symbol, sooner. segno makes it
    with mask 0; if another mask wins, its data modules are masked here and its format
    information written by segno's encoder (the version information does not depend on it)."""
    from segno import consts, encoder

    first = _make(payload, 0)
    size = first.symbol_size(border=0)[0]
    function, data, masks = layout(size)
    symbol = np.array(first.matrix, dtype=np.uint8)
    plain = symbol ^ masks[0]  # the data unmasked
    candidates = np.where(data, plain ^ masks, function)
    scores = penalties(candidates)
    best = scores.index(min(scores))
    if best == 0:
        return symbol
    rows = [bytearray(row) for row in np.where(data, plain ^ masks[best], symbol).tolist()]
    encoder.add_format_info(rows, first.version, consts.ERROR_LEVEL_M, best)
    return np.array(rows, dtype=np.uint8)


@lru_cache(maxsize=8)
def qr_png(payload: str) -> bytes:
    """The QR code of ``payload`` as a 1-bit PNG, six pixels a module, a quiet zone of four:
    the pixels of segno's ``save(kind="png", scale=6, border=4)``. A letter's PDF and its e-mail
    show the same code: the second asks for it again (cached)."""
    from PIL import Image

    light = np.pad(epc_matrix(payload) == 0, 4, constant_values=True)
    pixels = np.repeat(np.repeat(light, 6, axis=0), 6, axis=1)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
