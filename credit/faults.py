"""Crash points for the fault-injection suite.

``CREDIT_CRASH_AT=<checkpoint>[:<n>]`` (in a process's environment) kills that process with
SIGKILL the ``n``-th time (default 1) it reaches ``checkpoint(<checkpoint>)``: no ``finally``, no
rollback, no flush, exactly as a power cut or the OOM killer would stop it. Unset (always, outside
the tests) a checkpoint costs one dictionary lookup.

The checkpoints, in the order a collections run reaches them:

- ``collections.selected``: the customers to dun are chosen, nothing written yet;
- ``collections.decided``: a batch is decided and its notices rendered, not committed;
- ``collections.customer``: inside a batch, after each customer (``:n`` picks the customer);
- ``collections.hold``: a credit line is being put on hold, in the batch's open transaction;
- ``collections.committed``: a batch's steps, audit events and notices are committed;
- ``delivery.accepted``: the mail server accepted a message, not yet marked sent;
- ``approval.decided``: `credit approve`/`reject` committed the decision, and has not yet
  published or sent what follows (the approval sweeper picks that up);
- ``followup.claimed``: a service (or a command) claimed a decision's follow-up and has not
  run its flow yet (the next service to start takes it over).
"""

from __future__ import annotations

import os
import signal
import sys
import time

_seen: dict[str, int] = {}
_stall: str | None | bool = False  # False: the environment not read yet
_target: tuple[str, int] | None | bool = False  # False: the environment not read yet


def _read() -> tuple[str, int] | None:
    spec = os.environ.get("CREDIT_CRASH_AT", "").strip()
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    return name, int(nth or 1)


def checkpoint(name: str) -> None:
    """Die here, now, if the environment asks for it (see the module's doc); or, with
    ``CREDIT_STALL_AT=<checkpoint>``, wait here (saying so on stderr) until the process is
    interrupted: how the tests press Ctrl-C in the middle of a run."""
    global _target, _stall
    if _target is False:
        _target = _read()
        _stall = os.environ.get("CREDIT_STALL_AT", "").strip() or None
    if _stall == name:
        sys.stderr.write(f"stalled at {name}\n")
        sys.stderr.flush()
        while True:
            time.sleep(1)
    target = _target
    if not isinstance(target, tuple) or target[0] != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
