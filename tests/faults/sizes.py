"""How big the fault tests run. CI runs them at a size that keeps `make test` within its time
budget; ``CREDIT_FAULTS_FULL=1`` runs them at the sizes issue 8 names (10,000 invoices and outbox
rows, a 100 MB file), which takes about twenty minutes more on a 2-core machine."""

from __future__ import annotations

import os

FULL = os.environ.get("CREDIT_FAULTS_FULL", "") == "1"

CRASH_CUSTOMERS, CRASH_INVOICES = (100, 10_000) if FULL else (60, 1_200)
OUTBOX_ROWS = 10_000 if FULL else 2_000
BIG_FILE_MB = 100 if FULL else 10
