"""How the person behind an action acted: set by the entry point (the web session with its
sign-in method, or the command with the operating-system login that ran it), read by the audit
trail for every event recorded meanwhile. Imports nothing, so a command sets it before it loads
anything heavy."""

from __future__ import annotations

import contextvars
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

_VIA: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "credit_acting_via", default=None
)


@contextmanager
def acting(via: Mapping[str, Any] | None) -> Iterator[None]:
    """Every audit event recorded in the block carries ``via``."""
    token = _VIA.set(dict(via) if via is not None else None)
    try:
        yield
    finally:
        _VIA.reset(token)


def current() -> dict[str, Any] | None:
    return _VIA.get()


def os_login() -> str:
    """The operating-system login running this process (its uid where no name is known)."""
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def command_line() -> dict[str, Any]:
    """What a command's audit events say of how it was run: the command (its first two words)
    and the operating-system login and machine that ran it."""
    words = [w for w in sys.argv[1:] if not w.startswith("-")][:2]
    return {
        "channel": "cli",
        "command": " ".join(words),
        "os_user": os_login(),
        "host": socket.gethostname()[:120],
    }
