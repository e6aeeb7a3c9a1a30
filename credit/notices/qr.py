"""The EPC QR code of a letter: segno's symbol, the same modules ``segno.make`` gives, made in a
quarter of its time: written as a PNG for the e-mail, and drawn as vectors in the letter's PDF
(:meth:`credit.notices.pdf.Document.qr_code`).

segno makes a code in pure Python, module by module: the Reed-Solomon division, the placement of
each bit, and the eight data masks (ISO/IEC 18004:2015 7.8.3: each applied, the one of the lowest
penalty kept), about 10 ms a code. Here the message is segno's (its version, bit stream, pad
codewords and blocks, read from segno's tables), its error correction codewords are a sum of
precomputed remainders (the code is linear), its bits are placed in segno's order (made once per
version), the eight masks are scored at once with numpy by segno's own rules, and the winner gets
segno's format and version information. ``tests/unit/test_qr.py`` compares every module with
``segno.make``'s and every mask's penalty with segno's.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache, lru_cache
from itertools import zip_longest
from typing import Any

import numpy as np


def _patterns(size: int) -> Any:
    """segno's matrix of a symbol before its data: timing pattern, finders, alignment patterns,
    the format and version areas reserved (0 or 1), 2 where data goes."""
    from segno import encoder

    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    return matrix


@cache
def layout(size: int) -> tuple[Any, Any, Any]:
    """For a symbol of ``size`` modules a side: the function patterns as segno lays them out
    before the data (0 or 1 outside the data, 2 in it), where the data is, and the eight data
    masks (ISO/IEC 18004:2015 Table 10, row i and column j)."""

    matrix = _patterns(size)
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
    lines = np.concatenate([candidates, candidates.transpose(0, 2, 1)], axis=1).astype(bool)
    same = lines[:, :, 1:] == lines[:, :, :-1]
    pairs = same[:, :, :-1] & same[:, :, 1:]
    five = pairs[:, :, :-2] & pairs[:, :, 2:]
    starts = five[:, :, 1:] & ~five[:, :, :-1]
    n1 = (
        3 * five[:, :, 0].sum(axis=1)
        + five[:, :, 1:].sum(axis=(1, 2))
        + 2 * starts.sum(axis=(1, 2))
    )
    top = candidates[:, 1:, 1:]
    n2 = 3 * (
        (top == candidates[:, 1:, :-1])
        & (top == candidates[:, :-1, 1:])
        & (top == candidates[:, :-1, :-1])
    ).sum(axis=(1, 2))
    # N3: where the pattern starts, whether segno counts it there (four light modules before
    # or after it, fewer at a line's end: the lines are read with four light modules added at
    # each end), and segno's scan, which skips a pattern that overlaps a counted one (four or
    # six modules on): only such lines (rare) are scanned one by one.
    dark = np.zeros((*lines.shape[:2], size + 8), dtype=bool)
    dark[:, :, 4:-4] = lines
    light = ~dark
    width = size - 6

    def run(of: Any, start: int) -> Any:
        return of[:, :, start : start + width]

    found = run(dark, 4) & run(light, 5) & run(dark, 6) & run(dark, 7)
    found &= run(dark, 8) & run(light, 9) & run(dark, 10)
    two = light[:, :, :-1] & light[:, :, 1:]
    four = two[:, :, :-2] & two[:, :, 2:]  # four light modules from here
    counted = found & (run(four, 0) | run(four, 11))
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


@lru_cache(maxsize=8)
def epc_matrix(payload: str) -> Any:
    """The modules (rows of 0 and 1, numpy) of ``segno.make(payload, error="m", mode="byte",
    encoding="utf-8", micro=False, boost_error=False)``: the same symbol, sooner. The codewords
    are segno's (its version, bit stream, pad codewords, blocks and Reed-Solomon code), placed
    where segno places them; the eight masks are scored at once, and the winner's format and
    version information are segno's own."""
    version, bits = _message(payload.encode("utf-8"))
    size = version * 4 + 17
    function, data, masks = layout(size)
    flat = np.zeros(size * size, dtype=np.uint8)
    flat[_placement(size)] = bits
    plain = flat.reshape(size, size)
    candidates = np.where(data, plain ^ masks, function)
    scores = penalties(candidates)
    best = scores.index(min(scores))
    modules = np.where(data, candidates[best], _finished(version, best))
    # A letter's PDF and its e-mail's PNG show the same code: the second takes it from the cache.
    modules.flags.writeable = False
    return modules


