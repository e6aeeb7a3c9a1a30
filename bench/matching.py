"""How fast cash application matches a bank statement against a large ledger, against an honest
bound.

    python -m bench.matching                      # 100,000 entries against 1,000,000 open items
    python -m bench.matching --small              # 5,000 entries against 50,000 open items
    python -m bench.matching --no-import          # the pure matching and the bound only
    python -m bench.matching --database-url sqlite:////tmp/bench-matching.db

The portfolio (deterministic for ``--seed``): customers ``C-100001`` ... with company names from
word lists, and ``--items`` open items spread over them, skewed (a few customers hold many),
numbered the way the sample's are (``INV-100001-007``), 80% in EUR, the rest in USD and GBP.
Our letters' RF references (the body the letters use: the customer's code and the reference's
number) cover one or two items each, for a third of the customers; a customer's IBAN is known
(learned from earlier payments) for half of them.

The statement (``--entries`` credits into the EUR account), its references following the sample
rules: 30% quote an RF of ours in the structured field (2% of them with wrong check digits), 30%
quote one or two invoice numbers in messy free text ("inv 100001 007", "100001-007 thanks"), 20%
come from a known IBAN with only an amount (one item, the oldest two, or 0.30 short), 5% pay a
USD item in EUR with the bank's instructed amount, and 15% have nothing usable (an unknown payer,
a name like a customer's, an amount near some open item).

Three figures:

- **matching**: the product's pure rules (``credit.domain.matching``) over the indexes: building
  the :class:`Ledger` and matching every entry in order (explanations and suggestions included);
- **bound**: an independent plain-Python program doing the same lookups with dicts (the RF, the
  normalised invoice numbers of the text's words, the IBAN and the amount), nothing else: no
  explanations, no allocation, no suggestions, no Decimal arithmetic beyond the amount key;
- **import**: the whole ``apply_statements`` into SQLite (reading the ledger, matching, writing the
  entries, the payments and the audit trail in one transaction), on a database written first.

Each prints its time and the share matched by rule. The numbers are not tests.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench._db import BENCH_COMPANY

BOOKED = date(2027, 3, 1)
ACCOUNT = "DE89370400440532013000"  # config/bank_accounts.yaml's EUR account
RATES = {"USD": Decimal("0.9200"), "GBP": Decimal("1.1700")}
FIRST = [
    "Nord",
    "Atlas",
    "Bright",
    "Helios",
    "Granite",
    "Orchard",
    "Pioneer",
    "Quick",
    "Fjord",
    "Crumbling",
    "Silver",
    "Blue",
    "Alpine",
    "Harbor",
    "Delta",
    "Summit",
    "Cedar",
    "Iron",
]
SECOND = [
    "wind",
    "line",
    "stone",
    "field",
    "bridge",
    "works",
    "tools",
    "foods",
    "solar",
    "marine",
    "bricks",
    "logistics",
    "textiles",
    "media",
    "systems",
    "retail",
    "supply",
]
FORMS = ["GmbH", "BV", "SARL", "SpA", "Ltd", "AG", "SE", "Kft.", "AS", "Inc"]  # fmt: skip
BATCH = 20_000


@dataclass
class Portfolio:
    customers: list[tuple[int, str, str]]  # id, code, name
    items: list[tuple[int, str, int, str, date, Decimal]]  # id, number, customer, cur, due, open
    references: list[tuple[str, int, str, tuple[int, ...]]]  # rf, customer, currency, items
    ibans: dict[str, int]


def _iban(n: int) -> str:
    """A well-formed German IBAN (check digits right) for a number."""
    bban = f"37040044{n:010d}"
    check = 98 - int(bban + "131400") % 97
    return f"DE{check:02d}{bban}"


def portfolio(customers: int, items: int, seed: int) -> Portfolio:
    from credit.domain import rf

    rng = random.Random(seed)
    people = []
    for i in range(customers):
        made = "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        name = f"{rng.choice(FIRST)}{made} {rng.choice(SECOND).title()} {rng.choice(FORMS)}"
        people.append((i + 1, f"C-{100001 + i}", name))
    weights = [rng.paretovariate(1.6) for _ in range(customers)]
    scale = (items - customers) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    counts[0] += items - sum(counts)
    rows: list[tuple[int, str, int, str, date, Decimal]] = []
    for (cid, code, _), n in zip(people, counts, strict=True):
        for k in range(max(n, 1)):
            cur = "EUR" if rng.random() < 0.8 else rng.choice(("USD", "GBP"))
            due = BOOKED - timedelta(days=rng.randrange(-30, 200))
            amount = Decimal(rng.randrange(2_000, 5_000_000)) / 100
            rows.append((len(rows) + 1, f"INV-{code[2:]}-{k + 1:03d}", cid, cur, due, amount))
    by_customer: dict[int, list[int]] = {}
    for r in rows:
        by_customer.setdefault(r[2], []).append(r[0])
    refs = []
    for cid, code, _ in people:
        if cid % 3 == 0:
            mine = by_customer[cid][:2]
            cur = rows[mine[0] - 1][3]
            mine = [i for i in mine if rows[i - 1][3] == cur]
            refs.append(
                (rf.make(f"{code[2:].join(['C', ''])}{len(refs) + 1:08d}"), cid, cur, tuple(mine))
            )
    ibans = {_iban(cid): cid for cid, _, _ in people if cid % 2 == 0}
    return Portfolio(people, rows, refs, ibans)


def statement(p: Portfolio, entries: int, seed: int) -> list[Any]:
    """The credits of a day's statement, as ``credit.domain.statements.Entry`` values."""
    from credit.domain.statements import Entry, EntryKind, Remittance

    rng = random.Random(seed + 1)
    items = p.items
    iban_of = {cid: iban for iban, cid in p.ibans.items()}
    open_by: dict[int, list[tuple[int, str, int, str, date, Decimal]]] = {}
    for it in items:
        open_by.setdefault(it[2], []).append(it)
    out = []
    for n in range(entries):
        draw = rng.random()
        it = items[rng.randrange(len(items))]
        cust = p.customers[it[2] - 1]
        rem: dict[str, Any] = {"payer_name": cust[2].upper()}
        amount = it[5]
        if draw < 0.30:  # an RF of ours, structured (a few with the check digits wrong)
            ref = p.references[rng.randrange(len(p.references))]
            cust = p.customers[ref[1] - 1]
            amount = sum((items[i - 1][5] for i in ref[3]), Decimal(0))
            rem = {"structured": ref[0], "payer_name": cust[2]}
            if rng.random() < 0.02:
                rem["structured"] = ref[0][:2] + f"{(int(ref[0][2:4]) + 1) % 100:02d}" + ref[0][4:]
            if ref[2] != "EUR":
                amount = (amount * RATES[ref[2]]).quantize(Decimal("0.01"))
        elif draw < 0.60:  # invoice numbers in messy text
            number = it[1]
            digits = number[4:]
            style = rng.randrange(4)
            text = [f"inv {digits.replace('-', ' ')}", f"{digits} thanks", f"Rechnung {number.lower()}",
                    f"RE {number.replace('-', '')}"][style]  # fmt: skip
            if rng.random() < 0.1:
                other = open_by[it[2]][rng.randrange(len(open_by[it[2]]))]
                text += f" and {other[1]}"
            rem["text"] = text
            if it[3] != "EUR":
                amount = (amount * RATES[it[3]]).quantize(Decimal("0.01"))
        elif draw < 0.80:  # a known IBAN and only an amount
            if it[2] not in iban_of:  # a customer whose IBAN is known
                it = items[open_by[it[2] + 1 if it[2] < len(p.customers) else 2][0][0] - 1]
            mine = [x for x in open_by[it[2]] if x[3] == "EUR"]
            if mine:
                choice = rng.random()
                amount = (mine[0][5] if choice < 0.5 else sum((x[5] for x in mine[:2]), Decimal(0))
                          if choice < 0.8 else mine[0][5] - Decimal("0.30"))  # fmt: skip
            rem["payer_iban"] = iban_of[it[2]]
            if it[3] != "EUR" and not mine:
                amount = (amount * RATES[it[3]]).quantize(Decimal("0.01"))
        elif draw < 0.85 and it[3] == "USD":  # USD paid into the EUR account, the bank's figures
            rem["text"] = f"PAYMENT {it[1]}"
            rem["instructed_amount"], rem["instructed_currency"] = it[5], "USD"
            rem["rate"] = Decimal("0.9150")
            amount = (it[5] * Decimal("0.9150")).quantize(Decimal("0.01"))
        else:  # nothing usable
            rem = {"payer_name": f"{cust[2].split()[0]} Holding", "payer_iban": _iban(10**9 + n),
                   "text": "Zahlung"}  # fmt: skip
            amount = amount + Decimal(rng.randrange(1, 500)) / 100
        remittance = Remittance(amount=None, currency=None, **rem)
        out.append(
            Entry(
                ref=f"E{n + 1:07d}",
                line=n + 1,
                kind=EntryKind.CREDIT,
                booked_on=BOOKED,
                value_on=BOOKED,
                amount=max(amount, Decimal("0.01")),
                currency="EUR",
                remittances=(remittance,),
            )  # fmt: skip
        )
    return out


