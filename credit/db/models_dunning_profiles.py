"""Tables of dunning profiles, courtesy reminders, minimum amounts per level."""

from __future__ import annotations
