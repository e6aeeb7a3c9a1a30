"""Money in: payment references on letters, bank statements and cash application."""
