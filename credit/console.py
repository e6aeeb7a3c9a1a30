"""The ``credit`` command's entry point. It imports nothing heavy itself, so that Ctrl-C while the
command is still loading ends it with one line instead of a traceback."""

from __future__ import annotations

import os
import sys

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C


def interrupted() -> None:
    """End the command after Ctrl-C: one line, exit code 130, and no traceback from anything that
    would still run while the interpreter shuts down (threads, exit handlers)."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.stderr.write(
        "interrupted: what was already committed stays (credit audit list shows it); runs and "
        "imports may be started again and take no step twice\n"
    )
    sys.stderr.flush()
    os._exit(INTERRUPTED)


def main() -> None:
    try:
        from credit import cli
    except KeyboardInterrupt:
        interrupted()
    cli.main()


if __name__ == "__main__":
    main()
