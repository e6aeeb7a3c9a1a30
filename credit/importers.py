"""CSV imports: all-or-nothing, every error located as ``FILE:ROW: column C: value 'V': REASON``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from credit import audit
from credit.db.locks import lock_customers
from credit.db.models import (
    Customer,
    FinancialStatement,
    FxRate,
    Invoice,
    Payment,
    SalesOrder,
    utcnow,
)
from credit.db.types import Money
from credit.domain.cleaning import STATEMENT_AMOUNTS
from credit.domain.codes import check_country, normal_locale
from credit.domain.columns import COLUMNS, KINDS, OPTIONAL
from credit.domain.directory import EMAIL_PATTERN
from credit.domain.money import (
    MAX_AMOUNT,
    MAX_CUSTOMER_TOTAL,
    MAX_DOCUMENT_AMOUNT,
    ZERO,
    check_amount,
    check_currency,
    decimal_exponent,
    minor_units,
    parse_amount,
)

MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class ImportErrorItem:
    file: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"{self.file}:{self.row}: column {self.column}: value '{shown}': {self.reason}"


class ImportFailed(ValueError):
    """Nothing was written; ``errors`` says where and why."""

    def __init__(self, errors: list[ImportErrorItem]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class ImportPlan:
    kind: str
    file: str
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    applied: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "rows": self.rows,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "fixes": self.fixes,
            "applied": self.applied,
        }


_CONTROL = re.compile("[\x00-\x1f\x7f]")  # a line break or another control character
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST_REGISTRATION = date(1800, 1, 1)
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    """Patterns are compiled once (a large file checks each a million times)."""
    found = _PATTERNS.get(pattern)
    if found is None:
        found = _PATTERNS[pattern] = re.compile(pattern)
    return found


class _Row:
    """One CSV row with typed, located field parsing that collects errors instead of raising."""

    def __init__(
        self,
        file: str,
        line: int,
        values: dict[str, str],
        errors: list[ImportErrorItem],
        optional: frozenset[str] = frozenset(),
    ):
        self.file, self.line, self.values, self.errors = file, line, values, errors
        self.optional = optional

    def fail(self, column: str, reason: str, value: str | None = None) -> None:
        raw = self.values.get(column, "") if value is None else value
        self.errors.append(ImportErrorItem(self.file, self.line, column, raw, reason))

    def text(
        self, column: str, *, pattern: str | None = None, max_len: int = 200, reason: str = ""
    ) -> str | None:
        raw = self.values.get(column, "").strip()
        if _CONTROL.search(raw):
            self.fail(column, "contains a line break or another control character")
            return None
        if raw == "":
            if column not in self.optional:
                self.fail(column, "required")
            return None
        if len(raw) > max_len:
            self.fail(column, f"longer than {max_len} characters")
            return None
        if pattern and not _compiled(pattern).fullmatch(raw):
            self.fail(column, reason or f"does not match {pattern}")
            return None
        return raw

    def day(self, column: str, *, today: date | None = None, what: str = "") -> date | None:
        """An ISO date; with ``today``, a date after it is refused (``what`` says what it dates)."""
        raw = self.text(column, max_len=10)
        if raw is None:
            return None
        if not _ISO_DATE.fullmatch(raw):
            self.fail(column, "not an ISO date (YYYY-MM-DD)")
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError as exc:
            self.fail(column, f"not a valid date ({exc})")
            return None
        if today is not None and value > today:
            self.fail(column, f"{what or 'dated'} in the future (today is {today})")
        return value

    def currency(self, column: str = "currency") -> str | None:
        """The ISO 4217 code of a currency in use (``XYZ``, ``XXX`` and ``DEM`` are refused)."""
        code = self.text(column)
        if code is None:
            return None
        reason = check_currency(code)
        if reason:
            self.fail(column, reason)
            return None
        return code

    def units(self, column: str, value: Decimal | None, currency: str | None) -> None:
        """No more decimals than the currency has (``100.005`` EUR, ``100.5`` JPY are refused)."""
        if value is None or currency is None:
            return
        reason = check_amount(value, currency, maximum=MAX_AMOUNT)
        if reason:
            self.fail(column, reason)

    def amount(
        self,
        column: str,
        *,
        positive: bool = False,
        non_negative: bool = False,
        non_zero: bool = False,
        maximum: Decimal = MAX_DOCUMENT_AMOUNT,
    ) -> Decimal | None:
        raw = self.text(column, max_len=40)
        if raw is None:
            return None
        try:
            value = parse_amount(raw, maximum=maximum)
        except ValueError as exc:
            self.fail(column, str(exc))
            return None
        if positive and value <= 0:
            self.fail(column, "must be greater than zero")
        elif non_negative and value < 0:
            self.fail(column, "must not be negative")
        elif non_zero and value == 0:
            self.fail(column, "must not be zero")
        return value


CODE = r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}"


def read_rows(path: Path, kind: str) -> tuple[list[_Row], list[ImportErrorItem]]:
    """Decode and split the file, checking the header; rows are not yet validated."""
    name = str(path)
    errors: list[ImportErrorItem] = []
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [
                ImportErrorItem(
                    name,
                    0,
                    "-",
                    f"{size} bytes",
                    f"file larger than {MAX_FILE_BYTES} bytes; split it",
                )
            ]
        data = path.read_bytes()
    except OSError as exc:
        return [], [ImportErrorItem(name, 0, "-", name, f"cannot read file: {exc.strerror}")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        return [], [
            ImportErrorItem(name, line, "-", bad, "bytes are not UTF-8; save the file as UTF-8")
        ]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [ImportErrorItem(name, 1, "-", "", "empty file: a header row is required")]
    except csv.Error as exc:
        return [], [ImportErrorItem(name, 1, "-", "", f"not valid CSV: {exc}")]
    header = [h.strip() for h in header]
    expected = COLUMNS[kind]
    if len(header) == 1 and ";" in header[0]:
        return [], [ImportErrorItem(name, 1, "-", header[0], "separator must be ',' not ';'")]
    unknown = [h for h in header if h not in expected]
    missing = [c for c in expected if c not in header and c not in OPTIONAL[kind]]
    for h in unknown:
        errors.append(
            ImportErrorItem(name, 1, h, h, f"unknown column; expected {','.join(expected)}")
        )
    for c in missing:
        errors.append(ImportErrorItem(name, 1, c, "", "required column is missing from the header"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    for h in dupes:
        errors.append(ImportErrorItem(name, 1, h, h, "column appears more than once"))
    if errors:
        return [], errors
    rows: list[_Row] = []
    try:
        for values in reader:
            line = reader.line_num
            if not "".join(values).strip():
                continue
            if len(values) != len(header):
                errors.append(
                    ImportErrorItem(
                        name,
                        line,
                        "-",
                        ",".join(values)[:60],
                        f"has {len(values)} fields, the header has {len(header)}",
                    )
                )
                continue
            rows.append(
                _Row(name, line, dict(zip(header, values, strict=True)), errors, OPTIONAL[kind])
            )
    except csv.Error as exc:
        errors.append(ImportErrorItem(name, reader.line_num, "-", "", f"not valid CSV: {exc}"))
    if not rows and not errors:
        errors.append(ImportErrorItem(name, 2, "-", "", "no data rows"))
    return rows, errors


def _customers_by_code(session: Session, codes: set[str]) -> dict[str, Customer]:
    if not codes:
        return {}
    found = _select_in(session, select(Customer), Customer.code, codes)
    return {c.code: c for c in found}


def _select_in(session: Session, query: Any, column: Any, values: Any) -> list[Any]:
    """``query`` for rows whose ``column`` is one of ``values``, a few thousand values per
    statement (PostgreSQL takes 65,535 parameters at most; a large file names more)."""
    values = sorted(set(values))
    out: list[Any] = []
    for i in range(0, len(values), 5000):
        out.extend(session.exec(query.where(column.in_(values[i : i + 5000]))))
    return out


def _customer_ref(row: _Row, known: dict[str, Customer]) -> Customer | None:
    code = row.text("customer_code", pattern=CODE, reason="not a customer code")
    if code is None:
        return None
    customer = known.get(code.upper())
    if customer is None:
        row.fail("customer_code", "no such customer; import customers first")
    return customer


def _dupe_check(rows_keys: list[tuple[_Row, str | None]], column: str) -> None:
    seen: dict[str, int] = {}
    for row, key in rows_keys:
        if key is None:
            continue
        if key in seen:
            row.fail(column, f"duplicate key; also on row {seen[key]}")
        else:
            seen[key] = row.line


Values = dict[str, Any]


def _stored_totals(
    session: Session, model: Any, customer_ids: set[int]
) -> dict[tuple[int, str], Decimal]:
    """Per (customer, currency): the stored amounts of ``model`` added up without sign."""
    totals: dict[tuple[int, str], Decimal] = {}
    ids = sorted(customer_ids)
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        where = col(model.customer_id).in_(chunk)
        try:
            found: list[tuple[Any, ...]] = list(
                session.execute(
                    select(
                        model.customer_id,
                        model.currency,
                        func.sum(func.abs(model.amount), type_=Money),
                    )
                    .where(where)
                    .group_by(model.customer_id, model.currency)
                )
            )
        except OperationalError:
            # SQLite adds integers of 64 bits: amounts stored before these limits existed may
            # not add up there ("integer overflow"); add them up exactly here instead.
            if session.get_bind().dialect.name != "sqlite":
                raise
            sums: dict[tuple[int, str], Decimal] = {}
            for cid, cur, amount in session.execute(
                select(model.customer_id, model.currency, model.amount).where(where)
            ):
                sums[(cid, cur)] = sums.get((cid, cur), ZERO) + abs(amount)
            found = [(cid, cur, total) for (cid, cur), total in sums.items()]
        for cid, cur, total in found:
            totals[(cid, cur)] = Decimal(total or 0)
    return totals


def _check_customer_totals(
    session: Session, model: Any, key: str, out: list[tuple[_Row, Values]], what: str
) -> None:
    """A customer's documents of one kind in one currency, stored and in this file, may add up
    (without sign) to MAX_CUSTOMER_TOTAL at most, so that no sum the product computes for the
    customer can overflow; the row that would take them past it is refused."""
    rows = [
        (r, v)
        for r, v in out
        if v["customer_id"] is not None and v["currency"] and v["amount"] is not None
    ]
    if not rows:
        return
    stored = _stored_totals(session, model, {v["customer_id"] for _, v in rows})
    # Rows already imported are counted in what is stored (only customers with stored documents
    # can have them).
    key_column = getattr(model, key)
    with_stored = {cid for cid, _ in stored}
    maybe_stored = {v[key] for _, v in rows if v[key] and v["customer_id"] in with_stored}
    stored_keys = set(_select_in(session, select(key_column), key_column, maybe_stored))
    running = dict(stored)
    refused: set[tuple[int, str]] = set()
    for r, v in rows:
        if v[key] in stored_keys:
            continue  # already counted (a re-import)
        which = (v["customer_id"], v["currency"])
        running[which] = running.get(which, ZERO) + abs(v["amount"])
        if running[which] > MAX_CUSTOMER_TOTAL and which not in refused:
            refused.add(which)
            code = r.values.get("customer_code", "").strip().upper()
            cur = v["currency"]
            r.fail(
                "amount",
                f"takes customer {code}'s {what} in {cur} to {_shown(running[which], cur)} "
                f"(already stored {_shown(stored.get(which, ZERO), cur)}); at most "
                f"{MAX_CUSTOMER_TOTAL:,} per customer and currency, counted without sign, can be "
                "added up safely",
            )


def _shown(value: Decimal, currency: str) -> str:
    """1234.5000 EUR -> '1,234.50': the currency's decimals, unless that would hide some."""
    exact = Decimal(1).scaleb(-minor_units(currency))
    return f"{value.quantize(exact) if value == value.quantize(exact) else value:,}"


