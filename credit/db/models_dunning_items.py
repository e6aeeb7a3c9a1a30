"""Tables of item-level dunning: each open item's own dunning level."""

from __future__ import annotations
