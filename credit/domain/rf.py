"""ISO 11649 structured creditor references (``RF`` + two check digits + up to 21 letters or
digits): the reference a letter asks the customer to quote, which comes back on the bank
statement. Checked like an IBAN: letters become numbers (A=10 ... Z=35), ``RF00`` moves to the
end, and the whole number modulo 97 must be 1."""

from __future__ import annotations

import re

_BODY = re.compile(r"[A-Z0-9]{1,21}")
_RF = re.compile(r"RF[0-9]{2}[A-Z0-9]{1,21}")
# Where an RF may hide in free text: "RF18 5390 0754 7034", "rf18539007547034".
_IN_TEXT = re.compile(
    r"\bRF ?[0-9]{2}(?:[A-Z0-9]{1,21}\b|(?: [A-Z0-9]{4})*(?: [A-Z0-9]{1,4})?\b)", re.IGNORECASE
)


def _numeric(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def normalize(text: str) -> str:
    """Upper case without spaces (how references are printed in groups of four)."""
    return re.sub(r"\s+", "", text).upper()


def make(body: str) -> str:
    """The RF reference for ``body`` (1-21 letters or digits; spaces and case ignored)."""
    body = normalize(body)
    if not _BODY.fullmatch(body):
        raise ValueError(f"an RF reference body is 1-21 letters or digits, not {body!r}")
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def is_valid(text: str) -> bool:
    """Whether ``text`` is a well-formed RF reference whose check digits are right."""
    ref = normalize(text)
    if not _RF.fullmatch(ref):
        return False
    return _numeric(ref[4:] + ref[:4]) % 97 == 1


def grouped(ref: str) -> str:
    """Printed in groups of four: ``RF18 5390 0754 7034``."""
    ref = normalize(ref)
    return " ".join(ref[i : i + 4] for i in range(0, len(ref), 4))


def find_all(text: str) -> list[str]:
    """Every RF-shaped reference in free text, normalized (valid or not: the caller checks and
    says why one was not used)."""
    found = []
    for m in _IN_TEXT.finditer(text):
        groups = m.group(0).split(" ")
        # Printed in groups, a word after it may look like one more group: the longest run of
        # groups that checks is the reference; none checks, the whole run (reported as wrong).
        candidates = [normalize("".join(groups[:n])) for n in range(len(groups), 0, -1)]
        found.append(next((c for c in candidates if is_valid(c)), candidates[0]))
    return found


def strip_all(text: str) -> str:
    """``text`` with every RF-shaped reference blanked out (so that the digits of a reference
    are not read as an invoice number)."""
    return _IN_TEXT.sub(" ", text)
