"""SWIFT MT940 (customer statement): one :class:`Statement` per ``:20:`` block of the file, one
:class:`Entry` per ``:61:`` with the ``:86:`` that follows it. The fields are cut with the
``mt940`` library's tag grammar, tag by tag, so that every bad tag is reported with its line
(the library's own parser stops at the first)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import mt940
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from credit.domain.statements import Entry, EntryKind, Remittance, Statement
from credit.importers.statements.checks import (
    RETURN_GVC,
    Located,
    Problems,
    amount_value,
    balances_add_up,
    currency_code,
    iban_value,
    looks_like_iban,
    plausible_day,
    unique_refs,
)
from credit.importers.statements.mt940_details import Details, parse_details

FORMAT = "mt940"
_HEADER = re.compile(r"\{1:[^}]*\}(\{2:[^}]*\})?(\{3:(\{[^}]*\})*\})?\{4:")
_TAG = re.compile(r":([0-9]{2}[A-Z]?|NS):")
KNOWN_TAGS = frozenset(
    "13 13D 20 21 25 28 28C 34F 60 60F 60M 61 62 62F 62M 64 65 86 90C 90D NS".split()
)
FIELD_NAMES = {
    "13": "date and time",
    "20": "reference",
    "21": "related reference",
    "25": "account",
    "28": "statement number",
    "60": "opening balance",
    "61": "entry",
    "62": "closing balance",
    "64": "available balance",
    "65": "forward available balance",
    "86": "details",
    "NS": "bank's own field",
}
_AMOUNT = re.compile(r"[0-9]{1,15},[0-9]*")
_YYMMDD = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})")
_BLZ_ACCOUNT = re.compile(r"([0-9]{8})/([0-9]{1,10})")
_CURRENCY_AMOUNT = re.compile(r"([A-Z]{3})([0-9,]+)")
_RATE = re.compile(r"[0-9]{1,12}(,[0-9]{1,12})?")
_RATE_PLACES = Decimal("1E-10")
NONREF = "NONREF"


@dataclass
class RawTag:
    """A tag as the file has it: ``:61:`` -> "61", its value (continuation lines included) and
    the line it starts on."""

    tag: str
    value: str
    line: int
    extra: list[str] = field(default_factory=list)


def message_lines(text: str) -> list[str]:
    """The file's lines, SWIFT envelopes (``{1:...}{2:...}{4:``, ``-}``, ``{5:...}``) blanked
    so that line numbers stay the file's."""
    lines = []
    for line in text.splitlines():
        line = line.rstrip("\r")
        if line.startswith("{1:"):
            line = _HEADER.sub("", line, count=1)
        stripped = line.strip()
        if stripped in ("-", "-}") or stripped.startswith(("{5:", "-}{5:")):
            line = ""
        lines.append(line)
    return lines


def looks_like_mt940(text: str) -> bool:
    """Whether the text starts, after blank lines and a SWIFT envelope, with a ``:20:`` tag."""
    return next((line for line in message_lines(text) if line.strip()), "").startswith(":20:")


def split_tags(lines: list[str]) -> list[RawTag]:
    tags: list[RawTag] = []
    for number, line in enumerate(lines, start=1):
        found = _TAG.match(line)
        if found and found.group(1) in KNOWN_TAGS:
            tags.append(RawTag(found.group(1), line[found.end() :], number))
        elif tags and line.strip():
            tags[-1].extra.append(line)
    return tags


def parse_mt940(text: str, problems: Problems) -> list[Statement]:
    """Every statement of the file; problems are added to ``problems``."""
    blocks: list[list[RawTag]] = []
    for tag in split_tags(message_lines(text)):
        if tag.tag == "20":
            blocks.append([])
        if not blocks:
            problems.add(
                tag.line, field_name(tag.tag), tag.value, "comes before the statement's :20:"
            )
            continue
        blocks[-1].append(tag)
    statements = [_statement(block, problems) for block in blocks]
    return [s for s in statements if s is not None]