def _normal_code(r: _Row, column: str, ctx: Values) -> str | None:
    """Customer codes compare without case or surrounding spaces: 'c-1001 ' is C-1001."""
    raw = r.values.get(column, "")
    code = r.text(column, pattern=CODE, reason="letters, digits and . _ / - only (max 40)")
    if code is None:
        return None
    normal = code.upper()
    if normal != raw:
        ctx["fixes"].append(f"{r.file}:{r.line}: column {column}: value '{raw}' read as '{normal}'")
    return normal


def _merge_identical(
    out: list[tuple[_Row, Values]], column: str, ctx: Values
) -> list[tuple[str, Values, _Row]]:
    """Rows for the same customer code are merged when they say the same; otherwise an error."""
    first: dict[str, tuple[_Row, Values]] = {}
    # A row without a key has failed: the import stops before any key is used.
    merged: list[tuple[Any, Values, _Row]] = []
    for r, v in out:
        key = v[column]
        if key is None:
            merged.append((key, v, r))
            continue
        if key in first:
            r0, v0 = first[key]
            if v0 == v:
                ctx["fixes"].append(
                    f"{r.file}:{r.line}: duplicate of row {r0.line} for {key}: merged"
                )
            else:
                diff = next(k for k in v if v[k] != v0[k])
                r.fail(
                    diff,
                    f"customer {key} also on row {r0.line} with {diff} {v0[diff]!r}; rows disagree",
                )
            continue
        first[key] = (r, v)
        merged.append((key, v, r))
    return merged


