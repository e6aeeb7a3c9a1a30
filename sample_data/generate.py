"""Regenerate the demo ledger shipped in this folder (deterministic): .venv/bin/python sample_data/generate.py

A dozen customers of different quality. Dates are set around the demo's first day, 2026-10-01:
invoices due 2026-09-30 are one day overdue on the demo's first collections run.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from credit.importers import COLUMNS

HERE = Path(__file__).resolve().parent

CUSTOMERS = [
    # code, name, email, country, currency, locale, sales owner, registered, tax id
    (
        "C-1001",
        "Nordwind Logistik GmbH",
        "ap@nordwind.example",
        "DE",
        "EUR",
        "de",
        "sales.north@example.com",
        "2004-03-15",
        "DE811907980",
    ),
    (
        "C-1002",
        "Atlas Office Supplies BV",
        "finance@atlas.example",
        "NL",
        "EUR",
        "en",
        "sales.west@example.com",
        "2011-06-01",
        "NL001234567B01",
    ),
    (
        "C-1003",
        "Brightline Retail SARL",
        "compta@brightline.example",
        "FR",
        "EUR",
        "en",
        "sales.south@example.com",
        "2016-09-12",
        "FR40303265045",
    ),
    (
        "C-1004",
        "Quickstart Ventures GmbH",
        "hello@quickstart.example",
        "DE",
        "EUR",
        "de",
        "sales.north@example.com",
        "2024-11-02",
        "DE287653121",
    ),
    (
        "C-1005",
        "Helios Solar SpA",
        "amministrazione@helios.example",
        "IT",
        "EUR",
        "en",
        "sales.south@example.com",
        "2009-01-20",
        "IT01234567890",
    ),
    (
        "C-1006",
        "Fjord Marine AS",
        "invoice@fjord.example",
        "NO",
        "EUR",
        "en",
        "sales.north@example.com",
        "1998-05-05",
        "NO923609016",
    ),
    (
        "C-1007",
        "Crumbling Bricks Ltd",
        "accounts@crumbling.example",
        "GB",
        "EUR",
        "en",
        "sales.west@example.com",
        "2019-02-14",
        "GB123456789",
    ),
    (
        "C-1008",
        "Vega Pharma AG",
        "kreditoren@vega.example",
        "CH",
        "EUR",
        "de",
        "sales.south@example.com",
        "1987-10-30",
        "CHE116281710",
    ),
    (
        "C-1009",
        "Pioneer Tools Taiwan Ltd",
        "ap@pioneer.example",
        "TW",
        "USD",
        "zh-Hant",
        "sales.west@example.com",
        "2001-07-04",
        "US-12-3456789",
    ),
    (
        "C-1010",
        "Orchard Foods Kft",
        "penzugy@orchard.example",
        "HU",
        "EUR",
        "en",
        "sales.south@example.com",
        "2014-04-22",
        "HU12892312",
    ),
    (
        "C-1011",
        "Kestrel Print Studio",
        "studio@kestrel.example",
        "IE",
        "EUR",
        "en",
        "sales.west@example.com",
        "2023-01-09",
        "IE6388047V",
    ),
    (
        "C-1012",
        "Granite Construction SE",
        "finance@granite.example",
        "AT",
        "EUR",
        "de",
        "sales.north@example.com",
        "2007-08-17",
        "ATU13585627",
    ),
]

# customer: revenue, net income, total assets, total liabilities, current assets, current liabilities, OCF
FINANCIALS = {
    "C-1001": (42_000_000, 3_150_000, 26_000_000, 9_500_000, 12_400_000, 5_100_000, 3_600_000),
    "C-1002": (8_500_000, 410_000, 5_200_000, 2_600_000, 2_900_000, 1_700_000, 520_000),
    "C-1003": (6_200_000, 190_000, 4_100_000, 2_700_000, 2_100_000, 1_600_000, 380_000),
    "C-1004": (450_000, -120_000, 600_000, 540_000, 250_000, 310_000, -60_000),
    "C-1005": (15_300_000, 640_000, 11_000_000, 6_900_000, 4_800_000, 3_900_000, 900_000),
    "C-1006": (60_000_000, 5_400_000, 48_000_000, 15_000_000, 21_000_000, 8_000_000, 6_800_000),
    "C-1007": (2_100_000, -340_000, 1_500_000, 1_420_000, 500_000, 760_000, -150_000),
    "C-1008": (120_000_000, 14_000_000, 90_000_000, 30_000_000, 40_000_000, 15_000_000, 16_000_000),
    "C-1009": (9_800_000, 520_000, 6_000_000, 3_300_000, 2_600_000, 1_500_000, 700_000),
    "C-1010": (3_400_000, 90_000, 2_200_000, 1_500_000, 900_000, 800_000, 120_000),
    "C-1012": (33_000_000, 1_100_000, 28_000_000, 19_000_000, 9_000_000, 7_500_000, 1_900_000),
}

# customer: (number of settled invoices, share paid late, days late when late)
HISTORY = {
    "C-1001": (12, 0.0, 0),
    "C-1002": (10, 0.1, 6),
    "C-1003": (10, 0.2, 9),
    "C-1004": (4, 0.75, 35),
    "C-1005": (10, 0.1, 4),
    "C-1006": (12, 0.0, 0),
    "C-1007": (8, 0.6, 40),
    "C-1008": (12, 0.0, 0),
    "C-1009": (8, 0.25, 12),
    "C-1010": (8, 0.25, 15),
    "C-1011": (3, 0.0, 0),
    "C-1012": (10, 0.3, 20),
}

# Open invoices that drive the demo's collections: customer -> list of (number, due date, amount)
OPEN = {
    "C-1001": [
        ("INV-1001-OPEN1", "2026-09-30", "18250.00"),  # paid late (2026-10-20): cleared
        ("INV-1001-OPEN2", "2026-11-30", "9600.00"),  # its direct debit bounces (2026-12-01)
    ],
    "C-1003": [
        ("INV-1003-OPEN1", "2026-09-30", "14800.00"),
        ("INV-1003-OPEN2", "2026-10-15", "6200.00"),
    ],
    "C-1005": [("INV-1005-OPEN1", "2026-09-30", "9400.00")],  # partly paid on account
    "C-1007": [
        ("INV-1007-OPEN1", "2026-08-31", "7300.00"),
        ("INV-1007-OPEN2", "2026-09-30", "2950.50"),
    ],
    "C-1009": [("INV-1009-OPEN1", "2026-09-30", "12500.00")],  # USD ledger
    "C-1010": [("INV-1010-OPEN1", "2026-09-30", "8.40")],  # below the tolerance: never dunned
    "C-1012": [("INV-1012-OPEN1", "2026-11-30", "56000.00")],  # not yet due
}


# Postal addresses for dunning letters: address lines separated by " | ".
ADDRESSES = {
    "C-1001": "Nordwind Logistik GmbH | Buchhaltung | Am Sandtorkai 12 | 20457 Hamburg | Germany",
    "C-1003": "Brightline Retail SARL | Service comptabilite | 18 rue de la Republique | 69002 Lyon | France",
    "C-1005": "Helios Solar SpA | Amministrazione | Via Torino 44 | 20123 Milano | Italy",
    "C-1007": "Crumbling Bricks Ltd | Accounts Payable | 7 Canal Street | Manchester M1 3HE | United Kingdom",
    "C-1009": "Pioneer Tools Taiwan Ltd | 110 Taipei City, Xinyi District | Songren Road 100 | Taiwan",
}


def main() -> None:
    with open(HERE / "customers.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS["customers"])
        w.writerows([*c, ADDRESSES.get(c[0], "")] for c in CUSTOMERS)
    currency = {c[0]: c[4] for c in CUSTOMERS}
    with open(HERE / "financials.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS["financials"])
        for code, values in FINANCIALS.items():
            # Statements in the customer's currency (the column may be left out: the default).
            w.writerow([code, "2025-12-31", currency[code], *[f"{v}.00" for v in values]])
    invoices, payments = [], []
    for code, (count, late_share, late_days) in HISTORY.items():
        n_late = round(count * late_share)
        for k in range(count):
            issue = date(2025, 10, 1) + timedelta(days=30 * k)
            due = issue + timedelta(days=30)
            amount = f"{(1000 + 137 * k + int(code[-2:]) * 53) * (5 if code in ('C-1006', 'C-1008') else 1)}.00"
            number = f"INV-{code[2:]}-{k + 1:03d}"
            invoices.append(
                [code, number, issue.isoformat(), due.isoformat(), amount, currency[code]]
            )
            paid = due + timedelta(days=late_days if k < n_late else -2)
            if paid <= date(2026, 9, 28):
                payments.append(
                    [
                        code,
                        f"PAY-{code[2:]}-{k + 1:03d}",
                        paid.isoformat(),
                        amount,
                        currency[code],
                        "bank_transfer",
                        number,
                    ]
                )
            else:
                payments.append(
                    [
                        code,
                        f"PAY-{code[2:]}-{k + 1:03d}",
                        "2026-09-28",
                        amount,
                        currency[code],
                        "bank_transfer",
                        number,
                    ]
                )
    for code, rows in OPEN.items():
        for number, due, amount in rows:
            issue = date.fromisoformat(due) - timedelta(days=30)
            invoices.append([code, number, issue.isoformat(), due, amount, currency[code]])
    # A credit note for Crumbling Bricks and an unallocated payment on account for Helios.
    invoices.append(["C-1007", "CN-1007-001", "2026-09-15", "2026-09-15", "-450.50", "EUR"])
    payments.append(
        ["C-1005", "PAY-1005-ACC1", "2026-10-10", "4000.00", "EUR", "bank_transfer", ""]
    )
    # Late payments that arrive during the demo's simulated weeks.
    payments.append(
        [
            "C-1001",
            "PAY-1001-LATE",
            "2026-10-20",
            "18250.00",
            "EUR",
            "bank_transfer",
            "INV-1001-OPEN1",
        ]
    )
    payments.append(
        [
            "C-1003",
            "PAY-1003-LATE1",
            "2026-11-20",
            "14800.00",
            "EUR",
            "bank_transfer",
            "INV-1003-OPEN1",
        ]
    )
    payments.append(
        [
            "C-1003",
            "PAY-1003-LATE2",
            "2026-11-20",
            "6200.00",
            "EUR",
            "direct_debit",
            "INV-1003-OPEN2",
        ]
    )
    # Brightline also pays the final demand's late fee and interest (40.00 + 131.51), on account.
    payments.append(
        ["C-1003", "PAY-1003-LATE3", "2026-11-20", "171.51", "EUR", "bank_transfer", ""]
    )
    # A direct debit that bounces: a high-severity risk signal that flags C-1001 for re-review.
    payments.append(
        [
            "C-1001",
            "PAY-1001-BOUNCE",
            "2026-12-01",
            "9600.00",
            "EUR",
            "direct_debit",
            "INV-1001-OPEN2",
            "bounced",
        ]
    )
    with open(HERE / "invoices.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS["invoices"])
        w.writerows(i if len(i) == 7 else [*i, ""] for i in invoices)
    with open(HERE / "payments.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS["payments"])
        w.writerows(p if len(p) == 8 else [*p, "received"] for p in payments)
    with open(HERE / "orders.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS["orders"])
        # Orders taken but not yet invoiced: they count towards the exposure `orders check` sees.
        w.writerow(["C-1003", "SO-1003-101", "2026-11-10", "20000.00", "EUR", "open"])
        w.writerow(["C-1001", "SO-1001-077", "2026-11-25", "15000.00", "EUR", "open"])
        w.writerow(["C-1001", "SO-1001-071", "2026-10-02", "8000.00", "EUR", "invoiced"])
    with open(HERE / "fx_rates.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS["fx-rates"])
        # Monthly USD rates to EUR (illustrative values).
        for i in range(23):
            year, month = 2025 + i // 12, i % 12 + 1
            w.writerow(
                ["USD", f"{year}-{month:02d}-01", f"0.{9180 - 37 * (i % 7) + 11 * (i // 7)}"]
            )


if __name__ == "__main__":
    main()