class _Block:
    """One statement's tags, and what its entries need to know."""

    def __init__(self, tags: list[RawTag], problems: Problems) -> None:
        self.tags, self.problems = tags, problems
        self.currency: str | None = None
        self.reference: date | None = None
        self.statement_id = ""

    def first(self, *names: str) -> RawTag | None:
        return next((t for name in names for t in self.tags if t.tag == name), None)

    def required(self, *names: str) -> RawTag | None:
        found = self.first(*names)
        if found is None:
            line = self.tags[0].line if self.tags else None
            self.problems.add(
                line, field_name(names[0]), "", "missing: an MT940 statement requires it"
            )
        return found

    def at(self, tag: RawTag, part: str = "") -> Located:
        return Located(self.problems, tag.line, field_name(tag.tag, part))

    def grammar(self, tag: RawTag, expected: str) -> dict[str, str | None] | None:
        """The tag's fields by the library's grammar (its pattern, matched here: its own
        ``parse`` logs an error for every mismatch), or None (reported)."""
        key: int | str = tag.tag
        if key not in mt940.tags.TAG_BY_ID:
            key = int(tag.tag[:2])
        found = mt940.tags.TAG_BY_ID[key].re.match(full_value(tag))
        if found is None:
            self.at(tag).fail(tag.value, f"not a valid :{tag.tag}: field (expected {expected})")
            return None
        fields: dict[str, str | None] = found.groupdict()
        return fields


def field_name(tag: str, part: str = "") -> str:
    """How messages name a field: ``:61: amount``, ``:28C: statement number``."""
    return f":{tag}: {part or FIELD_NAMES.get(tag[:2], 'field')}"


def full_value(tag: RawTag) -> str:
    return "\n".join([tag.value, *tag.extra]).strip()


def _statement(tags: list[RawTag], problems: Problems) -> Statement | None:
    before = len(problems)
    block = _Block(tags, problems)
    ref = block.required("20")
    number = block.required("28C", "28")
    account = block.required("25")
    iban = _account_iban(account, block) if account else None
    opening = _balance(block, "60F", "60M", "60")
    closing = _balance(block, "62F", "62M", "62")
    block.statement_id = "/".join(full_value(t) for t in (ref, number) if t is not None)
    block.reference = _created_on(block) or (closing[1] if closing else None)
    entries = _entries(block)
    unique_refs(entries, problems, ":61: reference")
    closing_tag = block.first("62F", "62M", "62")
    if len(problems) == before and closing_tag is not None:
        balances_add_up(
            opening[0] if opening else None,
            closing[0] if closing else None,
            entries,
            block.at(closing_tag, "amount"),
            shown=full_value(closing_tag),
        )
    if len(problems) > before or iban is None or block.currency is None:
        return None
    return Statement(
        format=FORMAT,
        statement_id=block.statement_id,
        account_iban=iban,
        currency=block.currency,
        created_on=_created_on(block),
        opening_balance=opening[0] if opening else None,
        closing_balance=closing[0] if closing else None,
        entries=tuple(entries),
    )


def _account_iban(tag: RawTag, block: _Block) -> str | None:
    """``:25:`` as an IBAN: written as one (maybe after a BIC and '/', maybe with the currency
    after it), or as a German bank code and account number (``37040044/0532013000``)."""
    raw = full_value(tag).upper()
    text = re.sub(r"(?<=[0-9])\s*/?\s*[A-Z]{3}$", "", raw)  # a currency after the number
    parts = [p.strip() for p in text.split("/")]
    shaped = [p for p in parts if looks_like_iban(p)]
    for part in shaped:
        if _valid_iban(part):
            return iban_value(part, block.at(tag))
    if shaped:
        return iban_value(shaped[-1], block.at(tag))  # reported: why it is not an IBAN
    german = _BLZ_ACCOUNT.fullmatch(text)
    if german:
        try:
            return str(IBAN.generate("DE", bank_code=german[1], account_code=german[2]).compact)
        except SchwiftyException as exc:
            block.at(tag).fail(tag.value, f"not a valid German bank code/account number: {exc}")
            return None
    block.at(tag).fail(
        tag.value, "not an IBAN (nor a German bank code/account number like 37040044/0532013000)"
    )
    return None


def _valid_iban(text: str) -> bool:
    try:
        IBAN(text)
    except SchwiftyException:
        return False
    return True


