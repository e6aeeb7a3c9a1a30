"""Tables of collector assignment rules, case priority, dispute reason codes and owners."""

from __future__ import annotations
