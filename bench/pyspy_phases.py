"""Shares of a collections run's time by phase, from a py-spy raw (collapsed) profile.

    py-spy record --format raw --rate 100 -o flow.raw -- \
        python -m bench.collections --database-url sqlite:///copy.db --side flow --outbox out
    python -m bench.pyspy_phases flow.raw

Samples of threads that only wait (the event loop, heartbeats) are left out; each busy sample
counts for the first phase whose function is on its stack.
"""

from __future__ import annotations

import sys
from collections import Counter

RULES = [
    # before the others: a letter is made while delivering, and its PDF has a ``render`` too
    (
        "deliver: the letter's PDF and QR code (fpdf2, segno)",
        "files",
        "credit/notices/pdf_maker.py",
    ),
    (
        "render a notice (Jinja templates, Babel money and dates)",
        "render",
        "credit/notices/rendering.py",
    ),
    ("deliver: build the MIME bytes", "build_message", "credit/notices/"),
    ("deliver: write the .eml files", "send", "credit/notices/"),
    ("deliver: claims, reads and marks", "deliver_pending", "credit/notices/"),
    ("read a batch's state set-based", "load", "credit/services/collections/state.py"),
    ("customer locks", "lock_customers", "credit/db/locks.py"),
    ("audit chain (SHA-256, insert)", "", "credit/audit.py"),
    ("outbox insert", "batched", "credit/notices/"),
    (
        "decide per customer (position, schedule, context)",
        "dun_currency",
        "credit/services/collections/decide.py",
    ),
    ("select the candidates", "collection_candidates", "credit/services/collections/candidates.py"),
]


def _name(frame):
    return frame.split(" (", 1)[0]


def main(path: str) -> None:
    total, phases, idle = 0, Counter(), 0
    for line in open(path):
        line = line.rstrip()
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        n = int(n)
        total += n
        frames = stack.split(";")
        leaf = _name(frames[-1]).lower()
        if any(w in leaf for w in ("select", "wait", "sleep", "heartbeat", "queue.get", "acquire")):
            idle += n
            continue
        for name, func, path in RULES:
            if any(
                path in f and (not func or _name(f) == func or _name(f).endswith("." + func))
                for f in frames
            ):
                phases[name] += n
                break
        else:
            product = [f for f in frames if f.split(" (", 1)[-1].startswith(("credit/", "tasks/"))]
            if "_digest (bench/" in stack:  # the untimed digest after the run
                idle += n
            elif product:
                phases["other product code (batch loop, step inserts, commits, calendars)"] += n
            else:
                phases["Prefect: import, local server, flow and task engine"] += n
    for name, n in phases.most_common():
        print(f"| {name} | {100 * n / (total - idle):.1f} % |")
    print(f"| (samples) | {total - idle} busy of {total} |")


if __name__ == "__main__":
    main(sys.argv[1])