def _country(r: _Row) -> str | None:
    code = r.text("country")
    reason = check_country(code) if code is not None else None
    if reason:
        r.fail("country", reason)
        return None
    return code


def _locale(r: _Row, ctx: Values) -> str | None:
    """A locale Babel knows, stored as notices look it up (``de_DE`` is read as ``de-DE``)."""
    raw = r.text("locale", max_len=10)
    if raw is None:
        return None
    normal, reason = normal_locale(raw)
    if reason:
        r.fail("locale", reason)
        return None
    if normal != raw:
        ctx["fixes"].append(f"{r.file}:{r.line}: column locale: value '{raw}' read as '{normal}'")
    return normal


def _registered_on(r: _Row, ctx: Values) -> date | None:
    day = r.day("registered_on", today=ctx["today"], what="registered")
    if day is not None and day < EARLIEST_REGISTRATION:
        r.fail("registered_on", f"implausibly early (before {EARLIEST_REGISTRATION})")
    return day


def _plan_customers(
    session: Session, rows: list[_Row], ctx: Values
) -> list[tuple[str, Values, _Row]]:
    out = []
    for r in rows:
        v = {
            "code": _normal_code(r, "code", ctx),
            "name": r.text("name"),
            "email": r.text("email", pattern=EMAIL_PATTERN, reason="not an email address"),
            "country": _country(r),
            "currency": r.currency(),
            "locale": _locale(r, ctx) or "en",
            "sales_owner_email": r.text(
                "sales_owner_email", pattern=EMAIL_PATTERN, reason="not an email address"
            ),
            "registered_on": _registered_on(r, ctx),
            "tax_id": r.text("tax_id", max_len=40),
            # One line per address line, separated by " | " (CSV cells stay on one line).
            "postal_address": "\n".join(
                part.strip() for part in (r.text("postal_address", max_len=500) or "").split("|")
            )
            or None,
        }
        out.append((r, v))
    # A re-import from a file without an optional column leaves that field as it is.
    present = set(rows[0].values) if rows else set()
    for _, v in out:
        for optional in ("locale", "registered_on", "tax_id", "postal_address"):
            if optional not in present:
                v.pop(optional, None)
    return _merge_identical(out, "code", ctx)


