"""Tables of instalment plans and write-offs."""

from __future__ import annotations
