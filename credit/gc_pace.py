"""The cyclic garbage collector's pace during bulk work (a collections run, a delivery sweep).

At CPython's default thresholds (700, 10, 10) the collector runs a young pass every 700 net
allocations and a full pass over every live object (Prefect's, SQLAlchemy's, the templates')
every hundred of those. A collections run allocates millions of short-lived objects (rows,
contexts, a letter's PDF objects), so the collector walked the same long-lived objects again
and again: 7 % of a 10,000-customer run's CPU. While bulk work runs, the young pass waits for
:data:`YOUNG` allocations (so the older passes, which follow ten of the one before each, come
that much less often too); the default pace comes back
when the last bulk work in the process ends (``credit serve`` runs for days).

What a longer pace costs is memory held by cyclic garbage between passes: a few thousand more
objects (a letter's worth), not a growth over the run (each pass still frees them).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG = 20_000
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
            gc.set_threshold(max(young, YOUNG), middle, old)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_before)
