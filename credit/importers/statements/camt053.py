"""ISO 20022 camt.053 (bank to customer statement), any version ``camt.053.001.xx``: one
:class:`Statement` per ``Stmt`` of the file, one :class:`Entry` per booked ``Ntry``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from credit.domain.statements import Entry, EntryKind, Statement
from credit.importers.statements.camt_tx import (
    EntryFacts,
    field_of,
    located,
    original_ref,
    remittances,
    return_reason,
)
from credit.importers.statements.checks import (
    RETURN_GVC,
    Located,
    Problems,
    amount_value,
    balances_add_up,
    currency_code,
    iban_value,
    iso_day,
    plausible_day,
    unique_refs,
)
from credit.importers.statements.xmltree import Node, parse_xml

FORMAT = "camt.053"
NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.[0-9]{2}")
_ISO_MESSAGE = re.compile(
    r"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.[0-9]{3})\.[0-9]{3}\.[0-9]{2}"
)
# Bank transaction sub-families of a reversal: a returned payment (RRTN), an unpaid or returned
# direct debit (UPDD), a reversed payment (PRDD), a cancellation (RPCR). RTRN: some banks' family.
RETURN_CODES = frozenset({"RRTN", "UPDD", "PRDD", "RPCR", "RTRN"})
_GVC = re.compile(r"\+([0-9]{3})\b")


@dataclass(frozen=True)
class _Context:
    problems: Problems
    statement_id: str
    iban: str | None
    currency: str | None
    created: date | None


class _Reader:
    """Reads the entries of each statement as the parser reaches the end of each ``Ntry``, so
    that a large file's entries are not all held as XML at once: what an entry needs (the
    statement's id, account, currency and date) comes before the entries in camt.053."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.contexts: dict[int, _Context] = {}
        self.entries: dict[int, list[Entry | None]] = {}
        self.created: tuple[date | None] | None = None

    def on_end(self, node: Node) -> bool:
        stmt = node.parent
        if node.name != "Ntry" or stmt is None or stmt.name != "Stmt":
            return False
        root = stmt.parent.parent if stmt.parent is not None else None
        if root is None or root.parent is not None or not NAMESPACE.fullmatch(root.namespace):
            return True  # not a camt.053 document: refused at the end, entries unread
        found = self.entries.setdefault(id(stmt), [])
        found.append(_entry(node, self.context(stmt), len(found) + 1))
        return True

    def context(self, stmt: Node) -> _Context:
        """The statement's id, account and date (worked out, and their problems reported, once)."""
        known = self.contexts.get(id(stmt))
        if known is not None:
            return known
        created = self.group_created(stmt)
        statement_id = _required(stmt, "Id", self.problems) or ""
        stmt_created = stmt.text_at("CreDtTm")
        if stmt_created:
            created = iso_day(stmt_created, located(stmt, self.problems, "CreDtTm")) or created
        iban, currency = _account(stmt, self.problems)
        found = _Context(self.problems, statement_id, iban, currency, created)
        self.contexts[id(stmt)] = found
        return found

    def group_created(self, stmt: Node) -> date | None:
        """``GrpHdr/CreDtTm``: when the bank made the file (read once)."""
        if self.created is None:
            message = stmt.parent or stmt
            node = message.find("GrpHdr/CreDtTm")
            if node is None:
                at = located(message, self.problems, "GrpHdr/CreDtTm")
                self.created = (iso_day(None, at),)
            else:
                self.created = (iso_day(node.text, located(node, self.problems)),)
        return self.created[0]


def read_camt053(data: bytes, problems: Problems) -> list[Statement]:
    """Every statement of the document; problems are added to ``problems``. :class:`XmlRefused`
    when it is not well-formed XML or is refused as hostile."""
    reader = _Reader(problems)
    root = parse_xml(data, on_end=reader.on_end)
    message = _message(root, problems)
    if message is None:
        return []
    stmts = message.all("Stmt")
    if not stmts:
        located(message, problems, "Stmt").fail("", "missing: the file holds no statement")
    statements = [_statement(stmt, reader, problems) for stmt in stmts]
    return [s for s in statements if s is not None]