def _plan_financials(
    session: Session, rows: list[_Row], ctx: Values
) -> list[tuple[str, Values, _Row]]:
    known = _customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    out = []
    # A file without the currency column leaves the currency of a statement already imported as
    # it is; a new statement, or an empty cell, is in the customer's currency.
    has_currency = bool(rows) and "currency" in rows[0].values
    for r in rows:
        customer = _customer_ref(r, known)
        currency = r.currency() if has_currency else None
        if currency is None and not r.values.get("currency", "").strip():
            currency = customer.currency if customer else None
        v: Values = {
            "customer_id": customer.id if customer else None,
            "period_end": r.day("period_end"),
            "currency": currency,
        }
        if not has_currency:
            v[_KEEP_STORED] = ("currency",)
        # A statement's amounts are never added to other amounts, only compared and scaled: they
        # may reach the column's maximum (a large company's statements in yen run to 10^13).
        for column in STATEMENT_AMOUNTS:
            non_negative = column in {
                "total_assets",
                "total_liabilities",
                "current_assets",
                "current_liabilities",
            }
            v[column] = r.amount(column, non_negative=non_negative, maximum=MAX_AMOUNT)
            r.units(column, v[column], currency)
        if (
            v["current_assets"] is not None
            and v["total_assets"] is not None
            and v["current_assets"] > v["total_assets"]
        ):
            r.fail("current_assets", f"larger than total_assets {v['total_assets']}")
        if (
            v["current_liabilities"] is not None
            and v["total_liabilities"] is not None
            and v["current_liabilities"] > v["total_liabilities"]
        ):
            r.fail("current_liabilities", f"larger than total_liabilities {v['total_liabilities']}")
        if (
            v["period_end"] is not None
            and ctx["today"] is not None
            and v["period_end"] > ctx["today"]
        ):
            r.fail("period_end", f"the period ends in the future (today is {ctx['today']})")
        key = f"{r.values.get('customer_code', '').strip().upper()}@{v['period_end']}"
        out.append((r, key, v))
    _dupe_check([(r, k) for r, k, _ in out], "period_end")
    return [(k, v, r) for r, k, v in out]


