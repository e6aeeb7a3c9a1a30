"""Stopping a sender without sending a message twice.

A process asked to stop (:func:`ask_to_stop`, from a signal handler: a collections helper whose
run's process died) ends at once, unless a message is between being handed to the transport and
the commit that marks it sent: then it ends right after that commit. Ended in between, it would
leave the message claimed and not marked, and the next sender would send it again when the
claim's lease ran out (with the same Message-ID, but the recipient gets it twice).
"""

from __future__ import annotations

import os

_handing_over = False  # messages handed to the transport whose marks are not committed yet
_asked = False  # asked to stop meanwhile


def ask_to_stop() -> None:
    """End the process now, or as soon as the messages on their way are marked sent."""
    global _asked
    if not _handing_over:
        os._exit(1)
    _asked = True


def asked() -> bool:
    """Whether the process was asked to stop (and waits for a commit to end)."""
    return _asked


def handing_over() -> None:
    """Messages go to the transport now; their marks are committed later."""
    global _handing_over
    _handing_over = True


def handed_over() -> None:
    """The marks of what was handed over are committed (or rolled back: the claims' leases then
    protect them); end here if asked to stop meanwhile."""
    global _handing_over
    _handing_over = False
    if _asked:
        os._exit(1)
