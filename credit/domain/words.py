"""Counts as a reader says them: '1 day', '2 days' (English; notices follow each locale's plural
rules with the renderer's ``plural`` filter)."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 reminder', '2 reminders', '0 fixes': a count with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def said(status: str) -> str:
    """A status as words: 'in_approval' -> 'in approval' (JSON keeps the value itself)."""
    return str(status).replace("_", " ")
