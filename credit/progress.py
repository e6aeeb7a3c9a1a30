"""How far a long run has got, for whoever watches it (the command line's progress bar).

Services and flows say how many of a thing there are to do (:func:`expect`) and how many are
done (:func:`advance`); a watcher connected with :func:`watching` hears it. With none connected
nothing happens. A module-level list, not a context variable: a flow's tasks may run on another
thread of the same process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Watcher(Protocol):
    def expect(self, what: str, count: int) -> None:
        """``count`` more ``what`` (customers, batches, notices, reviews) to do."""

    def advance(self, what: str, count: int) -> None:
        """``count`` more ``what`` done."""


_watchers: list[Watcher] = []


def watched() -> bool:
    """Whether anyone watches (to skip a count that only a watcher needs)."""
    return bool(_watchers)


def expect(what: str, count: int) -> None:
    for w in _watchers:
        w.expect(what, count)


def advance(what: str, count: int = 1) -> None:
    for w in _watchers:
        w.advance(what, count)


@contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """``watcher`` hears what is reported while the block runs."""
    _watchers.append(watcher)
    try:
        yield
    finally:
        _watchers.remove(watcher)