def _plan_invoices(
    session: Session, rows: list[_Row], ctx: Values
) -> list[tuple[str, Values, _Row]]:
    known = _customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    out = []
    for r in rows:
        customer = _customer_ref(r, known)
        v: Values = {
            "customer_id": customer.id if customer else None,
            "number": r.text("number", pattern=CODE, max_len=60, reason="not a document number"),
            "issue_date": r.day("issue_date", today=ctx["today"], what="issued"),
            "due_date": r.day("due_date"),
            "amount": r.amount("amount", non_zero=True),
            "currency": r.currency(),
        }
        r.units("amount", v["amount"], v["currency"])
        if v["issue_date"] and v["due_date"] and v["due_date"] < v["issue_date"]:
            r.fail("due_date", f"before the issue date {v['issue_date']}")
        out.append((r, v))
    _dupe_check([(r, v["number"]) for r, v in out], "number")
    _check_customer_totals(session, Invoice, "number", out, "invoices")
    # A credit note may name the invoice it reduces (applies_to): already imported or earlier in
    # this file, same customer and currency. Without it, it is a credit on account.
    in_file = {v["number"]: v for _, v in out if v["number"]}
    targets = {r.values.get("applies_to", "").strip() for r, _ in out} - {""}
    stored = {
        i.number: i for i in _select_in(session, select(Invoice), col(Invoice.number), targets)
    }
    for r, v in out:
        ref = r.text("applies_to", pattern=CODE, max_len=60, reason="not a document number")
        if not ref:
            continue
        target: Any = stored.get(ref) or in_file.get(ref)
        if v["amount"] is not None and v["amount"] > 0:
            r.fail("applies_to", "only a credit note (negative amount) applies to an invoice", ref)
        elif target is None:
            r.fail("applies_to", "no such invoice (import it first or earlier in this file)", ref)
        else:
            t_customer = (
                target.customer_id if hasattr(target, "customer_id") else target["customer_id"]
            )
            t_currency = target.currency if hasattr(target, "currency") else target["currency"]
            t_amount = target.amount if hasattr(target, "amount") else target["amount"]
            if t_customer != v["customer_id"]:
                r.fail("applies_to", "belongs to another customer", ref)
            elif t_currency != v["currency"]:
                r.fail(
                    "applies_to", f"invoice is in {t_currency}, credit note in {v['currency']}", ref
                )
            elif t_amount is not None and t_amount < 0:
                r.fail("applies_to", "is itself a credit note", ref)
            else:
                v["applies_to_number"] = ref
    return [(v["number"], v, r) for r, v in out]


