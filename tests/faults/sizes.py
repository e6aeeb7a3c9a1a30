"""How big the fault tests run: the sizes issue 8 names (a collections run over 10,000 invoices,
10,000 outbox rows, a 100 MB file), in `make test` and CI. ``CREDIT_FAULTS_SMALL=1`` runs them
smaller while working on them (60 customers / 1,200 invoices, 2,000 rows, 10 MB)."""

from __future__ import annotations

import os

SMALL = os.environ.get("CREDIT_FAULTS_SMALL", "") == "1"

CRASH_CUSTOMERS, CRASH_INVOICES = (60, 1_200) if SMALL else (100, 10_000)
OUTBOX_ROWS = 2_000 if SMALL else 10_000
BIG_FILE_MB = 10 if SMALL else 100
