"""Notices: render (Jinja, StrictUndefined, autoescape) -> outbox row -> delivery (file | SMTP).

A notice is committed to the outbox under a unique idempotency key, inside the same transaction as
the decision it reports, before any delivery is attempted. Delivery claims rows one at a time with
a lease, sends them, and marks them sent; a crash between "accepted" and "marked" can repeat a send
but with the same Message-ID, so mail systems drop the copy.

The parts: :mod:`~credit.notices.base` (the error, customer kinds, channels),
:mod:`~credit.notices.formats` (the templates' filters), :mod:`~credit.notices.rendering` (the
renderer), :mod:`~credit.notices.outbox` (enqueue, batched), :mod:`~credit.notices.message` (the
RFC 5322 bytes), :mod:`~credit.notices.transports` (file, SMTP, letters),
:mod:`~credit.notices.claims` (leases, marks, waiting notices) and
:mod:`~credit.notices.delivery` (the sweep, retries and backoff). Every public name is importable
from ``credit.notices`` and loaded on first use (:mod:`credit.lazy`): a command that only reads
does not load Jinja and Babel.
"""

# ruff: noqa: F401  (these imports are the package's public names)

from __future__ import annotations

from typing import TYPE_CHECKING

from credit.lazy import package

if TYPE_CHECKING:
    from credit.audit import jsonable
    from credit.db.models import NoticeStatus, utcnow
    from credit.notices.base import (
        CUSTOMER_KINDS,
        INTERNAL_KEY_SUFFIX,
        Channel,
        NoticeError,
        company_refusal,
        customer_kinds,
        is_customer_facing,
    )
    from credit.notices.claims import (
        INTERRUPTED,
        LEASE,
        Outgoing,
        claim,
        due_notices,
        held_back,
        mark,
        release_waiting,
        waiting,
        waiting_condition,
    )
    from credit.notices.delivery import (
        CLAIM,
        GIVE_UP_AFTER,
        MAX_ATTEMPTS,
        RETRY_BASE,
        DeliveryOptions,
        DeliveryReport,
        Sender,
        SendOutcome,
        deliver_pending,
        fail,
        permanent,
        send_one,
        server_unavailable,
    )
    from credit.notices.formats import (
        babel_locale,
        date_filter,
        install_filters,
        local_time,
        money_filter,
        parse_moment,
        plural_filter,
    )
    from credit.notices.message import build_message, header_value, message_id
    from credit.notices.outbox import BATCH_BUFFER, OutboxEntry, batched, enqueue, exists
    from credit.notices.rendering import NoticeRenderer, Rendered
    from credit.notices.transports import (
        FileTransport,
        LetterWriter,
        SmtpTransport,
        Transport,
        transport_for,
    )


# Each name's module (read from the ``TYPE_CHECKING`` imports above), loaded on first use.
_where, __getattr__, __dir__ = package(globals(), __file__)


__all__ = [
    "BATCH_BUFFER",
    "CLAIM",
    "CUSTOMER_KINDS",
    "GIVE_UP_AFTER",
    "INTERNAL_KEY_SUFFIX",
    "INTERRUPTED",
    "LEASE",
    "MAX_ATTEMPTS",
    "RETRY_BASE",
    "Channel",
    "DeliveryOptions",
    "DeliveryReport",
    "FileTransport",
    "LetterWriter",
    "NoticeError",
    "NoticeRenderer",
    "NoticeStatus",
    "OutboxEntry",
    "Outgoing",
    "Rendered",
    "SendOutcome",
    "Sender",
    "SmtpTransport",
    "Transport",
    "babel_locale",
    "batched",
    "build_message",
    "claim",
    "company_refusal",
    "customer_kinds",
    "date_filter",
    "deliver_pending",
    "due_notices",
    "enqueue",
    "exists",
    "fail",
    "header_value",
    "held_back",
    "install_filters",
    "is_customer_facing",
    "jsonable",
    "local_time",
    "mark",
    "message_id",
    "parse_moment",
    "money_filter",
    "permanent",
    "plural_filter",
    "release_waiting",
    "send_one",
    "server_unavailable",
    "transport_for",
    "utcnow",
    "waiting",
    "waiting_condition",
]
