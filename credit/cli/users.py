"""`credit users`: the web workspace's accounts (add, disable, reset a password, list)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from credit.cli.output import (
    JsonOpt,
    UserOpt,
    clear_errors,
    console,
    fail,
    fmt_time,
    get_app,
    print_json,
    table,
)

app = typer.Typer(help="Who may sign in to the web workspace.", no_args_is_help=True)

StdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (audited).")]


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or asked twice without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            fail("--password-stdin: standard input is empty; give the password on its first line")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to ask the password on: give it with --password-stdin")
    first = typer.prompt("New password (12 characters or more)", hide_input=True)
    if typer.prompt("The same again", hide_input=True) != first:
        fail("the two passwords differ; nothing was changed")
    return str(first)


@app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="A person in config/approvers.yaml.")],
    *,
    by: UserOpt,
    password_stdin: StdinOpt = False,
) -> None:
    """Give a directory person an account with a first password (Argon2id-hashed)."""
    from credit.services import accounts

    a = get_app()
    with clear_errors():
        accounts.require_user_admin(a, by)
        password = _password(password_stdin)
        name = accounts.add_user(a, username=username, password=password, by=by)
    roles = ", ".join(sorted(accounts.roles_of(a, name))) or "none yet"
    console.print(f"{name} may sign in now (workspace roles: {roles})", highlight=False)


@app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="The account's username.")],
    *,
    by: UserOpt,
    reason: ReasonOpt,
) -> None:
    """Disable an account: its open sessions end at once."""
    from credit.services import accounts

    a = get_app()
    with clear_errors():
        accounts.require_user_admin(a, by)
        ended = accounts.disable_user(a, username=username, by=by, reason=reason)
    console.print(
        f"{username.strip()} is disabled ({ended} open session{'s' if ended != 1 else ''} "
        "ended); `credit users reset-password` enables it again",
        highlight=False,
    )


@app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="The account's username.")],
    *,
    by: UserOpt,
    reason: ReasonOpt = "password reset",
    password_stdin: StdinOpt = False,
) -> None:
    """Set a new password (enables a disabled account); every session of the account ends."""
    from credit.services import accounts

    a = get_app()
    with clear_errors():
        accounts.require_user_admin(a, by)
        password = _password(password_stdin)
        ended = accounts.reset_password(
            a, username=username, password=password, by=by, reason=reason
        )
    console.print(
        f"{username.strip()} has a new password ({ended} open session"
        f"{'s' if ended != 1 else ''} ended)",
        highlight=False,
    )


@app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Everyone in the directory: account, workspace roles, sign-in methods, last sign-in."""
    from credit.services import accounts

    a = get_app()
    with clear_errors():
        rows = accounts.list_users(a)
    if as_json:
        print_json(rows)
        return
    table(
        "Users",
        ["Username", "Name", "Account", "Roles", "Sign-in", "Last sign-in", "Sessions"],
        [
            [
                r["username"],
                r["name"],
                r["status"],
                ", ".join(r["roles"]) or "-",
                r["sign_in"],
                fmt_time(r["last_sign_in_at"].isoformat()) if r["last_sign_in_at"] else "-",
                str(r["sessions"]),
            ]
            for r in rows
        ],
    )