def _day(raw: str | None, at: Located) -> date | None:
    found = _YYMMDD.fullmatch(raw or "")
    try:
        if found:
            return date(2000 + int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        pass
    at.fail(raw or "", "not a date (YYMMDD)")
    return None


def _mt_amount(
    raw: str | None,
    currency: str | None,
    at: Located,
    *,
    balance: bool = False,
    entry: bool = False,
) -> Decimal | None:
    """An MT940 amount (``1234,56``: a decimal comma, always written) as a Decimal."""
    text = raw or ""
    if not _AMOUNT.fullmatch(text):
        at.fail(text, "not an MT940 amount (digits and a decimal comma: 1234,56)")
        return None
    return amount_value(
        text.replace(",", ".").rstrip("."), currency, at, balance=balance, entry=entry, shown=text
    )


def _balance(block: _Block, *names: str) -> tuple[Decimal, date] | None:
    """An opening or closing balance, signed, with its date; sets the statement's currency."""
    tag = block.required(*names)
    if tag is None:
        return None
    fields = block.grammar(tag, "C or D, YYMMDD, currency, amount: C261201EUR1000,00")
    if fields is None:
        return None
    currency = currency_code(fields.get("currency"), block.at(tag, "currency"))
    if block.currency is None:
        block.currency = currency
    elif currency is not None and currency != block.currency:
        block.at(tag, "currency").fail(currency, f"not the statement's currency {block.currency}")
    day = _day(f"{fields['year']}{fields['month']}{fields['day']}", block.at(tag, "date"))
    value = _mt_amount(fields.get("amount"), currency, block.at(tag, "amount"), balance=True)
    if value is None or day is None:
        return None
    return (-value if fields.get("status") == "D" else value), day


def _created_on(block: _Block) -> date | None:
    tag = block.first("13D", "13")
    if tag is None:
        return None
    return _day(full_value(tag)[:6], block.at(tag))


def _entries(block: _Block) -> list[Entry]:
    entries: list[Entry] = []
    position = 0
    for n, tag in enumerate(block.tags):
        if tag.tag != "61":
            continue
        position += 1
        following = block.tags[n + 1] if n + 1 < len(block.tags) else None
        details = following if following is not None and following.tag == "86" else None
        entry = _entry(block, tag, details, position)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(block: _Block, tag: RawTag, details_tag: RawTag | None, position: int) -> Entry | None:
    """One ``:61:`` (and its ``:86:``), or None when it has problems (reported)."""
    before = len(block.problems)
    fields = block.grammar(
        tag, "YYMMDD[MMDD], C, D, RC or RD, amount, type, reference: 2612021202C9800,00NTRFNONREF"
    )
    if fields is None or not _well_formed_61(block, tag, fields):
        return None
    value_at = block.at(tag, "value date")
    value_raw = f"{fields['year']}{fields['month']}{fields['day']}"
    value_on = plausible_day(_day(value_raw, value_at), value_raw, block.reference, value_at)
    booked_on = _booking_date(fields, value_on, block, tag)
    amount = _mt_amount(fields.get("amount"), block.currency, block.at(tag, "amount"), entry=True)
    details = parse_details(full_value(details_tag)) if details_tag else Details()
    remittance = _remittance(block, details_tag, details, fields=fields, amount=amount)
    if len(block.problems) > before or amount is None or booked_on is None:
        return None
    type_id = (fields.get("id") or "").upper()
    kind = _kind((fields.get("status") or "").upper(), type_id, details.gvc)
    bank_ref = (fields.get("bank_reference") or "").strip()
    returned = kind is EntryKind.RETURN
    return Entry(
        ref=bank_ref
        if bank_ref and bank_ref.upper() != NONREF
        else f"{block.statement_id}#{position}",
        line=tag.line,
        kind=kind,
        booked_on=booked_on,
        value_on=value_on,
        amount=amount,
        currency=block.currency or "",
        remittances=(remittance,),
        bank_code=type_id + (f"+{details.gvc}" if details.gvc else ""),
        original_ref=remittance.end_to_end if returned else None,
        return_reason=details.return_reason if returned else None,
    )


def _well_formed_61(block: _Block, tag: RawTag, fields: dict[str, str | None]) -> bool:
    """The library's grammar is lenient: an amount without its decimal comma, or without the
    transaction type after it, means the field is cut wrong (``98.00NTRF`` reads as 98)."""
    if _AMOUNT.fullmatch(fields.get("amount") or "") and fields.get("id"):
        return True
    block.at(tag).fail(
        tag.value,
        "not a valid :61: field (expected YYMMDD[MMDD], C, D, RC or RD, the amount with a "
        "decimal comma, the transaction type and the reference: 2612021202C9800,00NTRFNONREF)",
    )
    return False


def _booking_date(
    fields: dict[str, str | None], value_on: date | None, block: _Block, tag: RawTag
) -> date | None:
    """The entry date (MMDD, in the value date's year or the one before or after it when the
    two straddle a new year), else the value date."""
    month, day = (fields.get("entry_month") or "").strip(), (fields.get("entry_day") or "").strip()
    if value_on is None or not (month and day):
        return value_on
    at = block.at(tag, "entry date")
    try:
        booked = date(value_on.year, int(month), int(day))
        if booked - value_on > timedelta(days=180):
            booked = booked.replace(year=booked.year - 1)
        elif value_on - booked > timedelta(days=180):
            booked = booked.replace(year=booked.year + 1)
    except ValueError:
        at.fail(month + day, "not a date (MMDD)")
        return None
    return plausible_day(booked, month + day, block.reference, at)


def _kind(mark: str, type_id: str, gvc: str | None) -> EntryKind:
    """C, and RD (a debit of ours reversed: money in, a person looks at it), are money in; RC
    (a credit reversed) is a return, and so is a D of a returned item (type ``RTI``, or a German
    return GVC such as 109); any other D is a debit."""
    if mark in ("C", "RD"):
        return EntryKind.CREDIT
    if mark == "RC" or type_id[1:] == "RTI" or (gvc or "") in RETURN_GVC:
        return EntryKind.RETURN
    return EntryKind.DEBIT


def _remittance(
    block: _Block,
    details_tag: RawTag | None,
    details: Details,
    *,
    fields: dict[str, str | None],
    amount: Decimal | None,
) -> Remittance:
    at = block.at(details_tag, "IBAN") if details_tag else block.at(block.tags[0])
    raw_iban = details.payer_iban
    iban = iban_value(raw_iban, at) if raw_iban and looks_like_iban(raw_iban) else None
    customer_ref = (fields.get("customer_reference") or "").strip()
    if customer_ref.upper() == NONREF:
        customer_ref = ""
    instructed, currency, rate = _fx(block, details_tag, details, amount)
    return Remittance(
        amount=None,
        currency=None,
        structured=details.structured,
        text=details.text,
        end_to_end=details.end_to_end or customer_ref or None,
        payer_name=details.payer_name,
        payer_iban=iban,
        instructed_amount=instructed,
        instructed_currency=currency,
        rate=rate,
    )


def _fx(
    block: _Block, details_tag: RawTag | None, details: Details, booked: Decimal | None
) -> tuple[Decimal | None, str | None, Decimal | None]:
    """The original amount (``/OCMT/USD12500,00/``) in another currency and the rate
    (``/EXCH/0,92/``) read as account currency per unit of it: as written, or inverted when
    that turns the original amount nearer into the booked one."""
    if details_tag is None or not details.original_amount:
        return None, None, None
    found = _CURRENCY_AMOUNT.fullmatch(details.original_amount)
    if not found:
        block.at(details_tag, "OCMT").fail(details.original_amount, "not a currency and amount")
        return None, None, None
    currency = currency_code(found[1], block.at(details_tag, "OCMT"))
    if currency == block.currency:
        return None, None, None
    instructed = _mt_amount(found[2], currency, block.at(details_tag, "OCMT"))
    if not details.rate:
        return instructed, currency, None
    if not _RATE.fullmatch(details.rate) or Decimal(details.rate.replace(",", ".")) <= 0:
        block.at(details_tag, "EXCH").fail(details.rate, "not an exchange rate (a number > 0)")
        return instructed, currency, None
    given = Decimal(details.rate.replace(",", "."))
    inverted = (1 / given).quantize(_RATE_PLACES).normalize()
    if instructed is None or booked is None:
        return instructed, currency, given
    return instructed, currency, min((given, inverted), key=lambda r: abs(instructed * r - booked))
