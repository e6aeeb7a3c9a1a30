"""The transactions of a camt.053 entry (``NtryDtls/TxDtls``): one remittance each, with its own
amount in a batch booking, the payer, the references, the remittance information and, for money
sent in another currency, what was instructed and the bank's rate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from credit.domain.statements import EntryKind, Remittance
from credit.importers.statements.checks import (
    Located,
    Problems,
    amount_value,
    currency_code,
    iban_value,
)
from credit.importers.statements.xmltree import Node

NOT_PROVIDED = "NOTPROVIDED"
_RATE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
_RATE_PLACES = Decimal("1E-10")


@dataclass(frozen=True)
class EntryFacts:
    """What the transactions of an entry need to know about it."""

    problems: Problems
    currency: str | None  # the account's
    amount: Decimal | None  # the entry's
    kind: EntryKind


def field_of(node: Node, child: str | None = None) -> str:
    """An element's path as messages name it: from the statement down (``Stmt/Ntry/Amt``)."""
    path = node.path.removeprefix("Document/").removeprefix("BkToCstmrStmt/")
    return f"{path}/{child}" if child else path


def located(node: Node, problems: Problems, child: str | None = None) -> Located:
    return Located(problems, node.line, field_of(node, child))


def remittances(ntry: Node, facts: EntryFacts) -> tuple[Remittance, ...]:
    """One remittance per transaction of the entry (at least one: an entry without details has
    the bank's booking text, ``AddtlNtryInf``, as its text)."""
    txs = ntry.find_all("NtryDtls/TxDtls")
    if not txs:
        text = _squeeze(" ".join(n.text for n in ntry.all("AddtlNtryInf")))
        instructed, currency, rate = _fx(ntry, facts, facts.amount, own_amount=False)
        return (
            Remittance(
                amount=None,
                currency=None,
                text=text,
                instructed_amount=instructed,
                instructed_currency=currency,
                rate=rate,
            ),
        )
    batch = len(txs) > 1
    found = [_remittance(tx, ntry, facts, batch=batch) for tx in txs]
    if batch:
        _batch_adds_up(ntry, facts, [r.amount for r in found])
    return tuple(found)


def original_ref(ntry: Node) -> str | None:
    """A return: the end-to-end id of what it returns (the payer's, or ours for a direct debit
    we collected), else the transaction id."""
    for tx in ntry.find_all("NtryDtls/TxDtls"):
        for path in ("Refs/EndToEndId", "Refs/TxId"):
            ref = _usable(tx.text_at(path))
            if ref:
                return ref
    return None


def return_reason(ntry: Node) -> str | None:
    """A return's reason code (``RtrInf/Rsn/Cd``: AM04, MS03 ...), if the bank gives one."""
    for tx in ntry.find_all("NtryDtls/TxDtls"):
        code = tx.text_at("RtrInf/Rsn/Cd") or tx.text_at("RtrInf/Rsn/Prtry")
        if code:
            return code
    return None


def _remittance(tx: Node, ntry: Node, facts: EntryFacts, *, batch: bool) -> Remittance:
    amount = _own_amount(tx, facts, required=batch)
    booked = amount if amount is not None else facts.amount
    instructed, currency, rate = _fx(tx, facts, booked, own_amount=True)
    if instructed is None and not batch:
        instructed, currency, rate = _fx(ntry, facts, facts.amount, own_amount=False)
    party, account = ("Cdtr", "CdtrAcct") if facts.kind is EntryKind.DEBIT else ("Dbtr", "DbtrAcct")
    structured, text = _remittance_information(tx)
    iban_node = tx.find(f"RltdPties/{account}/Id/IBAN")
    return Remittance(
        amount=amount if batch else None,
        currency=facts.currency if batch else None,
        structured=structured,
        text=text,
        end_to_end=_usable(tx.text_at("Refs/EndToEndId")),
        payer_name=tx.text_at(f"RltdPties/{party}/Nm") or tx.text_at(f"RltdPties/{party}/Pty/Nm"),
        payer_iban=(
            iban_value(iban_node.text, located(iban_node, facts.problems)) if iban_node else None
        ),
        instructed_amount=instructed,
        instructed_currency=currency,
        rate=rate,
    )


