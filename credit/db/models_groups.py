"""Tables of customer groups (group exposure) and temporary limits."""

from __future__ import annotations
