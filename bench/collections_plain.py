"""The plain side of the collections benchmark: the first collections run of a fresh portfolio
written for speed, independent of the product (it imports nothing from ``credit``).

What it does, as of a date, for customers with no dunning history:
- one streamed SQL scan of the open items per customer and currency (the DB driver directly:
  sqlite3 or psycopg): an invoice's amount less its received payments paid by then and the
  credit notes applied to it issued by then; disputed invoices (a dispute opened by then and not
  resolved by then) neither listed nor counted; unallocated credits (payments on account,
  credit notes applying to nothing) net the total;
- who gets the level 1 notice of the published policy (read as JSON from the database): the
  overdue total above the tolerance, and an item past its level 1 trigger among the items from
  the one that takes the running balance (net of credits, oldest first) past the tolerance on;
  the customer's dunning profile (assigned, else the policy's default) stands in for the levels;
- per notice: a text and an HTML part with money formatted by Babel in the customer's locale, an
  A4 PDF letter with the items (fpdf2, core Helvetica) and, in euros, an EPC QR code (segno,
  error M) on it and inline in the HTML (made once), the MIME message built by hand, written as
  a ``.eml`` file, and the outbox row (multi-row inserts, one transaction per few thousand).

Limits (it is a bound, not the product): a customer's e-mail address only (no contacts), no
holidays (weekends only), no profile rules (it stops if the policy has some), Latin text only in
the PDF (the core font), level 1 only (it stops if the database has dunning history).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

SCALE = 10_000  # SQLite stores money as integers of 1/10,000 (PostgreSQL: NUMERIC(19,4))
CENT = Decimal("0.01")
PER_TRANSACTION = 2_000
PER_INSERT = 200


# -- the database, through its driver ---------------------------------------------------------


class Db:
    """A connection of the URL's driver: ``?`` or ``%s`` placeholders, money as integers of
    1/10,000 and dates as ``date`` whichever the database."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            import sqlite3

            path = url.split(":///", 1)[1]
            self.conn: Any = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.ph = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(re.sub(r"^postgresql\+\w+://", "postgresql://", url))
            self.ph = "%s"

    def money(self, column: str) -> str:
        return column if self.sqlite else f"CAST({column} * {SCALE} AS BIGINT)"

    def query(self, sql: str, params: tuple = ()) -> Iterator[tuple]:
        sql = sql.replace("?", self.ph)
        if self.sqlite:
            yield from self.conn.execute(sql, params)
            return
        with self.conn.cursor(name="plain_scan") as cur:  # server-side: streamed
            cur.itersize = 10_000
            cur.execute(sql, params)
            yield from cur

    def all(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = sql.replace("?", self.ph)
        if self.sqlite:
            return self.conn.execute(sql, params).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        """Multi-row INSERTs (``PER_INSERT`` rows a statement)."""
        one = "(" + ",".join([self.ph] * len(columns)) + ")"
        head = f"INSERT INTO {table} ({','.join(columns)}) VALUES "
        cur = self.conn.cursor()
        for i in range(0, len(rows), PER_INSERT):
            chunk = rows[i : i + PER_INSERT]
            cur.execute(head + ",".join([one] * len(chunk)), [v for r in chunk for v in r])

    def begin(self) -> None:
        if self.sqlite:
            self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.commit() if not self.sqlite else self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def _day(value: Any) -> date:
    return value if isinstance(value, date) else _iso_day(value)


@lru_cache(maxsize=4096)
def _iso_day(text: str) -> date:
    return date.fromisoformat(text[:10])


ITEMS = """
WITH paid AS (
  SELECT invoice_id, customer_id, SUM(amount) AS paid FROM payment
  WHERE invoice_id IS NOT NULL AND status = 'received' AND paid_on <= ?
  GROUP BY invoice_id, customer_id),
applied AS (
  SELECT applies_to_id, customer_id, SUM(amount) AS applied FROM invoice
  WHERE amount < 0 AND applies_to_id IS NOT NULL AND issue_date <= ?
  GROUP BY applies_to_id, customer_id),
disputed AS (
  SELECT DISTINCT invoice_id FROM dispute
  WHERE opened_on <= ? AND (resolved_on IS NULL OR resolved_on > ?))
SELECT i.customer_id, i.currency, i.number, i.due_date, {amount},
       {paid}, {applied}, i.kind, t.id, d.invoice_id
FROM invoice i
LEFT JOIN paid p ON p.invoice_id = i.id AND p.customer_id = i.customer_id
LEFT JOIN applied a ON a.applies_to_id = i.id AND a.customer_id = i.customer_id
LEFT JOIN invoice t ON t.id = i.applies_to_id AND t.customer_id = i.customer_id
                   AND t.issue_date <= ?
LEFT JOIN disputed d ON d.invoice_id = i.id
WHERE i.issue_date <= ?
UNION ALL
SELECT customer_id, currency, reference, paid_on, {minus_payment}, 0, 0, 'payment', NULL, NULL
FROM payment WHERE invoice_id IS NULL AND status = 'received' AND paid_on <= ?
ORDER BY 1, 2
"""


# -- the policy's rules -------------------------------------------------------------------------


def _units(text: str) -> int:
    return int(Decimal(text) * SCALE)


def _end_of_month(day: date) -> date:
    nxt = day.replace(day=28) + timedelta(days=4)
    return nxt - timedelta(days=nxt.day)


def _trigger(level: dict, due: date) -> date:
    if level["trigger"] == "end_of_month":
        return _end_of_month(due + timedelta(days=level["days"]))
    return due + timedelta(days=level["days"])  # after_due; after_previous counts from the due


def _business_day(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def decide(items: list[tuple], as_of: date, tolerance: int, level: dict, currency: str
           ) -> tuple[list[tuple], list[tuple], int] | None:  # fmt: skip
    """(overdue items, credits, total) when the level's notice goes out, else None.

    ``items``: (number, due date, open amount in units, kind, disputed)."""
    overdue = sorted(
        (i for i in items if i[2] > 0 and i[1] < as_of and not i[4]), key=lambda i: (i[1], i[0])
    )
    credits = sorted((i for i in items if i[2] < 0), key=lambda i: (i[1], i[0]))
    total = sum(i[2] for i in overdue) + sum(c[2] for c in credits)
    if total <= tolerance or not overdue:
        return None
    available = -sum(c[2] for c in credits)
    running, reference, climbs = 0, None, False
    for _number, due, amount, kind, _ in overdue:
        used = min(available, amount)
        available -= used
        running += amount - used
        if reference is None and running > tolerance:
            reference = due
        if (reference is not None and kind == "invoice" and amount - used > 0
                and as_of >= _trigger(level, due)):  # fmt: skip
            climbs = True
    if not climbs:
        return None
    minimum = level.get("min_amount", {}).get(currency)
    if minimum is not None and total < _units(minimum):
        return None
    return overdue, credits, total


def _levels(policy: dict, profile: str | None) -> tuple[list[dict], bool]:
    profiles = policy.get("dunning_profiles") or {}
    found = (profiles.get("profiles") or {}).get(profile) if profile else None
    if found is None:
        return policy["dunning"]["levels"], True
    return found.get("levels") or policy["dunning"]["levels"], found.get("dun", True)


# -- money, references, the QR code -------------------------------------------------------------


@lru_cache(maxsize=64)
def _locale(name: str) -> Any:
    from babel import Locale

    return Locale.parse(name.replace("-", "_"))


@lru_cache(maxsize=64)
def _pattern(locale: str, currency: str) -> tuple[Any, Any]:
    loc = _locale(locale)
    return loc, loc.currency_formats["standard"]


def fmt(units: int, currency: str, locale: str) -> str:
    loc, pattern = _pattern(locale, currency)
    amount = (Decimal(units) / SCALE).quantize(CENT)
    return pattern.apply(amount, loc, currency=currency, currency_digits=True)


def _rf_check(body: str) -> str:
    digits = "".join(str(int(c, 36)) for c in body + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{body}"


def reference(code: str, key: str) -> str:
    """An ISO 11649 reference: the customer's code and 11 base-36 characters of the key's hash."""
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    chars = []
    while digest and len(chars) < 11:
        digest, rest = divmod(digest, 36)
        chars.append("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest])
    return _rf_check(re.sub(r"[^A-Z0-9]", "", code.upper())[:10] + "".join(chars))


def grouped(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_matrix(name: str, iban: str, units: int, rf: str) -> tuple:
    """The EPC QR code (version 002, SCT) asking for ``units`` to ``iban`` with ``rf``."""
    import segno

    payload = "\n".join(
        ["BCD", "002", "1", "SCT", "", name[:70], iban, f"EUR{Decimal(units) / SCALE:.2f}", "", rf]
    )
    return segno.make(payload, error="m", micro=False).matrix


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(matrix: tuple, scale: int = 3, border: int = 2) -> bytes:
    """A 1-bit grey PNG of the code (written directly: no image library)."""
    width = (len(matrix) + 2 * border) * scale
    pad = "0" * ((8 - width % 8) % 8)
    size = (width + len(pad)) // 8
    white = b"\x00" + int("1" * width + pad, 2).to_bytes(size, "big")
    quiet = "1" * (border * scale)
    lines = [white] * (border * scale)
    for row in matrix:
        bits = quiet + "".join(("0" if m & 1 else "1") * scale for m in row) + quiet + pad
        lines += [b"\x00" + int(bits, 2).to_bytes(size, "big")] * scale
    lines += [white] * (border * scale)
    head = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", head)
            + _chunk(b"IDAT", zlib.compress(b"".join(lines), 6)) + _chunk(b"IEND", b""))  # fmt: skip


def _qr_ops(matrix: tuple, x: float, y: float, width: float) -> str:
    """The code as PDF fill operators (runs of dark modules per row), at (x, y) mm from the top
    left of an A4 page."""
    pt = 72 / 25.4
    module = width / (len(matrix) + 4)
    h = module * pt
    ops = []
    for r, row in enumerate(matrix):
        bottom = (297 - y - (r + 3) * module) * pt
        c, n = 0, len(row)
        while c < n:
            if row[c] & 1:
                start = c
                while c < n and row[c] & 1:
                    c += 1
                ops.append(f"{(x + (start + 2) * module) * pt:.2f} {bottom:.2f} "
                           f"{(c - start) * h:.2f} {h:.2f} re")  # fmt: skip
            else:
                c += 1
    return "q 0 g " + " ".join(ops) + " f Q"


# -- the notice's parts ------------------------------------------------------------------------


def _latin(text: str) -> str:
    return text.encode("cp1252", "replace").decode("cp1252")


def pdf_letter(c: dict, n: dict, company: dict, qr: tuple | None) -> bytes:
    """An A4 letter: the addresses, the items table, the total, how to pay (and the QR code)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=8)
    pdf.text(20, 20, _latin(company["address"]))
    pdf.set_font("Helvetica", size=10)
    y = 32.0
    for line in (c["postal_address"] or c["name"]).splitlines():
        pdf.text(20, y, _latin(line))
        y += 5
    pdf.text(160, y + 8, n["as_of"])
    pdf.set_font("Helvetica", "B", 13)
    pdf.text(20, y + 18, _latin(n["title"]))
    pdf.set_font("Helvetica", size=10)
    pdf.text(20, y + 26, _latin(f"Customer {c['code']}: the following items are overdue."))
    y += 36
    pdf.set_font("Helvetica", "B", 9)
    pdf.text(20, y, "Item")
    pdf.text(70, y, "Due")
    pdf.text(105, y, "Days")
    pdf.text(150, y, "Open")
    pdf.line(20, y + 1.5, 190, y + 1.5)
    pdf.set_font("Helvetica", size=9)
    right = pdf.get_string_width
    for number, due, days, amount in n["rows"]:
        y += 5
        if y > 275:
            pdf.add_page()
            y = 20.0
        text = _latin(amount)
        pdf.text(20, y, number)
        pdf.text(70, y, due)
        pdf.text(115 - right(str(days)), y, str(days))
        pdf.text(190 - right(text), y, text)
    for number, day, amount in n["credit_rows"]:
        y += 5
        if y > 275:
            pdf.add_page()
            y = 20.0
        text = _latin(amount)
        pdf.text(20, y, _latin(number))
        pdf.text(70, y, day)
        pdf.text(190 - right(text), y, text)
    if y > 220:
        pdf.add_page()
        y = 20.0
    pdf.line(20, y + 2, 190, y + 2)
    pdf.set_font("Helvetica", "B", 10)
    total = _latin(n["total"])
    pdf.text(20, y + 7, "Total")
    pdf.text(190 - pdf.get_string_width(total), y + 7, total)
    pdf.set_font("Helvetica", size=10)
    pdf.text(20, y + 16, _latin(f"Please pay by {n['pay_by']} to {company['iban_grouped']}"))
    pdf.text(20, y + 21, f"Reference: {n['rf_grouped']}")
    if qr is not None:
        pdf._out(_qr_ops(qr, 150, y + 26, 35))
    return bytes(pdf.output())


def texts(c: dict, n: dict, company: dict, qr_cid: str | None) -> tuple[str, str, str]:
    subject = f"{n['title']}: {n['total']} overdue ({c['code']})"
    lines = [f"Dear {c['name']},", "", "the following items are overdue:", ""]
    lines += [f"  {num}  due {due}  {days} days  {amount}" for num, due, days, amount in n["rows"]]
    lines += [f"  {num}  {day}  {amount}" for num, day, amount in n["credit_rows"]]
    lines += ["", f"Total: {n['total']}", f"Please pay by {n['pay_by']} to "
              f"{company['iban_grouped']}, reference {n['rf_grouped']}.", "", company["name"]]  # fmt: skip
    rows = "".join(
        f"<tr><td>{num}</td><td>{due}</td><td>{days}</td><td>{escape(amount)}</td></tr>"
        for num, due, days, amount in n["rows"]
    ) + "".join(
        f"<tr><td>{escape(num)}</td><td>{day}</td><td></td><td>{escape(amount)}</td></tr>"
        for num, day, amount in n["credit_rows"]
    )
    image = f'<p><img src="cid:{qr_cid}" alt="EPC QR code"></p>' if qr_cid else ""
    html = (
        f"<html><body><p>Dear {escape(c['name'])},</p><p>the following items are overdue:</p>"
        f"<table><tr><th>Item</th><th>Due</th><th>Days</th><th>Open</th></tr>{rows}"
        f"<tr><th colspan=3>Total</th><th>{escape(n['total'])}</th></tr></table>"
        f"<p>Please pay by {n['pay_by']} to {company['iban_grouped']}, reference "
        f"{n['rf_grouped']}.</p>{image}<p>{escape(company['name'])}</p></body></html>"
    )
    return subject, "\n".join(lines), html


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode(), istext=True).replace(b"\n", b"\r\n")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _word(value: str) -> str:
    return value if value.isascii() else f"=?utf-8?b?{base64.b64encode(value.encode()).decode()}?="


def mime(key: str, headers: dict[str, str], text: str, html: str, pdf: bytes,
         image: bytes | None, cid: str) -> bytes:  # fmt: skip
    """multipart/mixed [multipart/related [multipart/alternative [text, html], png], pdf]."""
    b = hashlib.sha256(key.encode()).hexdigest()[:24]
    alt, rel, mix = f"alt-{b}", f"rel-{b}", f"mix-{b}"
    head = "".join(f"{k}: {_word(v)}\r\n" for k, v in headers.items())
    out = [
        (head + f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{mix}"\r\n\r\n'
         f"--{mix}\r\n").encode(),
    ]  # fmt: skip
    alternatives = (
        (
            f'Content-Type: multipart/alternative; boundary="{alt}"\r\n\r\n--{alt}\r\n'
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        + _qp(text)
        + (
            f'\r\n--{alt}\r\nContent-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        + _qp(html)
        + f"\r\n--{alt}--\r\n".encode()
    )
    if image is not None:
        out.append(f'Content-Type: multipart/related; boundary="{rel}"\r\n\r\n--{rel}\r\n'.encode())
        out.append(alternatives)
        out.append(
            (f'--{rel}\r\nContent-Type: image/png; name="epc-qr.png"\r\n'
             "Content-Transfer-Encoding: base64\r\n"
             f'Content-Disposition: inline; filename="epc-qr.png"\r\nContent-ID: <{cid}>\r\n\r\n'
             ).encode() + _b64(image) + f"--{rel}--\r\n".encode()
        )  # fmt: skip
    else:
        out.append(alternatives)
    out.append(
        (f'--{mix}\r\nContent-Type: application/pdf; name="letter.pdf"\r\n'
         "Content-Transfer-Encoding: base64\r\n"
         'Content-Disposition: attachment; filename="letter.pdf"\r\n\r\n').encode()
        + _b64(pdf) + f"--{mix}--\r\n".encode()
    )  # fmt: skip
    return b"".join(out)


# -- the run --------------------------------------------------------------------------------------

NOTICE_COLUMNS = ["idempotency_key", "kind", "locale", "customer_id", "recipients", "subject",
                  "text", "html", "status", "attempts", "message_id", "delivered_to",
                  "created_at", "sent_at", "channel"]  # fmt: skip
TITLES = {"de": "Zahlungserinnerung", "zh-Hant": "付款提醒"}


def _company(settings: dict[str, str]) -> dict[str, str]:
    found = re.search(
        r"IBAN\s*([A-Z]{2}[0-9 A-Z]+?)\s*(\(|$)", settings["CREDIT_COMPANY_PAYMENT_DETAILS"]
    )
    iban = found.group(1).replace(" ", "") if found else ""
    return {
        "name": settings["CREDIT_COMPANY_NAME"],
        "address": settings["CREDIT_COMPANY_ADDRESS"],
        "from": settings["CREDIT_COMPANY_CONTACT"],
        "iban": iban,
        "iban_grouped": grouped(iban),
    }


def run(url: str, as_of: date, outbox: Path, settings: dict[str, str]) -> dict[str, Any]:
    """Send the level 1 notices due on ``as_of``; the notices, the .eml files and the lines of
    what each customer was told (``code|currency|numbers|total``)."""
    db = Db(url)
    outbox.mkdir(parents=True, exist_ok=True)
    company = _company(settings)
    (body,) = db.all(
        "SELECT body FROM credit_policy WHERE status = 'published' ORDER BY version DESC LIMIT 1"
    )[0]
    policy = json.loads(body) if isinstance(body, str) else body
    if (policy.get("dunning_profiles") or {}).get("rules"):
        raise SystemExit("plain: dunning profile rules are not implemented")
    if db.all("SELECT COUNT(*) FROM dunning_action")[0][0]:
        raise SystemExit("plain: the database has dunning history (the first run only)")
    tolerance = _units(policy["dunning"]["tolerance"])
    default = (policy.get("dunning_profiles") or {}).get("default")
    assigned = dict(db.all("SELECT customer_id, profile FROM customer_dunning_profile"))
    customers = {
        r[0]: {"id": r[0], "code": r[1], "name": r[2], "email": r[3], "locale": r[4],
               "country": r[5], "postal_address": r[6]}
        for r in db.all("SELECT id, code, name, email, locale, country, postal_address "
                        "FROM customer")
    }  # fmt: skip
    day, iso = as_of.isoformat(), as_of
    sql = ITEMS.format(
        amount=db.money("i.amount"),
        paid=f"COALESCE({db.money('p.paid')}, 0)",
        applied=f"COALESCE({db.money('a.applied')}, 0)",
        minus_payment=f"-{db.money('amount')}",
    )
    params = (day, day, day, day, day, day, day) if db.sqlite else (iso,) * 7
    lines: list[str] = []
    rows: list[tuple] = []
    files = 0
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    domain = company["from"].partition("@")[2] or "credit.local"
    cid = "epc-qr@credit"

    def notice(cid_: int, currency: str, items: list[tuple]) -> None:
        nonlocal files
        c = customers[cid_]
        levels, dun = _levels(policy, assigned.get(cid_, default))
        if not dun:
            return
        level = levels[0]
        decided = decide(items, as_of, tolerance, level, currency)
        if decided is None:
            return
        if _business_day(as_of) != as_of:
            return  # deferred to the next business day
        overdue, credits, total = decided
        loc = c["locale"]
        key = f"dunning:{c['code']}:{currency}:e1:l{level['level']}"
        rf = reference(c["code"], key)
        n = {
            "as_of": day,
            "title": TITLES.get(loc, "Payment reminder"),
            "rows": [(num, due.isoformat(), (as_of - due).days, fmt(a, currency, loc))
                     for num, due, a, _, _ in overdue],
            "credit_rows": [(num, due.isoformat(), fmt(a, currency, loc))
                            for num, due, a, _, _ in credits],
            "total": fmt(total, currency, loc),
            "pay_by": _business_day(as_of + timedelta(days=level["pay_within_days"])).isoformat(),
            "rf_grouped": grouped(rf),
        }  # fmt: skip
        qr = qr_matrix(company["name"], company["iban"], total, rf) if currency == "EUR" else None
        image = png(qr) if qr is not None else None
        subject, text, html = texts(c, n, company, cid if qr is not None else None)
        pdf = pdf_letter(c, n, company, qr)
        message_id = f"<notice-{hashlib.sha256(key.encode()).hexdigest()[:16]}@{domain}>"
        headers = {"From": company["from"], "To": c["email"], "Subject": subject, "Date": stamp,
                   "Message-ID": message_id, "X-Credit-Notice-Key": key,
                   "X-Credit-Notice-Kind": level["template"]}  # fmt: skip
        data = mime(key, headers, text, html, pdf, image, cid)
        (outbox / f"{key.replace(':', '_')}.eml").write_bytes(data)
        files += 1
        rows.append((key, level["template"], loc, cid_, json.dumps([c["email"]]), subject, text,
                     html, "sent", 1, message_id, c["email"], now, now, level["channel"]))  # fmt: skip
        numbers = ",".join(sorted(i[0] for i in overdue))
        lines.append(f"{c['code']}|{currency}|{numbers}|{Decimal(total) / SCALE:.2f}")

    reader = Db(url)  # the scan on its own connection (the writer commits as it goes)
    current: tuple[int, str] | None = None
    group: list[tuple] = []
    db.begin()
    written = 0
    for cust, currency, number, due, amount, paid, applied, kind, target, disputed in reader.query(
        sql, params
    ):
        if (cust, currency) != current:
            if current is not None:
                notice(*current, group)
                if len(rows) >= PER_TRANSACTION:
                    db.insert("notice", NOTICE_COLUMNS, rows)
                    written += len(rows)
                    rows.clear()
                    db.commit()
                    db.begin()
            current, group = (cust, currency), []
        if kind == "payment":
            group.append((number, _day(due), int(amount), "payment", False))
        elif amount > 0:
            still_open = int(amount) - int(paid) + int(applied)
            if still_open:
                group.append((number, _day(due), still_open, kind, disputed is not None))
        elif target is None:
            group.append(
                (number, _day(due), int(amount), "credit_note" if kind == "invoice" else kind,
                 False)
            )  # fmt: skip
    if current is not None:
        notice(*current, group)
    if rows:
        db.insert("notice", NOTICE_COLUMNS, rows)
        written += len(rows)
    db.commit()
    reader.close()
    db.close()
    return {"notices": written, "files": files, "lines": lines}


def digest(lines: list[str]) -> str:
    """What both sides told the customers: a SHA-256 of the sorted lines."""
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
