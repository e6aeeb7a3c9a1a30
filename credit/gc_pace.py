"""The cyclic garbage collector's pace during bulk work: a collections run, a delivery sweep, an
import.

At CPython's default thresholds (700, 10, 10) the collector runs a young pass every 700 net
allocations, a middle pass every ten of those and a full pass, over every live object, every
ten middle ones. Bulk work allocates millions of objects (a batch's rows and contexts, a
letter's PDF objects, an import's rows), so the collector walked the same live objects again
and again: 5 % of a 10,000-customer collections run's CPU, and 10 of the 39 s a 100 MB invoice
file took to be checked (its two million rows are alive until the end). While bulk work runs,
the young pass waits for :data:`YOUNG` allocations and a full pass for :data:`OLDER` times as
many middle ones; the default pace comes back when the last bulk work in the process ends
(``credit serve`` runs for days).

What the slower pace costs is memory held by cyclic garbage between passes (a few letters'
worth), not a growth over the run: each pass still frees it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG = 20_000
OLDER = 10  # full passes a tenth as often again: each walks every live object
_lock = threading.Lock()
_active = 0
_before: tuple[int, ...] = ()


@contextmanager
def bulk_work() -> Iterator[None]:
    """Run the block with the collector at the bulk pace; nested and concurrent uses (threads of
    one process) share it, and the thresholds found before the first are put back after the
    last."""
    global _active, _before
    with _lock:
        if _active == 0:
            _before = gc.get_threshold()
            young, middle, old = _before
            gc.set_threshold(max(young, YOUNG), middle, old * OLDER)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_before)
