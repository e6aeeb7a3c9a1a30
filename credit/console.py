"""The ``credit`` command's entry point. It imports nothing heavy itself, so that Ctrl-C while the
command is still loading ends it with one line instead of a traceback.

It runs the command line of `credit.cli` (which never imports this module back): Ctrl-C ends a
command with one line; an error the product did not expect is written whole to the error log and
shown as one line naming that file (exit code 1)."""

from __future__ import annotations

import os
import signal
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


def _interrupted_on_signal(_signum: int, _frame: object) -> None:
    interrupted()


def after_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is what Ctrl-C became on its way up: a library may wrap it (Prefect's
    client turned it into a serialisation error). Python's own SIGINT handler stays in place:
    asyncio (Prefect's serve) stops cleanly only with it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt) or "KeyboardInterrupt" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def unexpected(exc: Exception) -> None:
    """An error the product did not expect: its traceback to the error log, one line here,
    exit code 1 (what was already committed stays)."""
    from credit.cli.output import err, report_unexpected

    path = report_unexpected(exc)
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    err.print(
        f"[bold red]error:[/] the command stopped on an unexpected error "
        f"({type(exc).__name__}: {text}); what was already committed stays. "
        f"The details are in {path}",
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(1)


def exit_now(code: int | None) -> None:
    """End a finished command without the interpreter's teardown: freeing every module and object
    took 0.2 s after any command (SQLAlchemy, pydantic) and about a second once Prefect was
    loaded. The exit handlers still run (Prefect's temporary server stops, its events and logs
    are sent, log files are closed) and the database connections are closed; when a thread that
    is not a daemon is still running, the interpreter ends as usual (it waits for that thread)."""
    import atexit
    import threading

    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()  # what the interpreter would run, in the same order
    engines = sys.modules.get("credit.db.engine")
    if engines is not None:
        engines.dispose_all()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)


def main() -> None:
    """Run the command."""
    try:
        from credit.cli import app
    except KeyboardInterrupt:
        interrupted()
    from credit.acting import acting, command_line

    try:
        with acting(command_line()):
            app()
    except KeyboardInterrupt:
        interrupted()
    except SystemExit as done:
        # Typer turns Ctrl-C into exit code 130; a command that stops on Ctrl-C as its way of
        # ending (credit serve) finished: it keeps its own exit code and last words.
        if done.code == INTERRUPTED:
            interrupted()
        if done.code is None or isinstance(done.code, int):
            exit_now(done.code)
        # Ctrl-C while the interpreter shuts down (Prefect's exit handlers): one line too.
        signal.signal(signal.SIGINT, _interrupted_on_signal)
        raise
    except Exception as exc:
        if after_ctrl_c(exc):
            interrupted()
        unexpected(exc)
    signal.signal(signal.SIGINT, _interrupted_on_signal)


if __name__ == "__main__":
    main()
