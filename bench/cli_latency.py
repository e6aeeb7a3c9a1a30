"""How fast the CLI answers read-only commands (they must not import Prefect).

    python -m bench.cli_latency [--runs 5]

Prints the median and worst wall time of each command against the demo-sized sample ledger.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._db import BENCH_COMPANY

COMMANDS = [
    ["--help"],
    ["customers", "list", "--json"],
    ["customers", "show", "C-1001", "--as-of", "2026-10-01"],
    ["approvals", "list"],
    ["notices", "list", "--json"],
    ["policy", "show"],
    ["reviews", "due", "--as-of", "2027-01-04"],
    ["worklist", "--as-of", "2026-12-01"],
    ["orders", "check", "C-1001", "--amount", "5000", "--as-of", "2026-10-01"],
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    credit = str(Path(sys.executable).with_name("credit"))
    sample = Path(__file__).resolve().parent.parent / "sample_data"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "CREDIT_DATABASE_URL": f"sqlite:///{tmp}/credit.db",
            "CREDIT_OUTBOX_DIR": f"{tmp}/outbox",
            **BENCH_COMPANY,
        }
        subprocess.run([credit, "init"], env=env, check=True, capture_output=True)
        for kind in ("customers", "financials", "invoices", "payments"):
            subprocess.run(
                [credit, "import", kind, str(sample / f"{kind}.csv")],
                env=env,
                check=True,
                capture_output=True,
            )
        print(f"{'command':55} {'median s':>9} {'worst s':>9}")
        for cmd in COMMANDS:
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                done = subprocess.run([credit, *cmd], env=env, capture_output=True)
                assert done.returncode in (0, 1), done.stderr  # orders check: 1 means HOLD
                times.append(time.perf_counter() - t0)
            print(
                f"{'credit ' + ' '.join(cmd):55} {statistics.median(times):9.2f} {max(times):9.2f}"
            )


if __name__ == "__main__":
    main()