def _message(root: Node, problems: Problems) -> Node | None:
    """The ``BkToCstmrStmt`` of a camt.053 document, or None (reported)."""
    at = Located(problems, root.line, root.name)
    if root.name != "Document" or not root.namespace:
        at.fail(root.name, "not a camt.053 statement: the root is not an ISO 20022 <Document>")
        return None
    if not NAMESPACE.fullmatch(root.namespace):
        other = _ISO_MESSAGE.fullmatch(root.namespace)
        what = f"a {other.group(1)} message" if other else "another XML format"
        at.fail(
            root.namespace,
            f"not a camt.053 statement ({what}): expected the namespace "
            "urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx",
        )
        return None
    message = root.find("BkToCstmrStmt")
    if message is None:
        Located(problems, root.line, "Document/BkToCstmrStmt").fail("", "missing")
    return message


def _required(node: Node, path: str, problems: Problems) -> str | None:
    """The text at ``path``, or None (reported as missing)."""
    value = node.text_at(path)
    if value is None or value == "":
        located(node, problems, path).fail("", "missing: a camt.053 statement requires it")
        return None
    return value


def _statement(stmt: Node, reader: _Reader, problems: Problems) -> Statement | None:
    """The statement, or None when the file has problems (it is refused whole)."""
    ctx = reader.context(stmt)
    entries = reader.entries.get(id(stmt), [])
    opening, closing = _balances(stmt, ctx.currency, problems)
    booked = [e for e in entries if e is not None]
    unique_refs(booked, problems, field_of(stmt, "Ntry/AcctSvcrRef"))
    if not problems:  # (pending entries are not in the booked balance either)
        closing_node = _balance_node(stmt, ("CLBD",))
        balances_add_up(
            opening,
            closing,
            booked,
            located(closing_node or stmt, problems, "Amt" if closing_node else None),
        )
    if problems or ctx.iban is None or ctx.currency is None:
        return None
    return Statement(
        format=FORMAT,
        statement_id=ctx.statement_id,
        account_iban=ctx.iban,
        currency=ctx.currency,
        created_on=ctx.created,
        opening_balance=opening,
        closing_balance=closing,
        entries=tuple(booked),
    )


def _account(stmt: Node, problems: Problems) -> tuple[str | None, str | None]:
    """The account's IBAN and currency (``Acct/Ccy``, else the balances', else the entries')."""
    iban_node = stmt.find("Acct/Id/IBAN")
    if iban_node is None:
        other = stmt.text_at("Acct/Id/Othr/Id")
        located(stmt, problems, "Acct/Id/IBAN").fail(
            other or "", "missing: the account must be identified by its IBAN"
        )
        iban = None
    else:
        iban = iban_value(iban_node.text, located(iban_node, problems))
    ccy_node = stmt.find("Acct/Ccy")
    if ccy_node is not None:
        return iban, currency_code(ccy_node.text, located(ccy_node, problems))
    amounts = [n for n in stmt.find_all("Bal/Amt") + stmt.find_all("Ntry/Amt")]
    if not amounts:
        located(stmt, problems, "Acct/Ccy").fail("", "missing: the account's currency is unknown")
        return iban, None
    return iban, currency_code(amounts[0].attrs.get("Ccy"), located(amounts[0], problems, "@Ccy"))


def _balance_node(stmt: Node, codes: tuple[str, ...]) -> Node | None:
    for code in codes:
        for bal in stmt.all("Bal"):
            if (bal.text_at("Tp/CdOrPrtry/Cd") or bal.text_at("Tp/CdOrPrtry/Prtry")) == code:
                return bal
    return None


def _balances(
    stmt: Node, currency: str | None, problems: Problems
) -> tuple[Decimal | None, Decimal | None]:
    """The opening (``OPBD``, else ``PRCD``) and closing (``CLBD``) booked balances, signed."""
    found: list[Decimal | None] = []
    for codes in (("OPBD", "PRCD"), ("CLBD",)):
        bal = _balance_node(stmt, codes)
        found.append(_signed_amount(bal, currency, problems) if bal is not None else None)
    return found[0], found[1]


def _signed_amount(bal: Node, currency: str | None, problems: Problems) -> Decimal | None:
    amount = bal.find("Amt")
    if amount is None:
        located(bal, problems, "Amt").fail("", "missing: a balance needs its amount")
        return None
    _same_currency(amount, currency, problems)
    value = amount_value(amount.text, currency, located(amount, problems), balance=True)
    sign = bal.text_at("CdtDbtInd")
    if sign not in ("CRDT", "DBIT"):
        located(bal, problems, "CdtDbtInd").fail(sign or "", "not CRDT or DBIT")
        return None
    if value is None:
        return None
    return value if sign == "CRDT" else -value


