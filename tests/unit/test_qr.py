"""The letters' EPC QR code is segno's own symbol: the same modules and data mask as
``segno.make`` (whose mask search credit.notices.qr replaces), the same penalty for each of the
eight masks, the PNG has the pixels of segno's PNG, and the letter's PDF draws its modules as rectangles."""

from __future__ import annotations

import io
import random
import string
from datetime import UTC, datetime

import numpy as np
import segno
from PIL import Image
from segno import encoder

from credit.notices import qr


def payloads(count: int, seed: int = 1) -> list[str]:
    """EPC069-12 transfers (names with umlauts and Polish letters, amounts, references) and
    random text of 1 to 330 characters (QR versions 1 to 13, the version-information area
    from version 7 on)."""
    rnd = random.Random(seed)
    found = []
    for n in range(count):
        if n % 3:
            name = "".join(
                rnd.choice(string.ascii_letters + " äöüßŁłż&.-") for _ in range(rnd.randint(3, 70))
            )
            reference = "RF18" + "".join(
                rnd.choice(string.ascii_uppercase + string.digits)
                for _ in range(rnd.randint(5, 21))
            )
            amount = f"EUR{rnd.randint(1, 99_999_999) / 100:.2f}"
            found.append(
                "\n".join(
                    ["BCD", "002", "1", "SCT", "COBADEFFXXX", name, "DE89370400440532013000"]
                    + [amount, "", reference]
                )
            )
        else:
            alphabet = string.printable + "äöü€中文"
            found.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 330))))
    return found


def segno_code(payload: str) -> segno.QRCode:
    return segno.make(
        payload, error="m", mode="byte", encoding="utf-8", micro=False, boost_error=False
    )


def test_the_code_is_segnos_symbol_with_segnos_mask():
    for payload in payloads(150):
        mine, theirs = qr.epc_matrix(payload), segno_code(payload)
        assert mine.tolist() == [list(row) for row in theirs.matrix], payload


def test_each_masks_penalty_is_segnos():
    for payload in payloads(30, seed=2):
        first = segno.make(payload, error="m", mode="byte", micro=False, mask=0)
        size = first.symbol_size(border=0)[0]
        function, data, masks = qr.layout(size)
        plain = np.array(first.matrix, dtype=np.uint8) ^ masks[0]
        candidates = np.where(data, plain ^ masks, function)
        theirs = [
            encoder.evaluate_mask(tuple(bytearray(row) for row in c.tolist()), size, size)
            for c in candidates
        ]
        assert qr.penalties(candidates) == theirs


def test_the_png_has_the_pixels_of_segnos_png():
    for payload in payloads(10, seed=3):
        theirs = io.BytesIO()
        segno_code(payload).save(theirs, kind="png", scale=6, border=4)
        mine = Image.open(io.BytesIO(qr.qr_png(payload)))
        expected = Image.open(theirs)
        assert mine.size == expected.size
        assert mine.convert("L").tobytes() == expected.convert("L").tobytes()


def test_every_length_and_version_is_segnos_symbol():
    """Payloads of the lengths a transfer can have (1 to 331 bytes, one and several bytes a
    character; those around each version's capacity), and one payload for versions up to 40 (the remainder bits, the blocks of two
    sizes, the version information)."""
    rnd = random.Random(4)
    alphabet = "ab01 \n.-äö€中"
    # around each version's capacity (no terminator, a short one, no pad codeword), and between
    edges = set()
    for version in range(1, 14):
        bits = segno.consts.SYMBOL_CAPACITY[version][segno.consts.ERROR_LEVEL_M]
        bits -= 12 if version < 10 else 20  # the mode and count indicators
        edges |= {bits // 8 - 1, bits // 8, bits // 8 + 1}
    for length in sorted(edges | set(range(1, 332, 9))):
        payload = ""
        while len(payload.encode()) < length - 3:
            payload += rnd.choice(alphabet)
        payload += "a" * (length - len(payload.encode()))  # exactly ``length`` bytes
        assert qr.epc_matrix(payload).tolist() == [list(r) for r in segno_code(payload).matrix]
    for version in (14, 21, 27, 35, 40):
        capacity = segno.consts.SYMBOL_CAPACITY[version][segno.consts.ERROR_LEVEL_M] // 8 - 3
        payload = "".join(rnd.choice(string.printable) for _ in range(capacity))
        theirs = segno_code(payload)
        assert theirs.version == version
        assert qr.epc_matrix(payload).tolist() == [list(r) for r in theirs.matrix], version


def test_penalties_of_any_matrix_are_segnos():
    """Random matrices of several sizes and dark shares (runs, blocks, finder-like patterns near
    the edges and overlapping ones arise by chance), scored by segno one by one."""
    rng = np.random.default_rng(3)
    for size in (21, 25, 45, 57):
        for _ in range(5):
            candidates = (rng.random((8, size, size)) < rng.uniform(0.2, 0.8)).astype(np.uint8)
            theirs = [
                encoder.evaluate_mask(tuple(bytearray(r) for r in c.tolist()), size, size)
                for c in candidates
            ]
            assert qr.penalties(candidates) == theirs, size


def drawn_modules(pdf: bytes) -> tuple[np.ndarray, float, tuple[float, float]]:
    """The QR code a PDF's first page draws as rectangles, read back module by module (1:
    dark), the side in mm of its square with the quiet zone of four modules, and where its
    first module's top left corner is (points from the page's bottom left). The finder
    patterns put dark modules in the first row and column and in the last column."""
    import re

    from pypdf import PdfReader

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    stream = page.get_contents().get_data().decode("latin-1")
    block = stream[stream.index("q 0 g\n") : stream.index("\nf Q")]
    rects = [tuple(map(float, r)) for r in re.findall(r"(\S+) (\S+) (\S+) (\S+) re", block)]
    unit = rects[0][3]
    left = min(r[0] for r in rects)
    top = max(r[1] for r in rects) + unit
    n = round((max(r[0] + r[2] for r in rects) - left) / unit)
    drawn = np.zeros((n, n), dtype=np.uint8)
    for rx, ry, w, h in rects:
        assert h == unit
        row, first = round((top - ry) / unit) - 1, round((rx - left) / unit)
        assert drawn[row, first : first + round(w / unit)].sum() == 0, "drawn twice"
        drawn[row, first : first + round(w / unit)] = 1
    return drawn, (n + 8) * unit / (72 / 25.4), (left, top)


def test_the_letter_draws_segnos_modules_as_rectangles():
    """The letter draws the code as vectors: each dark module of segno's symbol is covered by
    exactly one rectangle of the path, no light module by any, in the 36 mm square."""
    from credit.notices.pdf import Document

    for payload in payloads(12, seed=5):
        doc = Document(
            company={"name": "Muster GmbH"},
            locale="de",
            title="QR",
            created=datetime(2026, 12, 1, tzinfo=UTC),
            builtin=True,
        )
        doc.add_page()
        doc.qr_code(qr.epc_matrix(payload), x=150, y=200, size=36)
        expected = np.array(segno_code(payload).matrix, dtype=np.uint8)
        drawn, side, (left, top) = drawn_modules(doc.render())
        assert drawn.shape == expected.shape and (drawn == expected).all()
        assert abs(side - 36) < 0.2
        # inside the quiet zone of four modules of the square at (150, 200) mm from the top left
        k, module = 72 / 25.4, 36 / (expected.shape[0] + 8)
        assert abs(left - (150 + 4 * module) * k) < 0.01
        assert abs(top - (297 - 200 - 4 * module) * k) < 0.01