def _plan_orders(session: Session, rows: list[_Row], ctx: Values) -> list[tuple[str, Values, _Row]]:
    known = _customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    out = []
    for r in rows:
        customer = _customer_ref(r, known)
        status = (r.text("status") or "open").lower()
        if status not in ("open", "invoiced", "cancelled"):
            r.fail("status", "not one of open, invoiced, cancelled", value=status)
        v: Values = {
            "customer_id": customer.id if customer else None,
            "number": r.text("number", pattern=CODE, max_len=60, reason="not an order number"),
            # The day the order was taken: a date to come is a plan, not an order.
            "order_date": r.day("order_date", today=ctx["today"], what="ordered"),
            "amount": r.amount("amount", positive=True),
            "currency": r.currency(),
            "status": status,
        }
        r.units("amount", v["amount"], v["currency"])
        out.append((r, v))
    _dupe_check([(r, v["number"]) for r, v in out], "number")
    _check_customer_totals(session, SalesOrder, "number", out, "orders")
    return [(v["number"], v, r) for r, v in out]


def _plan_payments(
    session: Session, rows: list[_Row], ctx: Values
) -> list[tuple[str, Values, _Row]]:
    known = _customers_by_code(
        session, {r.values.get("customer_code", "").strip().upper() for r in rows}
    )
    numbers = {r.values.get("invoice_number", "").strip() for r in rows} - {""}
    invoices = (
        {i.number: i for i in _select_in(session, select(Invoice), col(Invoice.number), numbers)}
        if numbers
        else {}
    )
    out = []
    for r in rows:
        customer = _customer_ref(r, known)
        v: Values = {
            "customer_id": customer.id if customer else None,
            "reference": r.text(
                "reference", pattern=CODE, max_len=60, reason="not a payment reference"
            ),
            "paid_on": r.day("paid_on", today=ctx["today"], what="paid"),
            "amount": r.amount("amount", positive=True),
            "currency": r.currency(),
            "method": r.text(
                "method",
                pattern=r"[a-z_]{2,30}",
                max_len=30,
                reason="lower-case word such as bank_transfer",
            ),
            "status": r.text(
                "status", pattern=r"received|bounced", max_len=20, reason="received or bounced"
            )
            or "received",
            "invoice_id": None,
        }
        number = r.text("invoice_number", pattern=CODE, max_len=60, reason="not a document number")
        if number:
            inv = invoices.get(number)
            if inv is None:
                r.fail("invoice_number", "no such invoice; import invoices first")
            elif customer and inv.customer_id != customer.id:
                r.fail("invoice_number", f"belongs to another customer, not {customer.code}")
            elif v["currency"] and inv.currency != v["currency"]:
                r.fail(
                    "invoice_number", f"invoice is in {inv.currency}, payment in {v['currency']}"
                )
            else:
                v["invoice_id"] = inv.id
        r.units("amount", v["amount"], v["currency"])
        out.append((r, v))
    _dupe_check([(r, v["reference"]) for r, v in out], "reference")
    _check_customer_totals(session, Payment, "reference", out, "payments")
    if rows and "status" not in rows[0].values:
        for _, v in out:
            v.pop("status", None)  # a file without the column leaves a stored status alone
    return [(v["reference"], v, r) for r, v in out]


