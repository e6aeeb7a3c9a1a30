"""CSV imports: all-or-nothing, every error located as ``FILE:ROW: column C: value 'V': REASON``.

The parts: :mod:`~credit.importers.rows` (reading the file and typed, located parsing of its
fields), :mod:`~credit.importers.lookups` (what the planners share), one planner per kind
(:mod:`~credit.importers.customers`, :mod:`~credit.importers.financials`,
:mod:`~credit.importers.invoices`, :mod:`~credit.importers.orders`,
:mod:`~credit.importers.payments`, :mod:`~credit.importers.fx_rates`) and
:mod:`~credit.importers.core` (compare and write). Every public name is importable from
``credit.importers``; :func:`credit.services.import_data` is the one transaction path.
"""

from __future__ import annotations

from credit.domain.columns import COLUMNS, KINDS, OPTIONAL
from credit.importers.core import (
    NOT_COLUMNS,
    SPECS,
    Change,
    Lookup,
    Planner,
    Spec,
    differences,
    import_file,
    lookup_by,
)
from credit.importers.customers import plan_customers
from credit.importers.financials import plan_financials, statements_lookup
from credit.importers.fx_rates import plan_fx_rates, rates_lookup
from credit.importers.invoices import plan_invoices
from credit.importers.lookups import (
    KEEP_STORED,
    check_customer_totals,
    customer_ref,
    customers_by_code,
    dupe_check,
    select_in,
    shown,
    stored_totals,
)
from credit.importers.orders import OrderStatus, plan_orders
from credit.importers.payments import PaymentStatus, plan_payments
from credit.importers.rows import (
    CODE,
    EARLIEST_REGISTRATION,
    MAX_FILE_BYTES,
    ImportErrorItem,
    ImportFailed,
    ImportPlan,
    ImportSummary,
    Row,
    Values,
    read_rows,
)

__all__ = [
    "CODE",
    "COLUMNS",
    "EARLIEST_REGISTRATION",
    "KEEP_STORED",
    "KINDS",
    "MAX_FILE_BYTES",
    "NOT_COLUMNS",
    "OPTIONAL",
    "SPECS",
    "Change",
    "ImportErrorItem",
    "ImportFailed",
    "ImportPlan",
    "ImportSummary",
    "Lookup",
    "OrderStatus",
    "PaymentStatus",
    "Planner",
    "Row",
    "Spec",
    "Values",
    "check_customer_totals",
    "customer_ref",
    "customers_by_code",
    "differences",
    "dupe_check",
    "import_file",
    "lookup_by",
    "plan_customers",
    "plan_financials",
    "plan_fx_rates",
    "plan_invoices",
    "plan_orders",
    "plan_payments",
    "rates_lookup",
    "read_rows",
    "select_in",
    "shown",
    "statements_lookup",
    "stored_totals",
]
