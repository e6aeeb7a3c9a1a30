"""The columns of each CSV file the importers read (the CLI's help lists them without loading
the importers and the database layer)."""

from __future__ import annotations

from credit.domain.records import STATEMENT_AMOUNTS

KINDS = ("customers", "financials", "invoices", "payments", "fx-rates", "orders", "contacts")

COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "code",
        "name",
        "email",
        "country",
        "currency",
        "locale",
        "sales_owner_email",
        "registered_on",
        "tax_id",
        "postal_address",
        "dunning_profile",
        "segment",
    ),
    "financials": ("customer_code", "period_end", "currency", *STATEMENT_AMOUNTS),
    "invoices": (
        "customer_code",
        "number",
        "issue_date",
        "due_date",
        "amount",
        "currency",
        "applies_to",
    ),
    "fx-rates": ("currency", "rate_date", "rate_to_base"),
    "orders": ("customer_code", "number", "order_date", "amount", "currency", "status"),
    "payments": (
        "customer_code",
        "reference",
        "paid_on",
        "amount",
        "currency",
        "method",
        "invoice_number",
        "status",
    ),
    # The people at a customer; a file replaces the contacts of each customer it names.
    "contacts": ("customer_code", "name", "role", "email", "phone", "dunning", "cc"),
}
# Columns a file may leave out (or leave empty), per kind.
OPTIONAL: dict[str, frozenset[str]] = {
    "customers": frozenset(
        {"locale", "registered_on", "tax_id", "postal_address", "dunning_profile", "segment"}
    ),
    "financials": frozenset({"currency"}),  # default: the customer's currency
    "invoices": frozenset({"applies_to"}),
    "payments": frozenset({"invoice_number", "status"}),
    "fx-rates": frozenset(),
    "orders": frozenset({"status"}),
    "contacts": frozenset({"role", "phone", "dunning", "cc"}),
}
