"""What every part of notices shares: the error, the kinds that go to customers, the channels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any


class NoticeError(RuntimeError):
    """A notice cannot be rendered (missing template or variable): nothing is queued or sent."""


# Notices whose recipient is the customer. They print the company's name, address, contact and
# payment details, so they are neither rendered nor sent while those are not configured. The
# templates the policy's dunning levels name count too (see :func:`customer_kinds`).
CUSTOMER_KINDS = frozenset(
    {
        "dunning_courtesy",
        "dunning_reminder",
        "dunning_second_notice",
        "dunning_final_demand",
        "dunning_credit_hold",
        "dunning_handover",
        "credit_hold_released",
        "terms_letter",
        "temporary_limit_ended",
    }
)
# A notice of a customer kind whose copy goes to the company's own people (credit_hold_released
# has a customer and an internal message): its key ends so, its context says audience "internal".
INTERNAL_KEY_SUFFIX = ":internal"


def customer_kinds(policy_templates: Iterable[str] = ()) -> frozenset[str]:
    """The kinds that go to customers: the shipped ones and the dunning levels' templates."""
    return CUSTOMER_KINDS | frozenset(policy_templates)


def is_customer_facing(
    kind: str, context: dict[str, Any] | None = None, kinds: frozenset[str] = CUSTOMER_KINDS
) -> bool:
    """Whether a notice of ``kind`` (with this context) goes to the customer."""
    return kind in kinds and (context or {}).get("audience", "customer") != "internal"


def company_refusal(missing: Sequence[str]) -> str:
    """Why a customer notice cannot be rendered or sent: the company settings it lacks."""
    return (
        "customer notices print the company's name, address, contact and payment details, and "
        f"these are not configured: {'; '.join(missing)}. Set them in .env or the environment "
        "(see .env.example)"
    )


class Channel(StrEnum):
    """How a notice reaches its recipient: e-mail, or a printed letter from the post room."""

    EMAIL = "email"
    LETTER = "letter"