def _ledger(p: Portfolio) -> Any:
    from credit.domain import matching
    from credit.domain.cleaning import RateTable

    return matching.Ledger(
        (matching.Item(*it) for it in p.items),
        customers={cid: matching.Party(code, name) for cid, code, name in p.customers},
        references=[matching.RfTarget(*r) for r in p.references],
        ibans=p.ibans,
        rates=RateTable("EUR", {c: [(BOOKED - timedelta(days=30), r)] for c, r in RATES.items()}),
    )


def pure_matching(p: Portfolio, entries: list[Any]) -> dict[str, Any]:
    """The product's rules over the indexes, every entry in order."""
    from credit.domain import matching

    started = time.perf_counter()
    ledger = _ledger(p)
    built = time.perf_counter() - started
    tolerance = matching.Tolerance(Decimal("1.00"), Decimal("0.5"))
    rules: dict[str, int] = {}
    waiting = 0.0  # the time spent on entries left unmatched (their suggestions)
    started = time.perf_counter()
    for e in entries:
        one = time.perf_counter()
        r = e.remittances[0]
        paid = matching.Incoming(
            key=e.ref, amount=e.amount, currency=e.currency, booked_on=e.booked_on,
            structured=r.structured, text=r.text, payer_name=r.payer_name,
            payer_iban=r.payer_iban, instructed_amount=r.instructed_amount,
            instructed_currency=r.instructed_currency, rate=r.rate,
        )  # fmt: skip
        out = matching.match(paid, ledger, tolerance)
        if out.rule is not None:
            ledger.record(out.allocations)
        else:
            waiting += time.perf_counter() - one
        rules[out.rule or "unmatched"] = rules.get(out.rule or "unmatched", 0) + 1
    return {"index_s": round(built, 2), "match_s": round(time.perf_counter() - started, 2),
            "unmatched_s": round(waiting, 2), "rules": rules}  # fmt: skip