def _own_amount(tx: Node, facts: EntryFacts, *, required: bool) -> Decimal | None:
    """The transaction's amount in the account's currency (``Amt``, ``AmtDtls/TxAmt/Amt`` or
    ``AmtDtls/CntrValAmt/Amt``); a batch booking's transactions each need one."""
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/CntrValAmt/Amt"):
        node = tx.find(path)
        if node is not None and node.attrs.get("Ccy") == facts.currency:
            return amount_value(node.text, facts.currency, located(node, facts.problems))
    if required:
        located(tx, facts.problems, "Amt").fail(
            "", f"missing: each transaction of a batch booking needs its amount in {facts.currency}"
        )
    return None


def _fx(
    node: Node, facts: EntryFacts, booked: Decimal | None, *, own_amount: bool
) -> tuple[Decimal | None, str | None, Decimal | None]:
    """What the payer instructed in another currency than the account's, and the bank's rate
    as account currency per unit of it (None, None, None when paid in the account's currency).
    A transaction's own ``Amt`` in another currency counts as what was instructed."""
    instructed = node.find("AmtDtls/InstdAmt/Amt")
    if instructed is None and own_amount:
        own = node.find("Amt")
        instructed = own if own is not None and own.attrs.get("Ccy") != facts.currency else None
    if instructed is None or instructed.attrs.get("Ccy") == facts.currency:
        return None, None, None
    at = located(instructed, facts.problems)
    currency = currency_code(
        instructed.attrs.get("Ccy"), located(instructed, facts.problems, "@Ccy")
    )
    value = amount_value(instructed.text, currency, at)
    rate = _rate(node, currency, facts, instructed=value, booked=booked)
    return value, currency, rate


def _rate(
    node: Node,
    currency: str | None,
    facts: EntryFacts,
    *,
    instructed: Decimal | None,
    booked: Decimal | None,
) -> Decimal | None:
    """``CcyXchg/XchgRate`` as account currency per unit of the instructed one: as given when
    ``UnitCcy`` is the instructed currency, inverted when it is the account's; without
    ``UnitCcy``, the reading that turns the instructed amount nearest into the booked one."""
    xchg = next(
        (
            x
            for p in ("InstdAmt", "TxAmt", "CntrValAmt")
            for x in node.find_all(f"AmtDtls/{p}/CcyXchg")
        ),
        None,
    )
    raw = xchg.text_at("XchgRate") if xchg is not None else None
    if xchg is None or raw is None:
        return None
    try:
        given = Decimal(raw) if _RATE.fullmatch(raw.strip()) else Decimal(0)
    except InvalidOperation:
        given = Decimal(0)
    if given <= 0:
        located(xchg, facts.problems, "XchgRate").fail(raw, "not an exchange rate (a number > 0)")
        return None
    inverted = (1 / given).quantize(_RATE_PLACES).normalize()
    unit = xchg.text_at("UnitCcy")
    if unit == currency:
        return given
    if unit == facts.currency:
        return inverted
    if instructed is None or booked is None:
        return given
    return min((given, inverted), key=lambda r: abs(instructed * r - booked))


def _remittance_information(tx: Node) -> tuple[str | None, str]:
    """The creditor reference quoted (the first ``Strd/CdtrRefInf/Ref``) and the text: the
    ``Ustrd`` lines, then any further references, referred document numbers (invoice numbers
    quoted in structured form) and additional remittance information."""
    parts = [n.text for n in tx.find_all("RmtInf/Ustrd")]
    refs = [n.text for n in tx.find_all("RmtInf/Strd/CdtrRefInf/Ref") if n.text]
    parts += refs[1:]
    parts += [n.text for n in tx.find_all("RmtInf/Strd/RfrdDocInf/Nb")]
    parts += [n.text for n in tx.find_all("RmtInf/Strd/AddtlRmtInf")]
    return (refs[0] if refs else None), _squeeze(" ".join(parts))


def _batch_adds_up(ntry: Node, facts: EntryFacts, amounts: list[Decimal | None]) -> None:
    if facts.amount is None or any(a is None for a in amounts):
        return
    total = sum((a for a in amounts if a is not None), Decimal(0))
    if total != facts.amount:
        located(ntry, facts.problems, "NtryDtls/TxDtls/Amt").fail(
            str(total),
            f"the batch booking's transactions add up to {total}, the entry's amount is "
            f"{facts.amount}",
        )


def _usable(ref: str | None) -> str | None:
    return ref if ref and ref.upper() != NOT_PROVIDED else None


def _squeeze(text: str) -> str:
    return " ".join(text.split())
