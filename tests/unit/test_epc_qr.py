"""The EPC QR payload (EPC069-12, version 002) a EUR letter's QR code carries, element by element."""

from __future__ import annotations

from decimal import Decimal

import pytest

from credit.domain import epc_qr
from credit.domain.epc_qr import EpcError

TRANSFER = {
    "bic": "COBADEFFXXX",
    "name": "Testfirma Nord GmbH",
    "iban": "DE89 3704 0044 0532 0130 00",
    "amount": Decimal("1234.50"),
}


def test_a_transfer_with_a_creditor_reference_gives_the_exact_epc069_12_payload():
    payload = epc_qr.payload(**TRANSFER, reference="RF18 5390 0754 7034")
    assert payload == (
        "BCD\n002\n1\nSCT\nCOBADEFFXXX\nTestfirma Nord GmbH\nDE89370400440532013000\n"
        "EUR1234.50\n\nRF18539007547034"
    )


def test_the_elements_are_in_the_standards_order():
    lines = epc_qr.payload(**TRANSFER, reference="RF18539007547034").split("\n")
    service, version, charset, ident, bic, name, iban, amount, purpose, ref = lines
    assert (service, version, charset, ident) == ("BCD", "002", "1", "SCT")
    assert (bic, name, iban) == ("COBADEFFXXX", "Testfirma Nord GmbH", "DE89370400440532013000")
    assert (amount, purpose, ref) == ("EUR1234.50", "", "RF18539007547034")


def test_an_unstructured_text_takes_the_eleventh_line_and_the_reference_stays_empty():
    payload = epc_qr.payload(**TRANSFER, text="Invoices INV-1 and INV-2")
    assert payload.split("\n")[8:] == ["", "", "Invoices INV-1 and INV-2"]


def test_the_amount_always_has_two_decimals():
    assert epc_qr.payload(**{**TRANSFER, "amount": Decimal("12")}).endswith("EUR12.00")
    assert epc_qr.payload(**{**TRANSFER, "amount": Decimal("0.01")}).endswith("EUR0.01")
    top = epc_qr.payload(**{**TRANSFER, "amount": Decimal("999999999.99")})
    assert top.endswith("EUR999999999.99")


def test_nothing_follows_the_last_element():
    assert not epc_qr.payload(**TRANSFER).endswith("\n")
    assert epc_qr.payload(**TRANSFER).count("\n") == 7


def test_a_name_in_another_script_is_utf8_and_counted_in_bytes():
    payload = epc_qr.payload(
        **{**TRANSFER, "name": "Müller & Söhne 東京"}, reference="RF18539007547034"
    )
    assert "Müller & Söhne 東京" in payload
    assert len(payload.encode("utf-8")) <= epc_qr.MAX_BYTES


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": Decimal("0.00")}, "amount: 0.00 is outside"),
        ({"amount": Decimal("-5")}, "is outside"),
        ({"amount": Decimal("1000000000.00")}, "is outside"),
        ({"amount": Decimal("1.234")}, "more than 2 decimals"),
        ({"name": "N" * 71}, "beneficiary name: 71 characters, at most 70"),
        ({"name": "  "}, "beneficiary name: empty"),
        ({"iban": "not an iban"}, "IBAN"),
        ({"iban": "DE" + "1" * 33}, "IBAN"),
        ({"bic": "COBA"}, "BIC"),
        ({"text": "x" * 141}, "unstructured text: 141 characters, at most 140"),
        ({"reference": "RF19539007547034"}, "not an RF creditor reference"),
        ({"reference": "RF18539007547034", "text": "both"}, "exclude each other"),
    ],
)
def test_what_the_standard_does_not_allow_is_refused(change, message):
    with pytest.raises(EpcError, match=message):
        epc_qr.payload(**{**TRANSFER, **change})


def test_the_payload_is_at_most_331_bytes():
    # Every element at its longest in ASCII stays within the limit ...
    longest = {"name": "N" * 70, "text": "x" * 140}
    assert len(epc_qr.payload(**{**TRANSFER, **longest}).encode()) <= 331
    # ... a name of 70 three-byte characters does not.
    with pytest.raises(EpcError, match="bytes, at most 331"):
        epc_qr.payload(**{**TRANSFER, "name": "東" * 70, "text": "x" * 140})