def _same_currency(amount: Node, currency: str | None, problems: Problems) -> None:
    ccy = amount.attrs.get("Ccy")
    if currency is not None and ccy != currency:
        located(amount, problems, "@Ccy").fail(ccy or "", f"not the account's currency {currency}")


def _entry(ntry: Node, ctx: _Context, position: int) -> Entry | None:
    """A booked entry (a pending or informational one is skipped: it is not on the account
    yet), or None when it has problems (reported)."""
    status = ntry.text_at("Sts/Cd") or ntry.text_at("Sts")
    if status not in (None, "", "BOOK"):
        return None
    before = len(ctx.problems)
    amount = _entry_amount(ntry, ctx)
    indicator = _required(ntry, "CdtDbtInd", ctx.problems)
    if indicator not in (None, "CRDT", "DBIT"):
        located(ntry, ctx.problems, "CdtDbtInd").fail(indicator, "not CRDT or DBIT")
    booked_on = _day(ntry, "BookgDt", ctx, required=True)
    value_on = _day(ntry, "ValDt", ctx, required=False)
    code = _bank_code(ntry)
    kind = _kind(indicator, ntry.text_at("RvslInd"), code, ntry.text_at("BkTxCd/Prtry/Cd"))
    facts = EntryFacts(ctx.problems, ctx.currency, amount, kind)
    found = remittances(ntry, facts)
    if len(ctx.problems) > before or amount is None or booked_on is None:
        return None
    ref = ntry.text_at("AcctSvcrRef") or ntry.text_at("NtryRef") or f"{ctx.statement_id}#{position}"
    returned = kind is EntryKind.RETURN
    return Entry(
        ref=ref,
        line=ntry.line,
        kind=kind,
        booked_on=booked_on,
        value_on=value_on,
        amount=amount,
        currency=ctx.currency or "",
        remittances=found,
        bank_code=code,
        original_ref=original_ref(ntry) if returned else None,
        return_reason=return_reason(ntry) if returned else None,
    )


def _entry_amount(ntry: Node, ctx: _Context) -> Decimal | None:
    node = ntry.find("Amt")
    if node is None:
        located(ntry, ctx.problems, "Amt").fail("", "missing: an entry needs its amount")
        return None
    _same_currency(node, ctx.currency, ctx.problems)
    return amount_value(node.text, ctx.currency, located(node, ctx.problems), entry=True)


def _day(ntry: Node, name: str, ctx: _Context, *, required: bool) -> date | None:
    """``BookgDt`` or ``ValDt`` (``Dt`` or ``DtTm``), plausible for the statement."""
    node = ntry.find(name)
    if node is None:
        if required:
            located(ntry, ctx.problems, f"{name}/Dt").fail("", "missing: a date is required")
        return None
    part = node.find("Dt")
    if part is None:
        part = node.find("DtTm")
    if part is None:
        located(node, ctx.problems, "Dt").fail("", "missing: a date is required")
        return None
    at = located(part, ctx.problems)
    return plausible_day(iso_day(part.text, at), part.text, ctx.created, at)


def _bank_code(ntry: Node) -> str:
    """The ISO bank transaction code (``PMNT/RCDT/ESCT``), else the proprietary one."""
    domain = ntry.find("BkTxCd/Domn")
    if domain is not None:
        parts = [
            domain.text_at("Cd"),
            domain.text_at("Fmly/Cd"),
            domain.text_at("Fmly/SubFmlyCd"),
        ]
        return "/".join(p for p in parts if p)
    return ntry.text_at("BkTxCd/Prtry/Cd") or ""


def _kind(
    indicator: str | None, reversal: str | None, code: str, proprietary: str | None
) -> EntryKind:
    """CRDT: money in (a credit, or a debit of ours reversed: a person looks at it). DBIT: a
    return when it reverses a credit (``RvslInd`` true, a return sub-family such as UPDD or
    RRTN, or a German return GVC in the proprietary code), else a debit."""
    if indicator != "DBIT":
        return EntryKind.CREDIT
    if (reversal or "").strip().lower() in ("true", "1"):
        return EntryKind.RETURN
    if set(code.split("/")[1:]) & RETURN_CODES:
        return EntryKind.RETURN
    gvc = _GVC.search(proprietary or code)
    if gvc and gvc.group(1) in RETURN_GVC:
        return EntryKind.RETURN
    return EntryKind.DEBIT
