"""Limits beyond one customer's credit line: customer groups with a limit of their own (group
exposure) and temporary limits that fall back on their end date."""
