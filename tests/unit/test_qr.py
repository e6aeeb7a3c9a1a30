"""The letters' EPC QR code is segno's own symbol: the same modules and data mask as
``segno.make`` (whose mask search credit.notices.qr replaces), the same penalty for each of the
eight masks, and the PNG has the pixels of segno's PNG."""

from __future__ import annotations

import io
import random
import string

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