def _plan_fx_rates(
    session: Session, rows: list[_Row], ctx: Values
) -> list[tuple[str, Values, _Row]]:
    out = []
    for r in rows:
        v: Values = {
            "currency": r.currency(),
            "rate_date": r.day("rate_date"),
            "rate_to_base": None,
        }
        raw = r.text("rate_to_base", max_len=40)
        if raw is not None:
            try:
                rate = Decimal(raw)
                if not rate.is_finite() or rate <= 0:
                    raise ValueError("must be a positive number")
                if decimal_exponent(rate) < -10:
                    raise ValueError("more than 10 decimal places")
                if rate >= Decimal("1000000000000"):
                    raise ValueError("implausibly large (at most 999,999,999,999.9999999999)")
                v["rate_to_base"] = rate
            except (ArithmeticError, ValueError) as exc:
                reason = str(exc) if isinstance(exc, ValueError) else "not a number"
                r.fail(
                    "rate_to_base", reason if "," not in raw else "use '.' as the decimal separator"
                )
        if v["currency"] and ctx["base_currency"] and v["currency"] == ctx["base_currency"]:
            r.fail("currency", f"{v['currency']} is the base currency; it needs no rate")
        if v["rate_date"] and ctx["today"] and v["rate_date"] > ctx["today"]:
            r.fail("rate_date", f"in the future (today is {ctx['today']})")
        out.append((r, f"{v['currency']}@{v['rate_date']}", v))
    _dupe_check([(r, k) for r, k, _ in out], "rate_date")
    return [(k, v, r) for r, k, v in out]


def _rates_lookup(session: Session, keys: list[str]) -> dict[str, Any]:
    currencies = {k.split("@")[0] for k in keys}
    return {
        f"{x.currency}@{x.rate_date}": x
        for x in session.exec(select(FxRate).where(col(FxRate.currency).in_(currencies)))
    }


@dataclass(frozen=True)
class _Spec:
    model: type
    plan: Callable[[Session, list[_Row], Values], list[tuple[str, Values, _Row]]]
    key_of: Callable[[Any], str]
    lookup: Callable[[Session, list[str]], dict[str, Any]]
    editable: bool
    key_column: str


def _lookup(model: Any, column: str) -> Callable[[Session, list[str]], dict[str, Any]]:
    def find(session: Session, keys: list[str]) -> dict[str, Any]:
        key_column = getattr(model, column)
        found: dict[str, Any] = {}
        for i in range(0, len(keys), 500):
            for obj in session.exec(select(model).where(key_column.in_(keys[i : i + 500]))):
                found[getattr(obj, column)] = obj
        return found

    return find


def _statements_lookup(session: Session, keys: list[str]) -> dict[str, Any]:
    codes = {k.split("@")[0] for k in keys}
    customers = _customers_by_code(session, codes)
    by_id = {c.id: c.code for c in customers.values()}
    found = {}
    if by_id:
        for st in _select_in(
            session, select(FinancialStatement), col(FinancialStatement.customer_id), by_id
        ):
            found[f"{by_id[st.customer_id]}@{st.period_end}"] = st
    return found


SPECS: dict[str, _Spec] = {
    "fx-rates": _Spec(FxRate, _plan_fx_rates, lambda o: "", _rates_lookup, True, "rate_date"),
    "customers": _Spec(
        Customer, _plan_customers, lambda o: o.code, _lookup(Customer, "code"), True, "code"
    ),
    "financials": _Spec(
        FinancialStatement, _plan_financials, lambda o: "", _statements_lookup, True, "period_end"
    ),
    "invoices": _Spec(
        Invoice, _plan_invoices, lambda o: o.number, _lookup(Invoice, "number"), False, "number"
    ),
    "orders": _Spec(
        SalesOrder, _plan_orders, lambda o: o.number, _lookup(SalesOrder, "number"), False, "number"
    ),
    "payments": _Spec(
        Payment,
        _plan_payments,
        lambda o: o.reference,
        _lookup(Payment, "reference"),
        False,
        "reference",
    ),
}


_KEEP_STORED = "keep_stored"  # columns a re-import leaves as they are (not in the file)
_NOT_COLUMNS = ("applies_to_number", _KEEP_STORED)  # the credit note's target is not a column