_WORD = re.compile(r"[A-Z0-9]+")


def bound(p: Portfolio, entries: list[Any]) -> dict[str, Any]:
    """An independent plain program: the same lookups with dicts, nothing else."""
    started = time.perf_counter()
    rf_dict = {r[0]: r[1] for r in p.references}
    numbers: dict[str, int] = {}
    amounts: dict[tuple[int, Decimal], int] = {}
    for it in p.items:
        whole = "".join(_WORD.findall(it[1].upper()))
        numbers[whole] = it[0]
        numbers[whole.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")] = it[0]
        amounts[(it[2], it[5])] = it[0]
    built = time.perf_counter() - started
    found = {"rf": 0, "invoice_number": 0, "iban_amount": 0, "unmatched": 0}
    started = time.perf_counter()
    for e in entries:
        r = e.remittances[0]
        if r.structured and r.structured in rf_dict:
            found["rf"] += 1
            continue
        words = _WORD.findall(r.text.upper())
        hit = False
        for i in range(len(words)):
            for n in range(min(8, len(words) - i), 0, -1):
                if "".join(words[i : i + n]) in numbers:
                    hit = True
                    break
            if hit:
                break
        if hit:
            found["invoice_number"] += 1
            continue
        cid = p.ibans.get(r.payer_iban or "")
        if cid is not None and (cid, e.amount) in amounts:
            found["iban_amount"] += 1
            continue
        found["unmatched"] += 1
    return {"index_s": round(built, 2), "match_s": round(time.perf_counter() - started, 2),
            "rules": found}  # fmt: skip


def write_database(url: str, p: Portfolio) -> Any:
    """A migrated database holding the portfolio (customers, items, references, IBANs, rates)."""
    from sqlalchemy import insert

    from credit import services
    from credit.app import App
    from credit.db.models import Customer, FxRate, Invoice
    from credit.db.models_cash import CustomerBankAccount, PaymentReference
    from credit.settings import Settings

    app = App(Settings.load(environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}, env_file=None))
    services.init_database(app, actor="bench")
    with app.engine.begin() as conn:
        conn.execute(insert(FxRate), [
            {"currency": c, "rate_date": BOOKED - timedelta(days=30), "rate_to_base": r}
            for c, r in RATES.items()
        ])  # fmt: skip
        rows = [
            {"id": cid, "code": code, "name": name, "email": f"ap{cid}@bench.example",
             "country": "DE", "currency": "EUR", "locale": "en",
             "sales_owner_email": "sales@example.com"}
            for cid, code, name in p.customers
        ]  # fmt: skip
        for i in range(0, len(rows), BATCH):
            conn.execute(insert(Customer), rows[i : i + BATCH])
        for i in range(0, len(p.items), BATCH):
            conn.execute(insert(Invoice), [
                {"id": it[0], "number": it[1], "customer_id": it[2], "currency": it[3],
                 "due_date": it[4], "issue_date": it[4] - timedelta(days=30), "amount": it[5],
                 "kind": "invoice"}
                for it in p.items[i : i + BATCH]
            ])  # fmt: skip
        conn.execute(insert(PaymentReference), [
            {"rf": r[0], "customer_id": r[1], "currency": r[2], "invoice_ids": list(r[3]),
             "amount": Decimal(0), "purpose": "dunning", "notice_key": f"bench:{n}",
             "issued_on": BOOKED - timedelta(days=10)}
            for n, r in enumerate(p.references)
        ])  # fmt: skip
        conn.execute(insert(CustomerBankAccount), [
            {"customer_id": cid, "iban": iban, "learned_by": "bench"} for iban, cid in p.ibans.items()
        ])  # fmt: skip
    return app


