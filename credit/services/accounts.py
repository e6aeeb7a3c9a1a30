"""Web accounts and sessions: who may sign in, with what, for how long.

An account belongs to a person in the directory; its password is kept as an Argon2id hash
(``argon2-cffi``: the reference implementation's binding, with its current recommended
parameters and rehash-on-login). A session is a random token in the browser; the database keeps
only its SHA-256, so a copy of the database signs nobody in. Password sign-ins are throttled per
account and per address. Everything that changes an account or a session is audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.models import SignInAttempt, UserAccount, WebSession, utcnow
from credit.domain import workspace
from credit.domain.policy import PolicyBody
from credit.services.common import ServiceError, known_person, required_text

_HASHER = PasswordHasher()
# verified against for unknown usernames, so a wrong name takes as long as a wrong password
_DUMMY = _HASHER.hash("an account that does not exist")

ACCOUNT_FAILURES = 5  # failed password sign-ins of one account within the window
ADDRESS_FAILURES = 20  # failed password sign-ins from one address within the window
WINDOW = timedelta(minutes=15)
_TOUCH = timedelta(seconds=30)  # last_seen is written at most this often


class SignInRefused(ServiceError):
    """A sign-in that did not succeed; ``throttled`` when it was not even checked."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


@dataclass(frozen=True)
class SignedIn:
    token: str  # goes into the cookie, never into the database
    csrf: str
    username: str


@dataclass(frozen=True)
class SessionInfo:
    id: str
    username: str
    method: str
    csrf: str
    created_at: datetime


class AccountRow(TypedDict):
    username: str
    name: str
    email: str
    roles: list[str]
    status: str  # active | disabled | no account
    sign_in: str  # password | single sign-on | password, single sign-on | -
    last_sign_in_at: datetime | None
    sessions: int


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def roles_of(app: App, username: str, policy: PolicyBody | None = None) -> frozenset[str]:
    """The person's workspace roles under the published policy (or ``policy``; empty for
    someone unknown)."""
    person = app.directory.get(username)
    if person is None:
        return frozenset()
    if policy is None:
        with app.uow(read_only=True) as uow:
            _, policy = app.published_policy(uow.session)
    return workspace.workspace_roles(
        person.roles,
        approval_roles=[level.role for level in policy.authority.levels],
        committee_roles=policy.policy_change.approver_roles,
    )


USER_ADMINS = frozenset({workspace.OPERATOR, workspace.MANAGER})


def require_user_admin(app: App, username: str) -> None:
    """Accounts are managed by operators and credit managers only."""
    person = known_person(app, username)
    if not roles_of(app, person.username) & USER_ADMINS:
        raise ServiceError(
            f"{person.username} may not manage accounts: operators and credit managers do"
        )


def _checked_password(password: str, username: str) -> str:
    problem = workspace.password_problem(password, username=username)
    if problem is not None:
        raise ServiceError(problem)
    return _HASHER.hash(password)


def add_user(app: App, *, username: str, password: str, by: str) -> str:
    """An account for a directory person, with a first password."""
    person = known_person(app, username)
    hashed = _checked_password(password, person.username)
    with app.uow() as uow:
        s = uow.session
        if s.get(UserAccount, person.username) is not None:
            raise ServiceError(
                f"{person.username} has an account already: `credit users reset-password` "
                "sets a new password"
            )
        now = utcnow()
        s.add(UserAccount(username=person.username, password_hash=hashed, password_set_at=now))
        audit.record(
            s,
            actor=by,
            action="user.added",
            entity_type="user",
            entity_id=person.username,
            after={"status": "active", "sign_in": "password"},
            reason="account created",
        )
        uow.commit()
    return person.username


def _account(s: Session, username: str) -> UserAccount:
    account = s.get(UserAccount, username.strip())
    if account is None:
        raise ServiceError(f"{username.strip()!r} has no account (`credit users add` creates one)")
    return account


