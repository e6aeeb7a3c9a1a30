"""The European Payments Council's QR code for a SEPA credit transfer (EPC069-12, version 002):
the text a banking app reads to fill in a transfer. Built here, drawn elsewhere (segno).

The payload is twelve elements, one a line (LF), in this order; trailing empty elements are left
out and the last one has no line end:

 1. service tag ``BCD``            5. BIC (8 or 11)          9. purpose code (empty here)
 2. version ``002``                6. beneficiary (<= 70)   10. structured reference (RF, <= 35)
 3. character set ``1`` (UTF-8)    7. IBAN (<= 34)          11. unstructured text (<= 140)
 4. identification ``SCT``         8. ``EUR`` + amount      12. information to the payer (empty)

The amount is in euro, 0.01 to 999999999.99, with a point and two decimals (``EUR1234.50``). A
structured reference and an unstructured text exclude each other. The whole payload is at most
331 bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal

from credit.domain import rf

SERVICE_TAG = "BCD"
VERSION = "002"
CHARSET_UTF8 = "1"
IDENTIFICATION = "SCT"
MAX_BYTES = 331
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")

_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")


class EpcError(ValueError):
    """The transfer cannot be put in an EPC QR code (the message says which element and why)."""


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def _one_line(value: str, element: str, limit: int) -> str:
    text = " ".join(value.split())
    if len(text) > limit:
        raise EpcError(f"{element}: {len(text)} characters, at most {limit}: {text!r}")
    return text


def _amount(amount: Decimal) -> str:
    if not amount.is_finite() or amount != amount.quantize(MIN_AMOUNT):
        raise EpcError(f"amount: {amount} has more than 2 decimals")
    if amount < MIN_AMOUNT or amount > MAX_AMOUNT:
        raise EpcError(f"amount: {amount} is outside {MIN_AMOUNT} to {MAX_AMOUNT} EUR")
    return f"EUR{amount.quantize(MIN_AMOUNT):f}"


def payload(
    *,
    bic: str,
    name: str,
    iban: str,
    amount: Decimal,
    reference: str = "",
    text: str = "",
) -> str:
    """The EPC069-12 payload of a SEPA credit transfer of ``amount`` euro to ``name`` (``iban``,
    ``bic``), with a structured ``reference`` (an RF creditor reference) or an unstructured
    ``text``, not both. Raises :class:`EpcError` on anything the standard does not allow."""
    bic, iban, reference = _compact(bic), _compact(iban), _compact(reference)
    if bic and not _BIC.fullmatch(bic):
        raise EpcError(f"BIC: {bic!r} is not 8 or 11 letters and digits")
    if not _IBAN.fullmatch(iban) or len(iban) > 34:
        raise EpcError(f"IBAN: {iban!r} is not an IBAN of at most 34 characters")
    name = _one_line(name, "beneficiary name", 70)
    if not name:
        raise EpcError("beneficiary name: empty")
    if reference and text.strip():
        raise EpcError("a structured reference and an unstructured text exclude each other")
    if reference and not rf.is_valid(reference):
        raise EpcError(f"structured reference: {reference!r} is not an RF creditor reference")
    elements = [
        SERVICE_TAG,
        VERSION,
        CHARSET_UTF8,
        IDENTIFICATION,
        bic,
        name,
        iban,
        _amount(amount),
        "",  # purpose
        reference,
        _one_line(text, "unstructured text", 140),
    ]
    while elements[-1] == "":
        elements.pop()
    result = "\n".join(elements)
    size = len(result.encode("utf-8"))
    if size > MAX_BYTES:
        raise EpcError(f"the payload is {size} bytes, at most {MAX_BYTES}")
    return result