def whole_import(url: str, p: Portfolio, entries: list[Any]) -> dict[str, Any]:
    from credit import services
    from credit.domain.statements import Statement

    started = time.perf_counter()
    app = write_database(url, p)
    written = time.perf_counter() - started
    st = Statement("camt.053", "BENCH-1", ACCOUNT, "EUR", BOOKED, None, None, tuple(entries))
    started = time.perf_counter()
    summary = services.apply_statements(
        app, [st], file_name="bench.xml", sha256="0" * 64, actor="bench", as_of=BOOKED
    )
    took = time.perf_counter() - started
    app.engine.dispose()
    return {"write_s": round(written, 1), "import_s": round(took, 2),
            "rules": {**summary["matched"], "unmatched": summary["unmatched"]}}  # fmt: skip


def _shares(rules: dict[str, int], total: int) -> str:
    return ", ".join(
        f"{k} {v / total:.1%}" for k, v in sorted(rules.items(), key=lambda kv: -kv[1])
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="5,000 entries, 50,000 open items")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--items", type=int)
    parser.add_argument("--entries", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-import", action="store_true", help="skip the SQLite import")
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    args = parser.parse_args(argv)
    customers = args.customers or (5_000 if args.small else 100_000)
    items = args.items or (50_000 if args.small else 1_000_000)
    count = args.entries or (5_000 if args.small else 100_000)
    started = time.perf_counter()
    p = portfolio(customers, items, args.seed)
    entries = statement(p, count, args.seed)
    print(f"portfolio: {customers:,} customers, {len(p.items):,} open items, "
          f"{len(p.references):,} RF references, {len(p.ibans):,} known IBANs; "
          f"{count:,} entries ({time.perf_counter() - started:.1f} s to generate)")  # fmt: skip
    result: dict[str, Any] = {"customers": customers, "items": len(p.items), "entries": count}
    for name, run in (("matching", pure_matching), ("bound", bound)):
        r = run(p, entries)
        result[name] = r
        print(f"{name}: index {r['index_s']} s, {count:,} entries in {r['match_s']} s "
              f"({count / max(r['match_s'], 1e-9):,.0f}/s); {_shares(r['rules'], count)}")  # fmt: skip
        if "unmatched_s" in r:
            print(f"  of which {r['rules'].get('unmatched', 0):,} left unmatched (rules tried, "
                  f"suggestions ranked): {r['unmatched_s']} s")  # fmt: skip
    if not args.no_import:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{Path(tmp) / 'bench-matching.db'}"
            r = whole_import(url, p, entries)
        result["import"] = r
        print(f"import into {url.split(':')[0]}: database written in {r['write_s']} s; "
              f"apply_statements {r['import_s']} s; {_shares(r['rules'], count)}")  # fmt: skip
    print(json.dumps(result), file=sys.stdout)


if __name__ == "__main__":
    main()