def _end_sessions(s: Session, username: str, reason: str) -> int:
    result = s.execute(
        update(WebSession)
        .where(col(WebSession.username) == username, col(WebSession.ended_at).is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def disable_user(app: App, *, username: str, by: str, reason: str) -> int:
    """Disable an account and end its sessions at once; the number of sessions ended."""
    why = required_text(reason, "a reason", 500)
    with app.uow() as uow:
        s = uow.session
        account = _account(s, username)
        if account.disabled_at is not None:
            raise ServiceError(f"{account.username}'s account is disabled already")
        account.disabled_at, account.disabled_reason = utcnow(), why
        ended = _end_sessions(s, account.username, "disabled")
        audit.record(
            s,
            actor=by,
            action="user.disabled",
            entity_type="user",
            entity_id=account.username,
            before={"status": "active"},
            after={"status": "disabled", "sessions_ended": ended},
            reason=why,
        )
        uow.commit()
    return ended


def reset_password(app: App, *, username: str, password: str, by: str, reason: str) -> int:
    """A new password (which enables a disabled account); every session of it ends."""
    why = required_text(reason, "a reason", 500)
    with app.uow() as uow:
        s = uow.session
        account = _account(s, username)
        account.password_hash = _checked_password(password, account.username)
        account.password_set_at = utcnow()
        was = "disabled" if account.disabled_at is not None else "active"
        account.disabled_at, account.disabled_reason = None, None
        ended = _end_sessions(s, account.username, "password reset")
        audit.record(
            s,
            actor=by,
            action="user.password_reset",
            entity_type="user",
            entity_id=account.username,
            before={"status": was},
            after={"status": "active", "sessions_ended": ended},
            reason=why,
        )
        uow.commit()
    return ended


def list_users(app: App, *, now: datetime | None = None) -> list[AccountRow]:
    """Everyone in the directory, with their account (or none) and open sessions."""
    now = now or utcnow()
    with app.uow(read_only=True) as uow:
        s = uow.session
        accounts = {a.username: a for a in s.exec(select(UserAccount))}
        _, policy = app.published_policy(s)
        open_sessions = dict(
            s.execute(
                select(WebSession.username, func.count())
                .where(
                    col(WebSession.ended_at).is_(None),
                    col(WebSession.last_seen_at)
                    >= now - timedelta(minutes=app.settings.session_idle_minutes),
                )
                .group_by(col(WebSession.username))
            ).all()
        )
    rows: list[AccountRow] = []
    for person in app.directory.approvers:
        account = accounts.get(person.username)
        methods = []
        if account is not None and account.password_hash:
            methods.append("password")
        if account is not None and account.oidc_subject:
            methods.append("single sign-on")
        status = (
            "no account"
            if account is None
            else "disabled"
            if account.disabled_at is not None
            else "active"
        )
        rows.append(
            {
                "username": person.username,
                "name": person.name,
                "email": str(person.email),
                "roles": sorted(roles_of(app, person.username, policy)),
                "status": status,
                "sign_in": ", ".join(methods) or "-",
                "last_sign_in_at": account.last_sign_in_at if account else None,
                "sessions": int(open_sessions.get(person.username, 0)),
            }
        )
    return rows


def _failures(s: Session, *, since: datetime, username: str | None, client: str | None) -> int:
    q = select(func.count()).where(
        col(SignInAttempt.at) >= since,
        col(SignInAttempt.ok).is_(False),
        col(SignInAttempt.throttled).is_(False),
    )
    if username is not None:
        q = q.where(col(SignInAttempt.username) == username)
    if client is not None:
        q = q.where(col(SignInAttempt.client) == client)
    return int(s.exec(q).one())


def _throttle(s: Session, *, username: str, client: str, now: datetime) -> str | None:
    since = now - WINDOW
    if _failures(s, since=since, username=username, client=None) >= ACCOUNT_FAILURES:
        return (
            "Too many failed sign-ins for this account. Wait 15 minutes, or ask an operator "
            "to reset the password."
        )
    if _failures(s, since=since, username=None, client=client) >= ADDRESS_FAILURES:
        return "Too many failed sign-ins from this address. Wait 15 minutes and try again."
    return None


def _record_attempt(app: App, *, username: str, client: str, ok: bool, throttled: bool) -> None:
    with app.uow() as uow:
        s = uow.session
        s.add(SignInAttempt(username=username, client=client, ok=ok, throttled=throttled))
        if not ok and not throttled:
            since = utcnow() - WINDOW
            if _failures(s, since=since, username=username, client=None) + 1 == ACCOUNT_FAILURES:
                audit.record(
                    s,
                    actor=username if app.directory.get(username) else "unknown",
                    action="sign_in.throttled",
                    entity_type="user",
                    entity_id=username,
                    after={"client": client, "failures": ACCOUNT_FAILURES},
                    reason=f"{ACCOUNT_FAILURES} failed sign-ins within 15 minutes",
                )
        uow.commit()


def sign_in(app: App, *, username: str, password: str, client: str) -> SignedIn:
    """Check a password sign-in and open a session. Refusals say nothing about which part was
    wrong; throttled attempts are refused before any password is checked."""
    name = username.strip()[:60]
    client = client[:64]
    with app.uow(read_only=True) as uow:
        throttled = _throttle(uow.session, username=name, client=client, now=utcnow())
        account = uow.session.get(UserAccount, name)
    if throttled is not None:
        _record_attempt(app, username=name, client=client, ok=False, throttled=True)
        raise SignInRefused(throttled, throttled=True)
    try:
        _HASHER.verify(
            account.password_hash if account and account.password_hash else _DUMMY, password
        )
        ok = account is not None and account.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and (account is None or account.disabled_at is not None or not app.directory.get(name)):
        ok = False
    _record_attempt(app, username=name, client=client, ok=ok, throttled=False)
    if not ok:
        raise SignInRefused("The username or password is not right.")
    assert account is not None and account.password_hash is not None
    rehash = _HASHER.hash(password) if _HASHER.check_needs_rehash(account.password_hash) else None
    return open_session(app, username=name, method="password", client=client, rehash=rehash)


def open_session(
    app: App, *, username: str, method: str, client: str, rehash: str | None = None
) -> SignedIn:
    """A new session (a new token: a session id is never carried over a sign-in)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with app.uow() as uow:
        s = uow.session
        account = _account(s, username)
        if account.disabled_at is not None:
            raise SignInRefused("This account is disabled.")
        account.last_sign_in_at = utcnow()
        if rehash is not None:
            account.password_hash = rehash
        sid = _digest(token)
        s.add(WebSession(id=sid, username=username, method=method, csrf=csrf, client=client))
        with audit.acting({"channel": "web", "method": method, "session": sid[:12]}):
            audit.record(
                s,
                actor=username,
                action="session.signed_in",
                entity_type="user",
                entity_id=username,
                after={"method": method, "client": client},
            )
        uow.commit()
    return SignedIn(token=token, csrf=csrf, username=username)


def session_of(app: App, token: str, *, now: datetime | None = None) -> SessionInfo | None:
    """The live session a cookie's token names, or None (unknown, ended, timed out, or its
    account disabled or gone from the directory). A timed-out session is ended on the way."""
    now = now or utcnow()
    sid = _digest(token)
    with app.uow(read_only=True) as uow:
        row = uow.session.get(WebSession, sid)
        if row is None or row.ended_at is not None:
            return None
        info = SessionInfo(sid, row.username, row.method, row.csrf, _aware(row.created_at))
        seen = _aware(row.last_seen_at)
    idle = now - seen > timedelta(minutes=app.settings.session_idle_minutes)
    old = now - info.created_at > timedelta(hours=app.settings.session_max_hours)
    gone = app.directory.get(info.username) is None
    if idle or old or gone:
        _end(app, sid, "idle" if idle else "expired" if old else "left directory")
        return None
    if now - seen > _TOUCH:
        with app.uow() as uow:
            uow.session.execute(
                update(WebSession)
                .where(col(WebSession.id) == sid, col(WebSession.ended_at).is_(None))
                .values(last_seen_at=now)
            )
            uow.commit()
    return info


def _end(app: App, sid: str, reason: str) -> bool:
    with app.uow() as uow:
        result = uow.session.execute(
            update(WebSession)
            .where(col(WebSession.id) == sid, col(WebSession.ended_at).is_(None))
            .values(ended_at=utcnow(), ended_reason=reason)
        )
        uow.commit()
    return bool(getattr(result, "rowcount", 0))


def sign_out(app: App, *, session: SessionInfo) -> None:
    """End the session on the server: its cookie signs nobody in any more."""
    if _end(app, session.id, "signed out"):
        with app.uow() as uow:
            audit.record(
                uow.session,
                actor=session.username,
                action="session.signed_out",
                entity_type="user",
                entity_id=session.username,
            )
            uow.commit()


def link_oidc(app: App, *, claim_value: str, subject: str) -> str:
    """The directory person a single sign-on identity names (by email or username, per
    CREDIT_OIDC_CLAIM), linking the provider's subject to their account on first use."""
    value = claim_value.strip().lower()
    person = next(
        (p for p in app.directory.approvers if value in (p.username.lower(), str(p.email).lower())),
        None,
    )
    if person is None:
        raise SignInRefused(
            f"The identity provider signed in {claim_value!r}, who is not in the directory."
        )
    with app.uow() as uow:
        s = uow.session
        linked = s.exec(select(UserAccount).where(col(UserAccount.oidc_subject) == subject)).first()
        if linked is not None and linked.username != person.username:
            raise SignInRefused("This single sign-on identity belongs to another account.")
        account = s.get(UserAccount, person.username)
        if account is None:
            account = UserAccount(username=person.username, oidc_subject=subject)
            s.add(account)
            audit.record(
                s,
                actor=person.username,
                action="user.added",
                entity_type="user",
                entity_id=person.username,
                after={"status": "active", "sign_in": "single sign-on"},
                reason="first single sign-on",
            )
        elif account.oidc_subject is None:
            account.oidc_subject = subject
        elif account.oidc_subject != subject:
            raise SignInRefused("This account is linked to another single sign-on identity.")
        uow.commit()
    return person.username
