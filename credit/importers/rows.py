"""Reading a CSV file: decoding, the header, and rows whose fields parse with located errors
(``FILE:ROW: column C: value 'V': REASON``), collected instead of raised."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from credit.domain.columns import COLUMNS, OPTIONAL
from credit.domain.money import (
    MAX_AMOUNT,
    MAX_DOCUMENT_AMOUNT,
    check_amount,
    check_currency,
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


class ImportSummary(TypedDict):
    """What an import did (or, dry, would do): counts per outcome and the values it read anew."""

    kind: str
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int
    fixes: list[str]
    applied: bool
    removed: NotRequired[int]  # contacts: those a customer's new list no longer has


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
    removed: list[str] = field(default_factory=list)

    def summary(self) -> ImportSummary:
        summary: ImportSummary = {
            "kind": self.kind,
            "file": self.file,
            "rows": self.rows,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "fixes": self.fixes,
            "applied": self.applied,
        }
        if self.kind == "contacts":
            summary["removed"] = len(self.removed)
        return summary


CONTROL = re.compile("[\x00-\x1f\x7f]")  # a line break or another control character
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST_REGISTRATION = date(1800, 1, 1)
PATTERNS: dict[str, re.Pattern[str]] = {}


def compiled(pattern: str) -> re.Pattern[str]:
    """Patterns are compiled once (a large file checks each a million times)."""
    found = PATTERNS.get(pattern)
    if found is None:
        found = PATTERNS[pattern] = re.compile(pattern)
    return found


class Row:
    """One CSV row with typed, located field parsing that collects errors instead of raising."""

    __slots__ = ("errors", "file", "line", "optional", "values")  # a file has millions of rows

    def __init__(
        self,
        file: str,
        line: int,
        values: dict[str, str],
        errors: list[ImportErrorItem],
        *,
        optional: frozenset[str] = frozenset(),
    ) -> None:
        self.file, self.line, self.values, self.errors = file, line, values, errors
        self.optional = optional

    def fail(self, column: str, reason: str, value: str | None = None) -> None:
        raw = self.values.get(column, "") if value is None else value
        self.errors.append(ImportErrorItem(self.file, self.line, column, raw, reason))

    def text(
        self, column: str, *, pattern: str | None = None, max_len: int = 200, reason: str = ""
    ) -> str | None:
        raw = self.values.get(column, "").strip()
        if CONTROL.search(raw):
            self.fail(column, "contains a line break or another control character")
            return None
        if raw == "":
            if column not in self.optional:
                self.fail(column, "required")
            return None
        if len(raw) > max_len:
            self.fail(column, f"longer than {max_len} characters")
            return None
        if pattern and not compiled(pattern).fullmatch(raw):
            self.fail(column, reason or f"does not match {pattern}")
            return None
        return raw

    def day(self, column: str, *, today: date | None = None, what: str = "") -> date | None:
        """An ISO date; with ``today``, a date after it is refused (``what`` says what it dates)."""
        raw = self.text(column, max_len=10)
        if raw is None:
            return None
        if not ISO_DATE.fullmatch(raw):
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


# The values a planner reads from one row (column -> value), and the rows a planner returns:
# (key, values, row) each.
Values = dict[str, Any]


def read_rows(path: Path, kind: str) -> tuple[list[Row], list[ImportErrorItem]]:
    """Decode and split the file, checking the header; rows are not yet validated."""
    name = str(path)
    data, errors = _decoded(path)
    if errors:
        return [], errors
    # Decoded as it is read: a StringIO of the whole text would hold four bytes a character
    # (400 MB for a 100 MB file) for as long as the rows are read.
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    header, errors = _header(reader, name, kind)
    if errors:
        return [], errors
    return _data_rows(reader, name, header, kind)


def _decoded(path: Path) -> tuple[bytes, list[ImportErrorItem]]:
    """The file's bytes once they are known to be UTF-8 text (with or without a BOM), or why it
    cannot be read."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return b"", [
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
        return b"", [ImportErrorItem(name, 0, "-", name, f"cannot read file: {exc.strerror}")]
    try:
        data.decode("utf-8-sig")  # checked whole first: a bad byte changes nothing
        return data, []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        return b"", [
            ImportErrorItem(name, line, "-", bad, "bytes are not UTF-8; save the file as UTF-8")
        ]


def _header(
    reader: Iterator[list[str]], name: str, kind: str
) -> tuple[list[str], list[ImportErrorItem]]:
    """The header row, stripped, or what is wrong with it."""
    try:
        header = next(reader)
    except StopIteration:
        return [], [ImportErrorItem(name, 1, "-", "", "empty file: a header row is required")]
    except csv.Error as exc:
        return [], [ImportErrorItem(name, 1, "-", "", f"not valid CSV: {exc}")]
    header = [h.strip() for h in header]
    if len(header) == 1 and ";" in header[0]:
        return [], [ImportErrorItem(name, 1, "-", header[0], "separator must be ',' not ';'")]
    return header, _header_errors(name, header, kind)


def _header_errors(name: str, header: list[str], kind: str) -> list[ImportErrorItem]:
    """Unknown, missing and repeated columns."""
    expected = COLUMNS[kind]
    unknown = [h for h in header if h not in expected]
    missing = [c for c in expected if c not in header and c not in OPTIONAL[kind]]
    errors = [
        ImportErrorItem(name, 1, h, h, f"unknown column; expected {','.join(expected)}")
        for h in unknown
    ]
    errors += [
        ImportErrorItem(name, 1, c, "", "required column is missing from the header")
        for c in missing
    ]
    dupes = sorted({h for h in header if header.count(h) > 1})
    errors += [ImportErrorItem(name, 1, h, h, "column appears more than once") for h in dupes]
    return errors


def _data_rows(
    reader: Any, name: str, header: list[str], kind: str
) -> tuple[list[Row], list[ImportErrorItem]]:
    """The data rows (blank lines skipped); each row collects its errors in the list returned."""
    errors: list[ImportErrorItem] = []
    rows: list[Row] = []
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
                Row(
                    name,
                    line,
                    dict(zip(header, values, strict=True)),
                    errors,
                    optional=OPTIONAL[kind],
                )
            )
    except csv.Error as exc:
        errors.append(ImportErrorItem(name, reader.line_num, "-", "", f"not valid CSV: {exc}"))
    if not rows and not errors:
        errors.append(ImportErrorItem(name, 2, "-", "", "no data rows"))
    return rows, errors