def _message(data: bytes) -> tuple[int, Any]:
    """segno's final message for ``data`` in byte mode at level M (ISO/IEC 18004:2015 7.4 to
    7.6): the smallest version it fits, mode and count indicators, the data, the terminator,
    padding and pad codewords, then the blocks' data and error correction codewords
    interleaved, and the remainder bits, as bits."""
    from segno import consts

    count_lengths: Any = consts.CHAR_COUNT_INDICATOR_LENGTH
    capacities: Any = consts.SYMBOL_CAPACITY
    blocks_of: Any = consts.ECC
    count = len(data)
    for version in range(1, 41):
        count_bits = count_lengths[consts.MODE_BYTE][
            1 if version < 10 else 2 if version < 27 else 3
        ]
        capacity = capacities[version][consts.ERROR_LEVEL_M]
        if 4 + count_bits + 8 * count <= capacity:
            break
    else:
        raise ValueError(f"{count} bytes do not fit in a QR code at level M")
    length = 4 + count_bits + 8 * count
    stream = (consts.MODE_BYTE << count_bits | count) << 8 * count | int.from_bytes(data, "big")
    terminator = min(capacity - length, 4)
    stream <<= terminator
    length += terminator
    stream <<= 8 - length % 8  # segno pads a whole byte when the stream ends on one,
    length += 8 - length % 8  # and drops it if the capacity is reached
    words = list(stream.to_bytes(length // 8, "big"))[: capacity // 8]
    words += [0xEC, 0x11] * ((capacity // 8 - len(words)) // 2 + 1)
    words = words[: capacity // 8]
    data_blocks, error_blocks = [], []
    at = 0
    for info in blocks_of[version][consts.ERROR_LEVEL_M]:
        blocks = np.array(
            [
                words[at + n * info.num_data : at + (n + 1) * info.num_data]
                for n in range(info.num_blocks)
            ],
            dtype=np.int32,
        )
        at += info.num_blocks * info.num_data
        data_blocks += blocks.tolist()
        error_blocks += _error_codewords(blocks, info.num_total - info.num_data).tolist()
    final = [w for column in zip_longest(*data_blocks) for w in column if w is not None]
    final += [w for column in zip_longest(*error_blocks) for w in column if w is not None]
    bits = np.unpackbits(np.array(final, dtype=np.uint8))
    remainder = _REMAINDER.get(version, 0)
    return version, np.concatenate([bits, np.zeros(remainder, dtype=np.uint8)])


_REMAINDER = {
    **dict.fromkeys((2, 3, 4, 5, 6), 7),
    **dict.fromkeys((14, 15, 16, 17, 18, 19, 20, 28, 29, 30, 31, 32, 33, 34), 3),
    **dict.fromkeys((21, 22, 23, 24, 25, 26, 27), 4),
}


def _error_codewords(blocks: Any, count: int) -> Any:
    """The Reed-Solomon codewords of each row of ``blocks`` (segno's generator polynomials, the
    field of ISO/IEC 18004): the remainder is linear in the data, so it is the sum (XOR) of each
    data codeword times the remainder of its position, made once per block shape."""
    exp, log_rows = _remainders(blocks.shape[1], count)
    logs = _LOG[blocks]
    terms = exp[(logs[:, :, None] + log_rows[None, :, :]) % 255]
    terms[(blocks == 0)[:, :, None] | (log_rows < 0)[None, :, :]] = 0
    return np.bitwise_xor.reduce(terms, axis=1)


def _gf_log() -> Any:
    from segno import consts

    return np.array(consts.GALIOS_LOG, dtype=np.int32)


_LOG = _gf_log()


@cache
def _remainders(length: int, count: int) -> tuple[Any, Any]:
    """For data of ``length`` codewords and ``count`` error codewords: the field's exponents
    and the logarithm of each data position's remainder (-1 where a coefficient is 0), by
    segno's own division (``segno.encoder.make_blocks``)."""
    from segno import consts

    gen_log, gen_exp = consts.GALIOS_LOG, consts.GALIOS_EXP
    gen = consts.GEN_POLY[count]
    rows = []
    for position in range(length):
        block = bytearray(length + count)
        block[position] = 1
        for k in range(length):
            coef = block[k]
            if coef:
                lcoef = gen_log[coef]
                for n in range(count):
                    block[k + n + 1] ^= gen_exp[lcoef + gen[n]]
        rows.append([gen_log[c] if c else -1 for c in block[length:]])
    exp = np.array(gen_exp[:255], dtype=np.uint8)
    return exp, np.array(rows, dtype=np.int32)


@cache
def _placement(size: int) -> Any:
    """The flat indices of a symbol's data modules in the order segno places the message's bits
    (``segno.encoder.add_codewords``: two-module columns from the right, up and down)."""

    matrix = _patterns(size)
    order = []
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        for vertical in range(size):
            for z in range(2):
                j = right - z
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = (size - 1 - vertical) if upwards else vertical
                if matrix[i][j] == 2:
                    order.append(i * size + j)
    return np.array(order, dtype=np.intp)


@cache
def _finished(version: int, mask: int) -> Any:
    """What is not data in a finished symbol of ``version`` with ``mask``: the function
    patterns, segno's format information for level M and the mask, the dark module and the
    version information."""
    from segno import consts, encoder

    size = version * 4 + 17
    matrix = _patterns(size)
    encoder.add_format_info(matrix, version, consts.ERROR_LEVEL_M, mask)
    encoder.add_version_info(matrix, version)
    return np.array(matrix, dtype=np.uint8)


@lru_cache(maxsize=8)
def qr_png(payload: str) -> bytes:
    """The QR code of ``payload`` as a 1-bit greyscale PNG for the e-mail: the pixels of segno's
    ``save(kind="png", scale=6, border=4)`` (six a module, a quiet zone of four, 1 where light),
    written directly: each module row's first pixel row unfiltered, the five that repeat it
    with PNG's "Up" filter (all zeros), then deflated. A third of what Pillow's encoder takes."""
    light = np.pad(epc_matrix(payload) == 0, 4, constant_values=True)
    scale = 6
    packed = np.packbits(np.repeat(light, scale, axis=1), axis=1)  # one row a module row
    width = light.shape[1] * scale
    rows = np.zeros((light.shape[0], scale, packed.shape[1] + 1), dtype=np.uint8)
    rows[:, 0, 1:] = packed  # filter 0 (None), the row as it is
    rows[:, 1:, 0] = 2  # filter 2 (Up): the row above, unchanged
    image = zlib.compress(rows.tobytes())
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", image) + _chunk(b"IEND")


def _chunk(kind: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