def _differences(obj: Any, values: Values) -> dict[str, tuple[Any, Any]]:
    diffs = {}
    keep = values.get(_KEEP_STORED, ())
    for k, new in values.items():
        if k in _NOT_COLUMNS or k in keep:
            continue
        old = getattr(obj, k)
        if isinstance(old, Decimal) and new is not None:
            same = old == Decimal(new)
        else:
            same = old == new
        if not same:
            diffs[k] = (old, new)
    return diffs


def import_file(
    session: Session,
    *,
    kind: str,
    path: Path,
    actor: str,
    dry_run: bool,
    today: date | None = None,
    base_currency: str | None = None,
) -> ImportPlan:
    """Validate the whole file, then write every row in the caller's transaction or none.

    Raises :class:`ImportFailed` listing every bad value; the caller commits only on success.
    """
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    spec = SPECS[kind]
    rows, errors = read_rows(path, kind)
    if errors:
        raise ImportFailed(errors)
    plan_fixes: list[str] = []
    planned = spec.plan(
        session, rows, {"today": today, "base_currency": base_currency, "fixes": plan_fixes}
    )
    by_key_row = {k: r for k, _, r in planned}
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    existing = spec.lookup(session, [k for k, _, _ in planned])
    plan = ImportPlan(kind=kind, file=str(path), rows=len(rows), fixes=plan_fixes)
    changes: list[tuple[str, Values, Any, dict[str, tuple[Any, Any]]]] = []
    for key, values, _ in planned:
        obj = existing.get(key)
        if obj is None:
            plan.created.append(key)
            changes.append((key, values, None, {}))
            continue
        diffs = _differences(obj, values)
        if not diffs:
            plan.unchanged.append(key)
        elif not spec.editable and set(diffs) == {"status"} and kind in ("payments", "orders"):
            # A payment's status may change (a direct debit bounces), an order's too (invoiced,
            # cancelled); amounts and dates may not.
            plan.updated.append(key)
            changes.append((key, values, obj, diffs))
        elif not spec.editable:
            changed, (old, new) = next(iter(diffs.items()))
            by_key_row[key].fail(
                changed,
                f"{kind[:-1]} {key} was already imported with {changed} {old}; "
                "posted documents are not changed by import (post a credit note)",
                value=str(new),
            )
        else:
            plan.updated.append(key)
            changes.append((key, values, obj, diffs))
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    if dry_run:
        return plan
    # Receivables change: take the customers' locks first, so a dunning run either sees these
    # rows or commits before them (never a notice about an invoice paid a moment earlier).
    lock_customers(
        session, {v["customer_id"] for _, v, _, _ in changes if v.get("customer_id") is not None}
    )
    links: dict[str, str] = {}  # credit note -> the invoice it applies to
    for key, values, obj, diffs in changes:
        if obj is None:
            values = dict(values)
            target = values.pop("applies_to_number", None)
            values.pop(_KEEP_STORED, None)
            if target:
                links[key] = target
            session.add(spec.model(**values))
        else:
            for k, (_, new) in diffs.items():
                setattr(obj, k, new)
            if hasattr(obj, "updated_at"):
                obj.updated_at = utcnow()
            session.add(obj)
            audit.record(
                session,
                actor=actor,
                action=f"import.{kind}.update",
                entity_type=kind[:-1],
                entity_id=key,
                before={k: o for k, (o, _) in diffs.items()},
                after={k: n for k, (_, n) in diffs.items()},
                reason=f"import of {path.name}",
            )
    if links:
        session.flush()
        ids = dict(
            _select_in(
                session, select(Invoice.number, Invoice.id), col(Invoice.number), links.values()
            )
        )
        for number, target in links.items():
            session.execute(
                update(Invoice)
                .where(col(Invoice.number) == number)
                .values(applies_to_id=ids[target])
            )
    if plan.created:
        audit.record(
            session,
            actor=actor,
            action=f"import.{kind}.create",
            entity_type=kind[:-1],
            entity_id=path.name,
            after={"created": plan.created[:1000], "count": len(plan.created)},
            reason=f"import of {path.name}",
        )
    session.flush()
    plan.applied = True
    return plan
