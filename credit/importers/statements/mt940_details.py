"""The information to the account owner of an MT940 entry (field ``:86:``), in the three shapes
banks write it:

- German banks (the DK's structure): ``166?00SEPA-GUTSCHRIFT?20EREF+...?21SVWZ+...?30BIC
  ?31IBAN?32NAME``: the transaction code (GVC), sub-fields ``?xx``; the purpose ``?20``-``?29``
  and ``?60``-``?63`` is one text cut into 27-character pieces (joined without spaces), carrying
  the SEPA keywords ``EREF+`` (end-to-end id), ``SVWZ+`` (remittance text) and others;
- keyword style (ING, ABN AMRO, Rabobank): ``/EREF/...//CNTP/IBAN/BIC/NAME/CITY//REMI/USTD//text/``
  with ``/IBAN/``, ``/NAME/``, ``/RTRN/`` (return reason), ``/OCMT/`` (original amount),
  ``/EXCH/`` (rate);
- free text: the lines joined with a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from credit.domain import rf

NOT_PROVIDED = "NOTPROVIDED"
_GERMAN = re.compile(r"([0-9]{3})\?[0-9]{2}")
_SUBFIELD = re.compile(r"\?([0-9]{2})")
_PURPOSE = [f"{n}" for n in range(20, 30)] + ["60", "61", "62", "63"]
_SEPA_KEY = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
_KEYS = (
    "EREF|KREF|MARF|CSID|CNTP|REMI|PURP|RTRN|ORDP|BENM|IREF|OCMT|EXCH|CHGS|NAME|IBAN|BIC|ADDR|"
    "TRTP|ULTC|ULTD|ULTB|SVCL|ISDT|BUSP|PREF"
)
_KEY = re.compile(rf"/({_KEYS})/")


@dataclass(frozen=True)
class Details:
    """What a ``:86:`` says; the payer's IBAN, the original amount and the rate as written
    (the caller checks them and says where they are wrong)."""

    text: str = ""
    structured: str | None = None
    end_to_end: str | None = None
    payer_name: str | None = None
    payer_iban: str | None = None
    gvc: str | None = None
    return_reason: str | None = None
    original_amount: str | None = None  # "USD12500,00"
    rate: str | None = None


def parse_details(raw: str) -> Details:
    """The :86: field's details (its lines as the file has them)."""
    lines = [line.rstrip("\r") for line in raw.splitlines()]
    joined = "".join(lines)  # banks cut the field into 65-character lines anywhere
    if _GERMAN.match(joined):
        return _german(joined)
    if joined.startswith("/") and _KEY.match(joined):
        return _keyed(joined)
    return Details(text=squeeze(" ".join(lines)))


def squeeze(text: str) -> str:
    return " ".join(text.split())


def _usable(ref: str | None) -> str | None:
    ref = (ref or "").strip()
    return ref if ref and ref.upper() != NOT_PROVIDED else None


def _rf_only(text: str) -> tuple[str | None, str]:
    """A remittance that is nothing but a creditor reference is the structured reference."""
    found = rf.find_all(text)
    if len(found) == 1 and rf.normalize(text) == found[0]:
        return found[0], ""
    return None, text


def _german(joined: str) -> Details:
    gvc = joined[:3]
    parts = _SUBFIELD.split(joined[3:])
    fields: dict[str, list[str]] = {}
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        fields.setdefault(code, []).append(value)
    purpose = "".join(v for code in _PURPOSE for v in fields.get(code, []))
    keyed = _sepa_keywords(purpose)
    text = squeeze(keyed.get("SVWZ", "") if keyed else purpose)
    structured, text = _rf_only(text)
    name = squeeze("".join(fields.get("32", []) + fields.get("33", [])))
    iban = "".join(fields.get("31", [])).strip()
    return Details(
        text=text,
        structured=structured,
        end_to_end=_usable(keyed.get("EREF")),
        payer_name=name or None,
        payer_iban=iban or None,
        gvc=gvc,
    )


def _sepa_keywords(purpose: str) -> dict[str, str]:
    """``EREF+x SVWZ+y`` -> {"EREF": "x", "SVWZ": "y"}; empty when the purpose has none."""
    if not _SEPA_KEY.match(purpose):
        return {}
    pieces = _SEPA_KEY.split(purpose)
    return {key: value.strip() for key, value in zip(pieces[1::2], pieces[2::2], strict=True)}


def _keyed(joined: str) -> Details:
    found: dict[str, str] = {}
    marks = list(_KEY.finditer(joined))
    for n, mark in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(joined)
        found.setdefault(mark.group(1), joined[mark.end() : end].strip("/ "))
    text, structured = _remi(found.get("REMI", ""))
    name, iban = found.get("NAME"), found.get("IBAN")
    if "CNTP" in found:
        cntp = found["CNTP"].split("/")
        iban = iban or (cntp[0] if cntp else None)
        name = name or (cntp[2] if len(cntp) > 2 else None)
    return Details(
        text=text,
        structured=structured,
        end_to_end=_usable(found.get("EREF")),
        payer_name=squeeze(name) if name else None,
        payer_iban=(iban or "").strip() or None,
        return_reason=found["RTRN"].split("/")[0] if found.get("RTRN") else None,
        original_amount=found["OCMT"].split("/")[0] if found.get("OCMT") else None,
        rate=found["EXCH"].split("/")[0] if found.get("EXCH") else None,
    )


def _remi(remi: str) -> tuple[str, str | None]:
    """``USTD//text`` (unstructured) or ``STRD/CUR/RF18...`` (a creditor reference)."""
    if remi.startswith("STRD/"):
        ref = remi.split("/")[-1].strip()
        return "", ref or None
    text = squeeze(remi.removeprefix("USTD").lstrip("/"))
    structured, text = _rf_only(text)
    return text, structured
