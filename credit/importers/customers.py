"""Planning a customers file: codes read without case, locales as notices look them up, rows for
the same customer merged when they agree."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from credit.domain.codes import check_country, normal_locale
from credit.domain.directory import EMAIL_PATTERN
from credit.importers.customer_dunning import plan_dunning_columns
from credit.importers.rows import CODE, EARLIEST_REGISTRATION, Row, Values


def normal_code(r: Row, column: str, ctx: Values) -> str | None:
    """Customer codes compare without case or surrounding spaces: 'c-1001 ' is C-1001."""
    raw = r.values.get(column, "")
    code = r.text(column, pattern=CODE, reason="letters, digits and . _ / - only (max 40)")
    if code is None:
        return None
    normal = code.upper()
    if normal != raw:
        ctx["fixes"].append(f"{r.file}:{r.line}: column {column}: value '{raw}' read as '{normal}'")
    return normal


def merge_identical(
    out: list[tuple[Row, Values]], column: str, ctx: Values
) -> list[tuple[str, Values, Row]]:
    """Rows for the same customer code are merged when they say the same; otherwise an error."""
    first: dict[str, tuple[Row, Values]] = {}
    # A row without a key has failed: the import stops before any key is used.
    merged: list[tuple[Any, Values, Row]] = []
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


def country(r: Row) -> str | None:
    code = r.text("country")
    reason = check_country(code) if code is not None else None
    if reason:
        r.fail("country", reason)
        return None
    return code


def locale(r: Row, ctx: Values) -> str | None:
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


def registered_on(r: Row, ctx: Values) -> date | None:
    day = r.day("registered_on", today=ctx["today"], what="registered")
    if day is not None and day < EARLIEST_REGISTRATION:
        r.fail("registered_on", f"implausibly early (before {EARLIEST_REGISTRATION})")
    return day


def plan_customers(
    _session: Session, rows: list[Row], ctx: Values
) -> list[tuple[str, Values, Row]]:
    out = []
    for r in rows:
        v = {
            "code": normal_code(r, "code", ctx),
            "name": r.text("name"),
            "email": r.text("email", pattern=EMAIL_PATTERN, reason="not an email address"),
            "country": country(r),
            "currency": r.currency(),
            "locale": locale(r, ctx) or "en",
            "sales_owner_email": r.text(
                "sales_owner_email", pattern=EMAIL_PATTERN, reason="not an email address"
            ),
            "registered_on": registered_on(r, ctx),
            "tax_id": r.text("tax_id", max_len=40),
            # One line per address line, separated by " | " (CSV cells stay on one line).
            "postal_address": "\n".join(
                part.strip() for part in (r.text("postal_address", max_len=500) or "").split("|")
            )
            or None,
        }
        out.append((r, v))
        plan_dunning_columns(_session, r, v["code"], ctx)  # beside the row: profile, segment
    # A re-import from a file without an optional column leaves that field as it is.
    present = set(rows[0].values) if rows else set()
    for _, v in out:
        for optional in ("locale", "registered_on", "tax_id", "postal_address"):
            if optional not in present:
                v.pop(optional, None)
    return merge_identical(out, "code", ctx)
