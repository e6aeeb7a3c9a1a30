"""The things approved through the chain; importing this package registers each of them."""

from credit.services.approval_chain.subjects import (
    credit_request,
    order_release,
    policy_version,
    write_off,
)

__all__ = ["credit_request", "order_release", "policy_version", "write_off"]
