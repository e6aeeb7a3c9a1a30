"""Bank statements as the bank sends them, told apart by their content:

- **ISO 20022 camt.053** (any ``camt.053.001.xx``): an XML document whose root ``Document`` is in
  the namespace ``urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx``; read by a hardened parser
  (defusedxml: a DTD, and with it any entity declaration, refuses the file);
- **SWIFT MT940**: text whose first tag is ``:20:`` (after blank lines and an optional SWIFT
  envelope ``{1:...}{2:...}{4:``), cut with the ``mt940`` library's tag grammar.

Anything else is refused. So is every file with a problem, whole, each problem on its own line
with the file, line, field, value and reason (:class:`StatementRejected`). A file may hold
several statements (several ``Stmt``, several ``:20:`` blocks, one per account or day):
:func:`read_statements` returns them all, in the file's order; :func:`read_statement` is for a
file that must hold exactly one. See docs/statements.md for the fields read.
"""

from __future__ import annotations

from pathlib import Path

from credit.domain.statements import Statement, StatementProblem
from credit.importers.statements.camt053 import read_camt053
from credit.importers.statements.checks import Problems, StatementRejected
from credit.importers.statements.swift import looks_like_mt940, parse_mt940
from credit.importers.statements.xmltree import XmlRefused

CAMT053 = "camt.053"
MT940 = "mt940"
MAX_STATEMENT_BYTES = 50 * 1024 * 1024  # a day's statement of a busy account is a few MB
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

__all__ = [
    "CAMT053",
    "MAX_STATEMENT_BYTES",
    "MT940",
    "StatementRejected",
    "parse_statements",
    "read_statement",
    "read_statements",
    "statement_format",
]


def read_statements(path: Path) -> list[Statement]:
    """Every statement in the file at ``path`` (at least one), or :class:`StatementRejected`
    listing every problem."""
    file = str(path)
    return parse_statements(_read(path, file), file=file)


def read_statement(path: Path) -> Statement:
    """The one statement in the file at ``path``; a file holding several is refused (use
    :func:`read_statements`)."""
    statements = read_statements(path)
    if len(statements) != 1:
        ids = ", ".join(s.statement_id for s in statements)
        raise StatementRejected(
            str(path),
            [
                StatementProblem(
                    None,
                    "file",
                    ids,
                    f"holds {len(statements)} statements where one was expected "
                    "(read it with read_statements)",
                )
            ],
        )
    return statements[0]


def statement_format(data: bytes) -> str | None:
    """Which parser the content calls for: ``camt.053`` for an XML document (the camt parser
    refuses XML of any other kind, saying which), ``mt940`` for text starting with ``:20:``,
    None for anything else."""
    head = data.lstrip()
    for bom in _BOMS:
        head = head.removeprefix(bom).lstrip()
    if head.startswith((b"<", b"<\x00", b"\x00<")):
        return CAMT053
    text = _text(data)
    if text is not None and looks_like_mt940(text):
        return MT940
    return None


def parse_statements(data: bytes, *, file: str) -> list[Statement]:
    """The statements in ``data`` (the content of ``file``, named in messages)."""
    problems = Problems()
    statements: list[Statement] = []
    kind = statement_format(data)
    if not data.strip():
        problems.add(None, "file", "", "empty file: no statement in it")
    elif kind == CAMT053:
        statements = _camt053(data, problems)
    elif kind == MT940:
        statements = parse_mt940(_text(data) or "", problems)
    else:
        first = (_text(data) or "").strip().splitlines()[:1]
        problems.add(
            1,
            "file",
            first[0] if first else "",
            "not a bank statement: neither camt.053 XML (ISO 20022) nor MT940 "
            "(which starts with :20:)",
        )
    if problems:
        raise StatementRejected(file, sorted(problems.items, key=lambda p: p.line or 0))
    if not statements:
        raise StatementRejected(file, [StatementProblem(None, "file", "", "holds no statement")])
    return statements


def _camt053(data: bytes, problems: Problems) -> list[Statement]:
    try:
        return read_camt053(data, problems)
    except XmlRefused as refused:
        problems.add(refused.line, "XML", _shown_line(data, refused.line), refused.reason)
        return []


def _read(path: Path, file: str) -> bytes:
    """The file's bytes, unless it cannot be read or is larger than a statement may be."""
    try:
        size = path.stat().st_size
        if size > MAX_STATEMENT_BYTES:
            raise StatementRejected(
                file,
                [
                    StatementProblem(
                        None,
                        "file",
                        f"{size} bytes",
                        f"too large: a statement file may have at most {MAX_STATEMENT_BYTES} "
                        "bytes (ask the bank for one file per day)",
                    )
                ],
            )
        return path.read_bytes()
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror or exc}"
        raise StatementRejected(file, [StatementProblem(None, "file", file, reason)]) from exc


def _text(data: bytes) -> str | None:
    """MT940 text: UTF-8 (with or without a BOM), else Latin-1 as German banks write umlauts;
    None for binary content."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _shown_line(data: bytes, line: int | None) -> str:
    """The file's line ``line`` (what an XML error is about), shortened."""
    if not line:
        return ""
    text = _text(data) or data.decode("utf-16", errors="replace")
    lines = text.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
