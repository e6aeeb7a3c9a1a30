"""Tables of customer contacts: dunning contact and CC addresses."""

from __future__ import annotations
