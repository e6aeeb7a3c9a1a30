"""Tables of order releases and order-check exemptions."""

from __future__ import annotations
